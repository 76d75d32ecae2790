//! Lambda function `analytics-retention`: GET /api/analytics/retention. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("analytics-retention") }).await
}
