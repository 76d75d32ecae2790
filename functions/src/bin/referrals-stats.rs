//! Lambda function `referrals-stats`: GET /api/referrals/stats.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::referrals::STATS).await
}
