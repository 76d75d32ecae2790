//! Lambda function `auth-register`: POST /api/auth/register. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("auth-register") }).await
}
