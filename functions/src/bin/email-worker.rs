//! Lambda function `email-worker`: email jobs from SQS, sent through SES.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_email_worker().await
}
