//! Lambda function `admin-webhooks-delete`: DELETE /api/admin/webhooks/{id}. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-webhooks-delete") }).await
}
