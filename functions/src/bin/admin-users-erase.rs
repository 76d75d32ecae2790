//! Lambda function `admin-users-erase`: POST /api/admin/users/{id}/erase. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-users-erase") }).await
}
