//! Lambda function `experiments-create`: POST /api/experiments.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::experiments::CREATE).await
}
