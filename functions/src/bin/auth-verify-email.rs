//! Lambda function `auth-verify-email`: POST /api/auth/verify-email.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::auth::VERIFY_EMAIL.served() }).await
}
