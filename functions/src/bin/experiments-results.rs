//! Lambda function `experiments-results`: GET /api/experiments/{id}/results. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("experiments-results") }).await
}
