//! Lambda function `experiments-update`: PATCH /api/experiments/{id}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::experiments::UPDATE.served() }).await
}
