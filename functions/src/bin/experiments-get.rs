//! Lambda function `experiments-get`: GET /api/experiments/{id}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::experiments::GET).await
}
