//! Lambda function `notifications-list`: GET /api/notifications.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::notifications::LIST).await
}
