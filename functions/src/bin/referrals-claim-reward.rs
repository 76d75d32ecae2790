//! Lambda function `referrals-claim-reward`: POST /api/referrals/claim-reward.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::referrals::CLAIM_REWARD).await
}
