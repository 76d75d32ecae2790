//! Lambda function `notifications-send`: POST /api/notifications/send.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::notifications::SEND.served() }).await
}
