//! Lambda function `notifications-mark-read`: PUT /api/notifications/{id}/read.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::notifications::MARK_READ.served() }).await
}
