//! Lambda function `notifications-inactivity-nudge`: POST /api/notifications/inactivity-nudge/{userId}. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("notifications-inactivity-nudge") }).await
}
