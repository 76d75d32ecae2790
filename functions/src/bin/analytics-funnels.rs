//! Lambda function `analytics-funnels`: POST /api/analytics/funnels.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::analytics::FUNNELS.served() }).await
}
