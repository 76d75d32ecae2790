//! Lambda function `auth-register`: POST /api/auth/register.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::auth::REGISTER.served() }).await
}
