//! Lambda function `experiments-assignment`: GET /api/experiments/{id}/assignment.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::experiments::ASSIGNMENT.served() }).await
}
