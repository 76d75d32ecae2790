//! Lambda function `notifications-batch`: POST /api/notifications/batch.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::notifications::BATCH.served() }).await
}
