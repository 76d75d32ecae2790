//! Lambda function `users-role`: PATCH /api/users/{id}/role. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("users-role") }).await
}
