//! Lambda function `ses-feedback`: SES bounce and complaint events, through SNS.
#[tokio::main]
async fn main() -> Result<(), growstack::lambda::Error> {
    growstack::lambda::run_ses_feedback().await
}
