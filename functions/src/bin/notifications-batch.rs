//! Lambda function `notifications-batch`: POST /api/notifications/batch. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("notifications-batch") }).await
}
