//! Lambda function `analytics-events`: GET /api/analytics/events.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::analytics::EVENTS).await
}
