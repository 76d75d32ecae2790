//! Lambda function `users-profile-get`: GET /api/users/profile. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("users-profile-get") }).await
}
