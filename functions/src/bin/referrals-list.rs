//! Lambda function `referrals-list`: GET /api/referrals.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::referrals::LIST).await
}
