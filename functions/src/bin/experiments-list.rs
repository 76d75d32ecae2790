//! Lambda function `experiments-list`: GET /api/experiments.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::experiments::LIST.served() }).await
}
