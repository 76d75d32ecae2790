//! Lambda function `referrals-invite`: POST /api/referrals.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::referrals::INVITE.served() }).await
}
