//! Lambda function `auth-logout-all`: POST /api/auth/logout-all.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::auth::LOGOUT_ALL.served() }).await
}
