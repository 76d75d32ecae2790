//! Lambda function `notifications-unsubscribe`: POST /api/notifications/unsubscribe.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::email::UNSUBSCRIBE.served() }).await
}
