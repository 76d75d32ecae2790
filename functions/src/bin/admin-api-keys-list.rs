//! Lambda function `admin-api-keys-list`: GET /api/admin/api-keys. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-api-keys-list") }).await
}
