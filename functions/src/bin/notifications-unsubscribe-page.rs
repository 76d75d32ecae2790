//! Lambda function `notifications-unsubscribe-page`: GET /api/notifications/unsubscribe.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::email::UNSUBSCRIBE_PAGE.served() }).await
}
