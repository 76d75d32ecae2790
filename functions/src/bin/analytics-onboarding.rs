//! Lambda function `analytics-onboarding`: GET /api/analytics/onboarding.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::analytics::ONBOARDING.served() }).await
}
