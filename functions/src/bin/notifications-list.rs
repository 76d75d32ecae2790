//! Lambda function `notifications-list`: GET /api/notifications.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::notifications::LIST.served() }).await
}
