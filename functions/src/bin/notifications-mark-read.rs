//! Lambda function `notifications-mark-read`: PUT /api/notifications/{id}/read. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("notifications-mark-read") }).await
}
