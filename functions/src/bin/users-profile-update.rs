//! Lambda function `users-profile-update`: PUT /api/users/profile.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::users::PROFILE_UPDATE.served() }).await
}
