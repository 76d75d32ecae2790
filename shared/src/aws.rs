//! The AWS SDK clients, built once per process without a network call.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sqs::config::Credentials;

use crate::config::Config;

#[derive(Clone)]
pub struct Aws {
    pub sqs: aws_sdk_sqs::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub firehose: aws_sdk_firehose::Client,
    /// Path-style, which moto needs and AWS accepts.
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Aws {
    pub async fn new(config: &Config) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.aws_region.clone()));
        if let Some(endpoint) = &config.aws_endpoint_url {
            loader = loader.endpoint_url(endpoint);
            // A local stand-in (moto) takes any credentials; without this the SDK would go
            // looking for real ones (and, off EC2, wait on the instance metadata service).
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(Credentials::new("testing", "testing", None, None, "local"));
            }
        }
        let shared = loader.load().await;
        Aws {
            sqs: aws_sdk_sqs::Client::new(&shared),
            ses: aws_sdk_sesv2::Client::new(&shared),
            dynamodb: aws_sdk_dynamodb::Client::new(&shared),
            firehose: aws_sdk_firehose::Client::new(&shared),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&shared).force_path_style(true).build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::new(&shared),
        }
    }
}
