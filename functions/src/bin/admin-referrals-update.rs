//! Lambda function `admin-referrals-update`: PATCH /api/admin/referrals/{id}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::referrals::ADMIN_UPDATE.served() }).await
}
