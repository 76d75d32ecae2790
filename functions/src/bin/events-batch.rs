//! Lambda function `events-batch`: POST /api/events/batch. Written by `growstack generate` from its declaration.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::app::served("events-batch") }).await
}
