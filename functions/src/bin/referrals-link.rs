//! Lambda function `referrals-link`: GET /api/referrals/link.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::referrals::LINK.served() }).await
}
