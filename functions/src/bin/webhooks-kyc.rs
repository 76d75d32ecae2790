//! Lambda function `webhooks-kyc`: POST /api/webhooks/kyc.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::kyc::WEBHOOK.served() }).await
}
