//! Lambda function `referrals-code`: GET /api/referrals/code.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::referrals::CODE.served() }).await
}
