//! Lambda function `onboarding-step`: POST /api/onboarding/step.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::onboarding::STEP.served() }).await
}
