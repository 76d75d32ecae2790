//! Lambda function `auth-logout`: POST /api/auth/logout. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("auth-logout") }).await
}
