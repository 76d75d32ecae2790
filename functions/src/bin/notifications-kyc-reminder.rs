//! Lambda function `notifications-kyc-reminder`: POST /api/notifications/kyc-reminder/{userId}. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("notifications-kyc-reminder") }).await
}
