//! Lambda function `admin-webhooks-rotate`: POST /api/admin/webhooks/{id}/rotate-secret. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-webhooks-rotate") }).await
}
