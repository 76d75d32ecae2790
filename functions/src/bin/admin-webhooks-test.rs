//! Lambda function `admin-webhooks-test`: POST /api/admin/webhooks/{id}/test. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-webhooks-test") }).await
}
