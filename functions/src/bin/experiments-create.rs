//! Lambda function `experiments-create`: POST /api/experiments.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::experiments::CREATE.served() }).await
}
