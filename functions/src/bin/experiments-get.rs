//! Lambda function `experiments-get`: GET /api/experiments/{id}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::experiments::GET.served() }).await
}
