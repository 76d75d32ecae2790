//! Lambda function `notifications-inactivity-nudge`: POST /api/notifications/inactivity-nudge/{userId}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::notifications::INACTIVITY_NUDGE.served() }).await
}
