//! Lambda function `events-batch`: POST /api/events/batch.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_http(const { growstack::events::BATCH.served() }).await
}
