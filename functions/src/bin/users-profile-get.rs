//! Lambda function `users-profile-get`: GET /api/users/profile.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::users::PROFILE_GET.served() }).await
}
