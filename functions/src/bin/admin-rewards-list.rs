//! Lambda function `admin-rewards-list`: GET /api/admin/rewards.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::rewards::ADMIN_LIST.served() }).await
}
