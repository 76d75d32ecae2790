//! Lambda function `events-stats`: GET /api/events/stats.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::events::STATS.served() }).await
}
