//! Lambda function `experiments-assignment`: GET /api/experiments/{id}/assignment. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("experiments-assignment") }).await
}
