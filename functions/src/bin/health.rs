//! Lambda function `health`: GET /health.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::health::HEALTH).await
}
