//! Lambda function `referrals-stats`: GET /api/referrals/stats. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("referrals-stats") }).await
}
