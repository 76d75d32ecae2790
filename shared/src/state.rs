//! What every handler may use: the clients, pools and settings built once per process.

use std::sync::Arc;

use crate::auth::{Hasher, Revocations, Tokens};
use crate::aws::Aws;
use crate::cache::Cache;
use crate::config::Config;
use crate::db::Db;
use crate::email::{EmailWorker, FeedbackHandler, Links};
use crate::events::export::{Exporter, Firehose};
use crate::idempotency::Idempotency;
use crate::metrics::Metrics;
use crate::notifications::NotificationWorker;
use crate::queue::Queue;
use crate::scheduler::Scheduler;
use crate::secrets::SecretStore;
use crate::uses::Resource;

/// What every handler may use, built once per process. Every extractor of every request
/// clones it, so a clone is one reference count: cloned field by field it copied the queue
/// URLs and counted a dozen references (6 % of the cached user list's time in a profile).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The clients, pools and settings inside [`AppState`].
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub cache: Cache,
    pub tokens: Arc<Tokens>,
    pub revocations: Arc<Revocations>,
    pub hasher: Hasher,
    pub aws: Aws,
    pub queues: Queues,
    pub metrics: Arc<Metrics>,
    /// Secrets read at run time from Secrets Manager (cached for `SECRETS_CACHE_SECONDS`).
    pub secrets: Arc<SecretStore>,
    /// This process's few seconds of memory of experiments, for the assignment path…
    pub experiments: Arc<crate::cache::Local<Arc<crate::experiments::Experiment>>>,
    /// …and of the users whose exposure it has recorded (`experiment:user`), who then cost
    /// no statement when they ask again.
    pub exposed: Arc<crate::cache::Local<()>>,
    /// …and of the users whose `last_active_at` it moved in the last five minutes, which a
    /// statement storing their events then leaves alone.
    pub active: Arc<crate::cache::Local<()>>,
}

#[derive(Clone)]
pub struct Queues {
    pub email: Queue,
    pub notification: Queue,
    pub webhook: Queue,
}

