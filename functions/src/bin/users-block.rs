//! Lambda function `users-block`: PATCH /api/users/{id}/block. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("users-block") }).await
}
