//! Lambda function `admin-rewards-update`: PATCH /api/admin/rewards/{id}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::rewards::ADMIN_UPDATE.served() }).await
}
