//! Lambda function `notifications-send`: POST /api/notifications/send. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("notifications-send") }).await
}
