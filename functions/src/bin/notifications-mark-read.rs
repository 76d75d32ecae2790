//! Lambda function `notifications-mark-read`: PUT /api/notifications/{id}/read.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::notifications::MARK_READ).await
}
