//! Lambda function `notifications-send`: POST /api/notifications/send.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::notifications::SEND).await
}
