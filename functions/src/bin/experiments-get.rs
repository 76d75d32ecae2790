//! Lambda function `experiments-get`: GET /api/experiments/{id}. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("experiments-get") }).await
}
