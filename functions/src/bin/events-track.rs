//! Lambda function `events-track`: POST /api/events/track.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::events::TRACK.served() }).await
}