impl AppState {
    /// Builds clients and pools without opening a connection, so a Lambda's init does no I/O.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let aws = Aws::new(&config).await;
        Self::with_aws(config, aws)
    }

    /// As [`AppState::new`], in a Lambda function: AWS credentials from the environment.
    pub fn in_lambda(config: Config) -> anyhow::Result<Self> {
        let aws = Aws::in_lambda(&config);
        Self::with_aws(config, aws)
    }

    fn with_aws(config: Config, aws: Aws) -> anyhow::Result<Self> {
        let metrics = Arc::new(if config.metrics_emf {
            Metrics::new(&config.metrics_namespace).with_service(&config.metrics_service)
        } else {
            Metrics::without_emf(&config.metrics_namespace)
        });
        Self::build(config, metrics, aws)
    }

    /// As [`AppState::new`], recording metrics into `metrics`.
    pub async fn with_metrics(config: Config, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let aws = Aws::new(&config).await;
        Self::build(config, metrics, aws)
    }

    fn build(config: Config, metrics: Arc<Metrics>, aws: Aws) -> anyhow::Result<Self> {
        let secrets = Arc::new(SecretStore::new(aws.secrets.clone(), config.secrets_cache_ttl));
        let cache = Cache::new(&config, secrets.clone())?;
        let tokens = Tokens::new(&config, secrets.clone());
        Ok(AppState(Arc::new(Services {
            db: Db::with_secrets(&config, secrets.clone())?,
            secrets,
            revocations: Arc::new(Revocations::new(cache.clone(), tokens.access_ttl())),
            hasher: Hasher::new(&config),
            cache,
            tokens: Arc::new(tokens),
            queues: Queues {
                email: Queue::new(aws.sqs.clone(), config.email_queue_url.clone(), Resource::EmailQueue),
                notification: Queue::new(
                    aws.sqs.clone(),
                    config.notification_queue_url.clone(),
                    Resource::NotificationQueue,
                ),
                webhook: Queue::new(aws.sqs.clone(), config.webhook_queue_url.clone(), Resource::WebhookQueue),
            },
            aws,
            metrics,
            experiments: Arc::new(crate::cache::Local::new(config.experiment_cache_ttl, 1024)),
            exposed: Arc::new(crate::cache::Local::new(std::time::Duration::from_secs(600), 100_000)),
            active: Arc::new(crate::cache::Local::new(std::time::Duration::from_secs(300), 100_000)),
            config: Arc::new(config),
        })))
    }

    pub fn idempotency(&self) -> Idempotency {
        Idempotency::new(self.aws.dynamodb(), self.config.idempotency_table.clone())
    }

    pub fn email_worker(&self) -> EmailWorker {
        EmailWorker {
            ses: self.aws.ses(),
            db: self.db.clone(),
            tokens: self.tokens.clone(),
            api_base_url: self.config.api_base_url.clone(),
            idempotency: self.idempotency(),
            from: self.config.email_from.clone(),
            configuration_set: self.config.ses_configuration_set.clone(),
            links: Links { app_base_url: self.config.app_base_url.clone() },
            concurrency: self.config.worker_concurrency,
            metrics: self.metrics.clone(),
            pace: crate::email::SendPace { cache: self.cache.clone(), per_second: self.config.ses_max_send_rate },
        }
    }

    pub fn notification_worker(&self) -> NotificationWorker {
        NotificationWorker {
            db: self.db.clone(),
            email_queue: self.queues.email.clone(),
            idempotency: self.idempotency(),
            concurrency: self.config.worker_concurrency,
            metrics: self.metrics.clone(),
        }
    }

    pub fn ses_feedback(&self) -> FeedbackHandler {
        FeedbackHandler { db: self.db.clone() }
    }

    /// Sends the outbox's rows: right after a commit, and as the relay.
    pub fn relay(&self) -> crate::outbox::Relay {
        crate::outbox::Relay {
            db: self.db.clone(),
            email: self.queues.email.clone(),
            notification: self.queues.notification.clone(),
            webhook: self.queues.webhook.clone(),
        }
    }

    pub fn webhook_worker(&self) -> crate::webhooks::WebhookWorker {
        crate::webhooks::WebhookWorker {
            db: self.db.clone(),
            local: self.config.local,
            concurrency: self.config.worker_concurrency,
            metrics: self.metrics.clone(),
        }
    }

    /// The events archive, when a bucket is configured: where erasures are applied.
    pub fn archive(&self) -> Option<crate::privacy::Archive> {
        self.config.events_archive_bucket.clone().map(|bucket| crate::privacy::Archive {
            client: self.aws.s3(),
            bucket,
            in_flight: std::time::Duration::from_secs(15 * 60),
            page: 1000,
        })
    }

    /// Where people's full exports go, when a bucket is configured.
    pub fn exports(&self) -> Option<crate::privacy::Exports> {
        self.config.exports_bucket.clone().map(|bucket| crate::privacy::Exports {
            client: self.aws.s3(),
            bucket,
            api_base_url: self.config.api_base_url.clone(),
        })
    }

    pub fn scheduler(&self) -> Scheduler {
        Scheduler {
            outbox: self.relay(),
            db: self.db.clone(),
            notification_queue: self.queues.notification.clone(),
            webhook_queue: self.queues.webhook.clone(),
            events_export: self.config.events_firehose_stream.clone().map(|stream| Exporter {
                db: self.db.clone(),
                sink: Firehose { client: self.aws.firehose(), stream },
                page: 5000,
                record_bytes: crate::events::export::MAX_RECORD_BYTES,
            }),
            archive: self.archive(),
            exports: self.exports(),
            events_retention_days: self.config.events_retention_days,
            pii_retention_days: self.config.pii_retention_days,
            metrics: self.metrics.clone(),
        }
    }
}
