//! Lambda function `users-password`: PUT /api/users/password.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::users::PASSWORD.served() }).await
}
