//! Lambda function `onboarding-step`: POST /api/onboarding/step. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("onboarding-step") }).await
}
