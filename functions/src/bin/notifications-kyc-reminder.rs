//! Lambda function `notifications-kyc-reminder`: POST /api/notifications/kyc-reminder/{userId}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::notifications::KYC_REMINDER).await
}
