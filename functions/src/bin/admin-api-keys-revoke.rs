//! Lambda function `admin-api-keys-revoke`: DELETE /api/admin/api-keys/{id}. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-api-keys-revoke") }).await
}
