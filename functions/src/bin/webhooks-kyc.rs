//! Lambda function `webhooks-kyc`: POST /api/webhooks/kyc. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("webhooks-kyc") }).await
}
