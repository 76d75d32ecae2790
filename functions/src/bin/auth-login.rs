//! Lambda function `auth-login`: POST /api/auth/login.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(&growstack::auth::LOGIN).await
}
