//! Lambda function `auth-resend-verification`: POST /api/auth/resend-verification.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::auth::RESEND_VERIFICATION.served() }).await
}
