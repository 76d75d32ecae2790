//! Lambda function `users-list`: GET /api/users.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::users::LIST.served() }).await
}
