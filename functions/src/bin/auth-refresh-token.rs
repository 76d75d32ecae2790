//! Lambda function `auth-refresh-token`: POST /api/auth/refresh-token. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("auth-refresh-token") }).await
}
