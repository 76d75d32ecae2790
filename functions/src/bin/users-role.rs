//! Lambda function `users-role`: PATCH /api/users/{id}/role.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::users::ROLE.served() }).await
}
