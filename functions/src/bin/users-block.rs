//! Lambda function `users-block`: PATCH /api/users/{id}/block.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::users::BLOCK.served() }).await
}
