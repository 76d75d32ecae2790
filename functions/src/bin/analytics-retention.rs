//! Lambda function `analytics-retention`: GET /api/analytics/retention.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::analytics::RETENTION.served() }).await
}
