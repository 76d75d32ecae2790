//! Lambda function `referrals-claim-reward`: POST /api/referrals/claim-reward.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::referrals::CLAIM_REWARD.served() }).await
}
