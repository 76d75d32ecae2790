//! Lambda function `analytics-events`: GET /api/analytics/events. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("analytics-events") }).await
}
