//! Lambda function `experiments-results`: GET /api/experiments/{id}/results.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::experiments::RESULTS.served() }).await
}
