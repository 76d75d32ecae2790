//! Lambda function `onboarding-stats`: GET /api/onboarding/stats.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::onboarding::STATS.served() }).await
}
