//! Lambda function `auth-resend-verification`: POST /api/auth/resend-verification. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("auth-resend-verification") }).await
}
