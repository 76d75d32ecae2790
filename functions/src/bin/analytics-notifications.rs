//! Lambda function `analytics-notifications`: GET /api/analytics/notifications.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::analytics::NOTIFICATIONS.served() }).await
}
