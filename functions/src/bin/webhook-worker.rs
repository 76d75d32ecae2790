//! Lambda function `webhook-worker`: webhook deliveries from SQS, one signed attempt each.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_webhook_worker().await
}
