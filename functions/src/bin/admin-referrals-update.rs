//! Lambda function `admin-referrals-update`: PATCH /api/admin/referrals/{id}. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-referrals-update") }).await
}
