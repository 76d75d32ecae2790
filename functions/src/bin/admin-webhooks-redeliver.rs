//! Lambda function `admin-webhooks-redeliver`: POST /api/admin/webhooks/{id}/deliveries/{deliveryId}/redeliver. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-webhooks-redeliver") }).await
}
