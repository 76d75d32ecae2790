//! Lambda function `exports-download`: GET /api/exports/{id}. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("exports-download") }).await
}
