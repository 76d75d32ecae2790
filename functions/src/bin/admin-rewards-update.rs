//! Lambda function `admin-rewards-update`: PATCH /api/admin/rewards/{id}. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-rewards-update") }).await
}
