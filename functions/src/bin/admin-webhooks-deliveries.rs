//! Lambda function `admin-webhooks-deliveries`: GET /api/admin/webhooks/{id}/deliveries. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-webhooks-deliveries") }).await
}
