//! Lambda function `auth-logout-all`: POST /api/auth/logout-all. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("auth-logout-all") }).await
}
