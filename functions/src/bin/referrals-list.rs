//! Lambda function `referrals-list`: GET /api/referrals. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("referrals-list") }).await
}
