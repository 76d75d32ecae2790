//! Lambda function `referrals-tree`: GET /api/referrals/tree.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::referrals::TREE.served() }).await
}
