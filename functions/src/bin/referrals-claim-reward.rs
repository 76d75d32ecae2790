//! Lambda function `referrals-claim-reward`: POST /api/referrals/claim-reward. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("referrals-claim-reward") }).await
}
