//! Lambda function `referrals-list`: GET /api/referrals.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::referrals::LIST.served() }).await
}
