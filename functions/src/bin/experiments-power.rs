//! Lambda function `experiments-power`: POST /api/experiments/power. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("experiments-power") }).await
}
