//! Lambda function `auth-logout`: POST /api/auth/logout.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::auth::LOGOUT.served() }).await
}
