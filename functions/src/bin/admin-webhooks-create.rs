//! Lambda function `admin-webhooks-create`: POST /api/admin/webhooks. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-webhooks-create") }).await
}
