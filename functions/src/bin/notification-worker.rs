//! Lambda function `notification-worker`: notification jobs from SQS, stored and delivered.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_notification_worker().await
}
