//! Lambda function `health`: GET /health.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::health::HEALTH.served() }).await
}
