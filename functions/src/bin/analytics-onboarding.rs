//! Lambda function `analytics-onboarding`: GET /api/analytics/onboarding. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("analytics-onboarding") }).await
}
