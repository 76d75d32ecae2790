//! Lambda function `auth-register`: POST /api/auth/register.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::auth::REGISTER).await
}
