//! Lambda function `users-password`: PUT /api/users/password. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("users-password") }).await
}
