//! Lambda function `referrals-stats`: GET /api/referrals/stats.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::referrals::STATS.served() }).await
}
