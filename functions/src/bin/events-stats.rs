//! Lambda function `events-stats`: GET /api/events/stats. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("events-stats") }).await
}
