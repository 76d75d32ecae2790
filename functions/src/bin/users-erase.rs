//! Lambda function `users-erase`: DELETE /api/users/me. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("users-erase") }).await
}
