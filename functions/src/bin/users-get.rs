//! Lambda function `users-get`: GET /api/users/{id}.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::users::GET.served() }).await
}
