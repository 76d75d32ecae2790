//! Lambda function `admin-users-export`: GET /api/admin/users/{id}/export. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("admin-users-export") }).await
}
