//! Lambda function `onboarding-time-stats`: GET /api/onboarding/time-stats.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::onboarding::TIME_STATS.served() }).await
}
