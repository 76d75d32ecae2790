//! Lambda function `analytics-events`: GET /api/analytics/events.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::analytics::EVENTS.served() }).await
}
