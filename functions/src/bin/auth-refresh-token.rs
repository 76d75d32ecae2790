//! Lambda function `auth-refresh-token`: POST /api/auth/refresh-token.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::auth::REFRESH_TOKEN.served() }).await
}
