//! The AWS SDK clients, built once per process without a network call.

use std::sync::{Arc, OnceLock};

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sqs::config::{Credentials, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::{Builder, ConnectorBuilder};

use crate::config::Config;

/// SQS (every function's queues) and Secrets Manager (every function's keys) are built at
/// once; the others the first time they are asked for, so that a function which never calls
/// one does not carry its code (the S3 client alone was 0.2 MB of each binary), and one that
/// does builds it once, not per request (a client's construction is not free).
#[derive(Clone)]
pub struct Aws {
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    lazy: Arc<Lazy>,
}

struct Lazy {
    shared: aws_config::SdkConfig,
    ses: OnceLock<aws_sdk_sesv2::Client>,
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
    firehose: OnceLock<aws_sdk_firehose::Client>,
    s3: OnceLock<aws_sdk_s3::Client>,
}

impl Aws {
    /// With the SDK's whole chain of credential providers (the instance's role on EC2,
    /// profiles, SSO, web identity): the server and the command line.
    pub async fn new(config: &Config) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(config.aws_region.clone()))
            .http_client(https_client());
        if let Some(endpoint) = &config.aws_endpoint_url {
            loader = loader.endpoint_url(endpoint);
            if let Some(local) = local_credentials() {
                loader = loader.credentials_provider(local);
            }
        }
        Self::from_shared(loader.load().await)
    }

    /// With the credentials Lambda puts in the environment, the only ones a function has:
    /// the rest of the chain (and the STS and SSO clients it carries) stays out of the
    /// functions' binaries.
    pub fn in_lambda(config: &Config) -> Self {
        let credentials = match config.aws_endpoint_url.as_ref().and_then(|_| local_credentials()) {
            Some(local) => SharedCredentialsProvider::new(local),
            None => SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
        };
        let mut shared = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.aws_region.clone()))
            .http_client(https_client())
            .credentials_provider(credentials);
        if let Some(endpoint) = &config.aws_endpoint_url {
            shared = shared.endpoint_url(endpoint);
        }
        Self::from_shared(shared.build())
    }

    fn from_shared(shared: aws_config::SdkConfig) -> Self {
        Aws {
            sqs: aws_sdk_sqs::Client::new(&shared),
            secrets: aws_sdk_secretsmanager::Client::new(&shared),
            lazy: Arc::new(Lazy {
                shared,
                ses: OnceLock::new(),
                dynamodb: OnceLock::new(),
                firehose: OnceLock::new(),
                s3: OnceLock::new(),
            }),
        }
    }

    pub fn ses(&self) -> aws_sdk_sesv2::Client {
        self.lazy.ses.get_or_init(|| aws_sdk_sesv2::Client::new(&self.lazy.shared)).clone()
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.lazy.dynamodb.get_or_init(|| aws_sdk_dynamodb::Client::new(&self.lazy.shared)).clone()
    }

    pub fn firehose(&self) -> aws_sdk_firehose::Client {
        self.lazy.firehose.get_or_init(|| aws_sdk_firehose::Client::new(&self.lazy.shared)).clone()
    }

    /// Path-style, which moto needs and AWS accepts.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let lazy = &self.lazy;
        lazy.s3
            .get_or_init(|| {
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&lazy.shared).force_path_style(true).build(),
                )
            })
            .clone()
    }
}

/// The SDK's default HTTPS client as the SDK builds it (its timeouts and sleep from each
/// client's settings, a proxy from the environment), on ring rather than aws-lc: rustls,
/// tokio-postgres-rustls and jsonwebtoken bring ring already, and a second crypto library was
/// 0.8 MB of every function.
fn https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// A local stand-in (moto) takes any credentials; without these the SDK would go looking for
/// real ones (and, off EC2, wait on the instance metadata service).
fn local_credentials() -> Option<Credentials> {
    std::env::var_os("AWS_ACCESS_KEY_ID").is_none().then(|| Credentials::new("testing", "testing", None, None, "local"))
}
