//! Lambda function `events-list`: GET /api/events.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::events::LIST.served() }).await
}
