//! Lambda function `notifications-kyc-reminder`: POST /api/notifications/kyc-reminder/{userId}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::notifications::KYC_REMINDER.served() }).await
}
