//! Lambda function `auth-login`: POST /api/auth/login.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::auth::LOGIN.served() }).await
}
