//! Lambda function `onboarding-time-stats`: GET /api/onboarding/time-stats. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("onboarding-time-stats") }).await
}
