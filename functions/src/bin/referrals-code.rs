//! Lambda function `referrals-code`: GET /api/referrals/code. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("referrals-code") }).await
}
