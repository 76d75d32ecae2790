//! Lambda function `analytics-users`: GET /api/analytics/users.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::analytics::USERS.served() }).await
}
