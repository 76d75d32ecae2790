//! Lambda function `analytics-referrals`: GET /api/analytics/referrals.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::analytics::REFERRALS.served() }).await
}
