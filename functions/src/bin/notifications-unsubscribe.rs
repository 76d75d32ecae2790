//! Lambda function `notifications-unsubscribe`: POST /api/notifications/unsubscribe. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("notifications-unsubscribe") }).await
}
