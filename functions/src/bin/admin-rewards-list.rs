//! Lambda function `admin-rewards-list`: GET /api/admin/rewards. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-rewards-list") }).await
}
