//! Lambda function `migrate`: applies pending database migrations when invoked.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_migrate().await
}
