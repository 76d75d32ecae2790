//! Lambda function `auth-verify-email`: POST /api/auth/verify-email. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("auth-verify-email") }).await
}
