//! Lambda function `scheduler`: EventBridge schedules: due notifications and the daily nudges.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_scheduler().await
}
