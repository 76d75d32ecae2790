//! Configuration, read from the environment once per process (per Lambda cold start).
//!
//! Every setting but the JWT secrets has a local default, so that `growstack serve` and the
//! tests run against the local stack with little set. The secrets must always be given,
//! except with `GROWSTACK_ENV=local`, where a missing one is made up at random (scripts/run.sh
//! keeps a generated pair in `.local/`, so tokens survive a restart).

use std::env;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use rust_decimal::Decimal;
use std::str::FromStr;

/// Secrets are kept out of `Debug` output so that logging a config never leaks them.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The Secrets Manager ids of the keys, in AWS (see [`crate::auth::token`]).
#[derive(Clone, Debug)]
pub struct ManagedKeys {
    /// The tokens' private keys: set where tokens are issued (IAM lets nothing else read it).
    pub signing: Option<String>,
    /// The tokens' public keys.
    pub public: String,
    /// The key of the links we mail.
    pub links: String,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Writer endpoint (RDS Proxy's default endpoint in AWS).
    pub database_url: Secret,
    /// A Secrets Manager secret (`{"username", "password"}`) to log in to Postgres with, read
    /// at run time; the URLs then carry no credentials.
    pub database_secret_id: Option<String>,
    /// The migration only: the application's DML-only login (`{"username", "password"}`),
    /// which migrating creates and grants.
    pub app_database_secret_id: Option<String>,
    /// Read-only endpoint; defaults to the writer.
    pub database_read_url: Secret,
    /// Connections per pool: one or two in Lambda (one request at a time), 20 on a server.
    pub database_pool_size: usize,
    pub database_connect_timeout: Duration,
    /// Extra CA certificates (PEM) to trust for Postgres TLS, beyond the web PKI.
    pub database_ca_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) to trust for Redis TLS (`rediss://`).
    pub redis_ca_file: Option<PathBuf>,
    /// Port of the server's Prometheus endpoint, kept off the public listener.
    pub metrics_port: u16,
    pub metrics_namespace: String,
    /// The `Service` dimension of every EMF metric (the stack name in AWS).
    pub metrics_service: String,
    /// Whether to write EMF lines: on in Lambda, where they are the metrics; off on the
    /// server by default, where Prometheus scrapes `/metrics` and a line per request would
    /// cost more than the request.
    pub metrics_emf: bool,
    pub redis_url: Secret,
    /// A Secrets Manager secret holding the Redis AUTH token (the whole string), read at run
    /// time; `REDIS_URL` then carries no password.
    pub redis_auth_secret_id: Option<String>,
    /// Prefixes every Redis key, so that deployments (and tests) can share one Redis.
    pub redis_key_prefix: String,
    pub cache_ttl: Duration,
    /// How long an analytics answer is served from Redis (`ANALYTICS_CACHE_SECONDS`; 0 turns
    /// the cache off).
    pub analytics_cache_ttl: Duration,
    /// How long an experiment is read from memory and from Redis on the assignment path
    /// (`EXPERIMENT_CACHE_SECONDS`; 0 reads Postgres every time): a pause reaches every
    /// process within this.
    pub experiment_cache_ttl: Duration,
    /// `GROWSTACK_ENV=local`: a development run on one machine, never a deployment.
    pub local: bool,
    /// The JWT keys from the environment (a local run, the tests)…
    pub jwt_access_secret: Option<Secret>,
    pub jwt_refresh_secret: Option<Secret>,
    /// …or from Secrets Manager (in AWS). Either is required.
    pub managed_keys: Option<ManagedKeys>,
    /// Where a phone number typed without its country code is read (`PHONE_DEFAULT_REGION`).
    pub phone_region: crate::users::PhoneRegion,
    /// How long a secret read from Secrets Manager is used before it is read again.
    pub secrets_cache_ttl: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Requests per IP per window, counted apart for register, login and refresh.
    pub auth_rate_limit_max: u32,
    pub auth_rate_limit_window: Duration,
    /// Password checks per account and client address per window (given back when right), and
    /// the failures per account, from any address, before checks on it back off.
    pub login_failures_max: u32,
    pub login_failures_window: Duration,
    /// Events one user may send a minute, every item of a batch counting.
    pub events_per_user_per_minute: u64,
    /// The longest wait between password checks on an account that has had its failures.
    pub login_backoff_max: Duration,
    /// Password hashes computed at once (each takes 12 MiB and a core for tens of ms);
    /// defaults to the cores the process may use.
    pub password_hash_concurrency: usize,
    /// How long a request waits for a hashing slot before it is answered 503.
    pub password_hash_wait: Duration,
    /// How many proxies in front of the server append to `X-Forwarded-For` (1 behind an
    /// ALB). 0 means the socket's peer address is the client.
    pub trusted_proxy_hops: usize,
    pub port: u16,
    /// Where AWS calls go instead of AWS (moto locally); the SDK's own `AWS_ENDPOINT_URL`.
    pub aws_endpoint_url: Option<String>,
    pub aws_region: String,
    pub email_queue_url: Option<String>,
    pub notification_queue_url: Option<String>,
    /// The queue of webhook deliveries (`WEBHOOK_QUEUE_URL`).
    pub webhook_queue_url: Option<String>,
    pub idempotency_table: String,
    /// The verified SES identity emails come from.
    pub email_from: String,
    pub ses_configuration_set: Option<String>,
    /// Sends per second to SES across every email worker (`SES_MAX_SEND_RATE`): the account's
    /// sending rate.
    pub ses_max_send_rate: u64,
    /// The app's web address, for links in emails.
    pub app_base_url: String,
    /// Messages a worker handles at once.
    pub worker_concurrency: usize,
    /// What the referrer gets for a completed referral, and in what currency.
    pub referral_reward_amount: Decimal,
    pub referral_reward_currency: String,
    /// What the referred user gets too (double-sided rewards); zero for none.
    pub referred_reward_amount: Decimal,
    /// Hours after a referral completes before its rewards can be claimed or paid.
    pub reward_hold_hours: i32,
    /// Invitations one user may send per day.
    pub referral_invites_per_day: i64,
    /// The secret the KYC provider signs its callbacks with; unset, the webhook refuses all.
    pub kyc_webhook_secret: Option<Secret>,
    /// The Secrets Manager secret holding it instead (read at run time, so a rotation reaches
    /// running functions within `SECRETS_CACHE_SECONDS`).
    pub kyc_webhook_secret_id: Option<String>,
    /// Where the API is reached from outside, for links in emails that the API serves
    /// (unsubscribe); defaults to `app_base_url`.
    pub api_base_url: String,
    /// A referral link is this followed by the code.
    pub referral_link_base: String,
    /// Hours within which the same address cannot be invited again by the same referrer.
    pub referral_invite_window_hours: i32,
    /// A referral scoring this or more is `failed` and never rewarded.
    pub fraud_score_threshold: i32,
    /// Requests one API key may make per minute (`API_KEY_REQUESTS_PER_MINUTE`).
    pub api_key_requests_per_minute: u64,
    /// Referred sign-ups per referrer per hour beyond which the velocity signal fires.
    pub fraud_velocity_per_hour: i64,
    /// The Firehose delivery stream events are archived through; unset, no export.
    pub events_firehose_stream: Option<String>,
    /// The bucket the stream writes to: erasures go on its list and out of its objects
    /// (privacy/archive.rs); unset, the archive is left alone.
    pub events_archive_bucket: Option<String>,
    /// Where people's full exports are written (`privacy/exports.rs`); unset, an export
    /// carries the newest 10,000 events and no more.
    pub exports_bucket: Option<String>,
    /// Days of events Postgres keeps; older monthly partitions are dropped.
    pub events_retention_days: i64,
    /// Days an event keeps the address and agent of the client that sent it
    /// (`PII_RETENTION_DAYS`, at least 8: events may arrive dated 7 days back).
    pub pii_retention_days: i64,
    /// Server only: how long one receive waits for messages (SQS long polling).
    pub queue_wait: Duration,
    /// Server only: how often due scheduled notifications are dispatched.
    pub scheduler_interval: Duration,
    /// Server only: how often the daily nudges are considered (each user gets at most one a day).
    pub nudge_interval: Duration,
    /// Server only: whether it runs the scheduled tasks at all. Any number of servers may,
    /// beside the functions: each tick is claimed in Postgres and runs once. Off for a
    /// benchmark that must not nudge its users.
    pub scheduler_enabled: bool,
    /// Server only: whether it consumes the email, notification and webhook queues
    /// (`CONSUME_QUEUES`); the EC2 stack sets it from the serverless stack's
    /// `QueueConsumers` choice, so exactly one side does.
    pub consume_queues: bool,
    /// Server only: the built console (`CONSOLE_DIR`; unset, `console/` beside the binary),
    /// served at `/console/`.
    pub console_dir: Option<PathBuf>,
}

const LOCAL_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/growstack";

/// A secret for a local run that was given none: random, so nothing printed anywhere can
/// sign a token this process accepts.
fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl Config {
    /// Serving requests takes the token keys (to sign or check tokens, and the links we
    /// mail): `serve` and every Lambda function check for them as they start, so that a
    /// missing one stops the deploy's first invocation rather than a user's request.
    pub fn require_token_keys(&self) -> anyhow::Result<()> {
        if self.managed_keys.is_none() && (self.jwt_access_secret.is_none() || self.jwt_refresh_secret.is_none()) {
            bail!(
                "no token keys: set JWT_ACCESS_SECRET and JWT_REFRESH_SECRET to random strings of at least 32 \
                 characters, or TOKEN_PUBLIC_KEYS_ID and LINK_KEY_ID to Secrets Manager secrets (or \
                 GROWSTACK_ENV=local for a run on this machine; in a second shell, `. .local/env`)"
            );
        }
        Ok(())
    }

    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|key| env::var(key).ok())
    }

    /// Reads settings through `lookup`, so tests can build a config without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let in_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let local = match get("GROWSTACK_ENV").as_deref().map(str::trim) {
            None | Some("production") => false,
            Some("local") => !in_lambda,
            Some(other) => bail!("GROWSTACK_ENV must be local or production, got {other:?}"),
        };
        let number = |key: &str, default: u64| -> anyhow::Result<u64> {
            match get(key) {
                Some(v) => v.trim().parse().with_context(|| format!("{key} must be a whole number, got {v:?}")),
                None => Ok(default),
            }
        };
        let flag = |key: &str, default: bool| -> anyhow::Result<bool> {
            match get(key).as_deref().map(str::trim) {
                Some("true" | "1") => Ok(true),
                Some("false" | "0") => Ok(false),
                Some(other) => bail!("{key} must be true or false, got {other:?}"),
                None => Ok(default),
            }
        };
        let managed_keys = match (get("TOKEN_PUBLIC_KEYS_ID"), get("LINK_KEY_ID")) {
            (Some(public), Some(links)) => Some(ManagedKeys { signing: get("TOKEN_SIGNING_KEY_ID"), public, links }),
            (None, None) if get("TOKEN_SIGNING_KEY_ID").is_none() => None,
            _ => bail!(
                "set TOKEN_PUBLIC_KEYS_ID and LINK_KEY_ID together (and TOKEN_SIGNING_KEY_ID where tokens are issued)"
            ),
        };
        let secret = |key: &str| -> anyhow::Result<Option<Secret>> {
            match get(key) {
                Some(v) if v.len() < 32 => bail!("{key} must be at least 32 characters"),
                Some(v) => Ok(Some(Secret(v))),
                None if managed_keys.is_some() => Ok(None),
                None if local => Ok(Some(Secret(random_secret()))),
                // Checked where tokens are used (`require_token_keys`): the operator commands
                // (migrate, run-task, create-admin) need none.
                None => Ok(None),
            }
        };

        // Money is parsed exactly, as a decimal with at most two places that fits numeric(10,2).
        let money = |key: &str, default: &str| -> anyhow::Result<Decimal> {
            let raw = get(key).unwrap_or_else(|| default.to_owned());
            let amount =
                Decimal::from_str(raw.trim()).with_context(|| format!("{key} must be an amount, got {raw:?}"))?;
            if amount.is_sign_negative() || amount.scale() > 2 || amount >= Decimal::from(100_000_000) {
                bail!("{key} must be between 0 and 99999999.99 with at most two decimals");
            }
            Ok(amount.round_dp(2))
        };
        let currency = || -> anyhow::Result<String> {
            let c = get("REFERRAL_REWARD_CURRENCY").unwrap_or_else(|| "NGN".to_owned());
            if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                bail!("REFERRAL_REWARD_CURRENCY must be a three-letter code like NGN");
            }
            Ok(c)
        };
        let database_url = get("DATABASE_URL").unwrap_or_else(|| LOCAL_DATABASE_URL.to_owned());
        let config = Config {
            database_read_url: Secret(get("DATABASE_READ_URL").unwrap_or_else(|| database_url.clone())),
            database_url: Secret(database_url),
            database_secret_id: get("DATABASE_SECRET_ID"),
            app_database_secret_id: get("APP_DATABASE_SECRET_ID"),
            database_pool_size: number("DATABASE_POOL_SIZE", if in_lambda { 2 } else { 20 })? as usize,
            database_connect_timeout: Duration::from_millis(number("DATABASE_CONNECT_TIMEOUT_MS", 2000)?),
            database_ca_file: get("DATABASE_CA_FILE").map(PathBuf::from),
            redis_ca_file: get("REDIS_CA_FILE").map(PathBuf::from),
            metrics_port: number("METRICS_PORT", 9464)?.try_into().context("METRICS_PORT must be a port")?,
            metrics_namespace: get("METRICS_NAMESPACE").unwrap_or_else(|| "GrowStack".to_owned()),
            metrics_service: get("METRICS_SERVICE").unwrap_or_else(|| "growstack".to_owned()),
            metrics_emf: flag("METRICS_EMF", in_lambda)?,
            redis_url: Secret(get("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())),
            redis_auth_secret_id: get("REDIS_AUTH_SECRET_ID"),
            kyc_webhook_secret_id: get("KYC_WEBHOOK_SECRET_ID"),
            redis_key_prefix: get("REDIS_KEY_PREFIX").unwrap_or_else(|| "gs:".to_owned()),
            cache_ttl: Duration::from_secs(number("CACHE_TTL_SECONDS", 60)?),
            analytics_cache_ttl: Duration::from_secs(number("ANALYTICS_CACHE_SECONDS", 60)?),
            experiment_cache_ttl: Duration::from_secs(number("EXPERIMENT_CACHE_SECONDS", 5)?),
            local,
            jwt_access_secret: secret("JWT_ACCESS_SECRET")?,
            jwt_refresh_secret: secret("JWT_REFRESH_SECRET")?,
            managed_keys: managed_keys.clone(),
            phone_region: match get("PHONE_DEFAULT_REGION") {
                Some(code) => crate::users::PhoneRegion::parse(&code).context("PHONE_DEFAULT_REGION")?,
                None => crate::users::PhoneRegion::default(),
            },
            secrets_cache_ttl: Duration::from_secs(number("SECRETS_CACHE_SECONDS", 300)?),
            access_token_ttl: Duration::from_secs(number("JWT_ACCESS_TTL_SECONDS", 3600)?),
            refresh_token_ttl: Duration::from_secs(number("JWT_REFRESH_TTL_SECONDS", 7 * 24 * 3600)?),
            auth_rate_limit_max: number("AUTH_RATE_LIMIT_MAX", 100)? as u32,
            auth_rate_limit_window: Duration::from_secs(number("AUTH_RATE_LIMIT_WINDOW_SECONDS", 900)?),
            login_failures_max: number("LOGIN_FAILURES_MAX", 10)? as u32,
            login_failures_window: Duration::from_secs(number("LOGIN_FAILURES_WINDOW_SECONDS", 900)?.max(1)),
            events_per_user_per_minute: number("EVENTS_PER_USER_PER_MINUTE", 600)?.max(1),
            login_backoff_max: Duration::from_secs(number("LOGIN_BACKOFF_MAX_SECONDS", 300)?.max(1)),
            password_hash_concurrency: number(
                "PASSWORD_HASH_CONCURRENCY",
                std::thread::available_parallelism().map_or(1, |n| n.get()) as u64,
            )?
            .max(1) as usize,
            password_hash_wait: Duration::from_millis(number("PASSWORD_HASH_WAIT_MS", 2000)?),
            trusted_proxy_hops: number("TRUSTED_PROXY_HOPS", 0)? as usize,
            port: number("PORT", 3000)?.try_into().context("PORT must be between 0 and 65535")?,
            referral_reward_amount: match money("REFERRAL_REWARD_AMOUNT", "500.00")? {
                amount if amount.is_zero() => bail!("REFERRAL_REWARD_AMOUNT must be more than 0"),
                amount => amount,
            },
            referral_reward_currency: currency()?,
            referred_reward_amount: money("REFERRED_REWARD_AMOUNT", "0")?,
            reward_hold_hours: number("REWARD_HOLD_HOURS", 0)?.min(24 * 365) as i32,
            referral_invites_per_day: number("REFERRAL_INVITES_PER_DAY", 20)? as i64,
            kyc_webhook_secret: match get("KYC_WEBHOOK_SECRET") {
                Some(v) if v.len() < 32 => bail!("KYC_WEBHOOK_SECRET must be at least 32 characters"),
                other => other.map(Secret),
            },
            api_base_url: get("API_BASE_URL")
                .or_else(|| get("APP_BASE_URL"))
                .unwrap_or_else(|| "http://localhost:3000".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            referral_link_base: get("REFERRAL_LINK_BASE").unwrap_or_else(|| {
                format!(
                    "{}/r/",
                    get("APP_BASE_URL").unwrap_or_else(|| "http://localhost:3000".to_owned()).trim_end_matches('/')
                )
            }),
            referral_invite_window_hours: number("REFERRAL_INVITE_WINDOW_HOURS", 24)?.clamp(1, 24 * 365) as i32,
            fraud_score_threshold: number("FRAUD_SCORE_THRESHOLD", 70)?.clamp(1, 100) as i32,
            fraud_velocity_per_hour: number("FRAUD_VELOCITY_PER_HOUR", 5)?.max(1) as i64,
            aws_endpoint_url: get("AWS_ENDPOINT_URL"),
            aws_region: get("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
            email_queue_url: get("EMAIL_QUEUE_URL"),
            notification_queue_url: get("NOTIFICATION_QUEUE_URL"),
            webhook_queue_url: get("WEBHOOK_QUEUE_URL"),
            idempotency_table: get("IDEMPOTENCY_TABLE").unwrap_or_else(|| "growstack-idempotency".to_owned()),
            email_from: get("EMAIL_FROM").unwrap_or_else(|| "noreply@growstack.dev".to_owned()),
            ses_configuration_set: get("SES_CONFIGURATION_SET"),
            ses_max_send_rate: number("SES_MAX_SEND_RATE", 14)?.max(1),
            app_base_url: get("APP_BASE_URL").unwrap_or_else(|| "http://localhost:3000".to_owned()),
            worker_concurrency: number("WORKER_CONCURRENCY", 8)? as usize,
            api_key_requests_per_minute: number("API_KEY_REQUESTS_PER_MINUTE", 1200)?.max(1),
            events_firehose_stream: get("EVENTS_FIREHOSE_STREAM"),
            events_archive_bucket: get("EVENTS_ARCHIVE_BUCKET"),
            exports_bucket: get("EXPORTS_BUCKET"),
            events_retention_days: match number("EVENTS_RETENTION_DAYS", 400)? {
                days if days < 30 => bail!("EVENTS_RETENTION_DAYS must be at least 30"),
                days => days as i64,
            },
            pii_retention_days: match number("PII_RETENTION_DAYS", 90)? {
                days if days < 8 => {
                    bail!("PII_RETENTION_DAYS must be at least 8 (events may arrive dated 7 days back)")
                }
                days => days as i64,
            },
            queue_wait: Duration::from_secs(number("QUEUE_WAIT_SECONDS", 20)?.min(20)),
            scheduler_interval: Duration::from_secs(number("SCHEDULER_INTERVAL_SECONDS", 60)?.max(1)),
            nudge_interval: Duration::from_secs(number("NUDGE_INTERVAL_SECONDS", 3600)?.max(1)),
            scheduler_enabled: flag("SCHEDULER_ENABLED", true)?,
            consume_queues: flag("CONSUME_QUEUES", true)?,
            console_dir: get("CONSOLE_DIR").map(PathBuf::from),
        };
        if let (Some(a), Some(r)) = (&config.jwt_access_secret, &config.jwt_refresh_secret) {
            if a.expose() == r.expose() {
                bail!("JWT_ACCESS_SECRET and JWT_REFRESH_SECRET must differ");
            }
        }
        if config.managed_keys.is_none() && (config.jwt_access_secret.is_some() != config.jwt_refresh_secret.is_some())
        {
            bail!("set both JWT_ACCESS_SECRET and JWT_REFRESH_SECRET, or neither");
        }
        if config.database_pool_size == 0
            || config.auth_rate_limit_max == 0
            || config.worker_concurrency == 0
            || config.login_failures_max == 0
        {
            bail!(
                "DATABASE_POOL_SIZE, AUTH_RATE_LIMIT_MAX, LOGIN_FAILURES_MAX and WORKER_CONCURRENCY must be at least 1"
            );
        }
        if config.auth_rate_limit_window.is_zero() {
            bail!("AUTH_RATE_LIMIT_WINDOW_SECONDS must be at least 1");
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A local run's config with `vars` set.
    fn config(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let mut map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.entry("GROWSTACK_ENV".to_owned()).or_insert_with(|| "local".to_owned());
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn secrets_are_required_outside_a_local_run() {
        // The operator commands run without keys; serving refuses to start without them.
        let bare = Config::from_lookup(|_| None).unwrap();
        let e = bare.require_token_keys().unwrap_err().to_string();
        assert!(e.contains("JWT_ACCESS_SECRET and JWT_REFRESH_SECRET"), "{e}");
        assert!(config(&[("GROWSTACK_ENV", "production")]).unwrap().require_token_keys().is_err());
        let one = "o".repeat(32);
        assert!(
            Config::from_lookup(|k| (k == "JWT_ACCESS_SECRET").then(|| one.clone())).is_err(),
            "one without the other"
        );
        assert!(config(&[("GROWSTACK_ENV", "staging")]).is_err());
        // Locally, made up at random: no secret in the repository signs a token.
        let (a, b) = (config(&[]).unwrap(), config(&[]).unwrap());
        let access = |c: &Config| c.jwt_access_secret.as_ref().unwrap().expose().to_owned();
        assert_ne!(access(&a), access(&b));
        assert!(access(&a).len() >= 32);
        // From Secrets Manager instead: no secrets in the environment at all.
        let managed = Config::from_lookup(|k| match k {
            "TOKEN_PUBLIC_KEYS_ID" => Some("growstack/public".to_owned()),
            "LINK_KEY_ID" => Some("growstack/links".to_owned()),
            _ => None,
        })
        .unwrap();
        assert!(managed.jwt_access_secret.is_none());
        assert_eq!(managed.managed_keys.map(|k| (k.signing, k.public)), Some((None, "growstack/public".to_owned())));
        let half = Config::from_lookup(|k| (k == "TOKEN_PUBLIC_KEYS_ID").then(|| "growstack/public".to_owned()));
        assert!(half.is_err(), "public keys without a link key");
        let (x, y) = ("x".repeat(32), "y".repeat(32));
        let given = Config::from_lookup(|k| match k {
            "JWT_ACCESS_SECRET" => Some(x.clone()),
            "JWT_REFRESH_SECRET" => Some(y.clone()),
            _ => None,
        })
        .unwrap();
        assert!(!given.local);
        assert_eq!(given.jwt_access_secret.unwrap().expose(), x);
    }

    #[test]
    fn local_defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_pool_size, 20);
        assert_eq!(c.database_read_url.expose(), c.database_url.expose());
        assert_eq!(c.auth_rate_limit_max, 100);
        assert_eq!(c.auth_rate_limit_window, Duration::from_secs(900));
        assert_eq!(c.access_token_ttl, Duration::from_secs(3600));
        assert_eq!(c.port, 3000);
        assert!(!c.metrics_emf, "the server's metrics are Prometheus");
        assert!(config(&[("METRICS_EMF", "true")]).unwrap().metrics_emf);
        assert!(config(&[("METRICS_EMF", "yes please")]).is_err());
    }

    #[test]
    fn lambda_needs_secrets_and_uses_small_pools() {
        let bare = config(&[("AWS_LAMBDA_FUNCTION_NAME", "f")]).unwrap();
        assert!(bare.require_token_keys().is_err(), "GROWSTACK_ENV=local means nothing in Lambda");
        let a = "a".repeat(32);
        let b = "b".repeat(32);
        let c = config(&[("AWS_LAMBDA_FUNCTION_NAME", "f"), ("JWT_ACCESS_SECRET", &a), ("JWT_REFRESH_SECRET", &b)])
            .unwrap();
        c.require_token_keys().unwrap();
        assert_eq!(c.database_pool_size, 2);
        assert!(c.metrics_emf, "in Lambda the metrics are EMF lines");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(config(&[("PORT", "http")]).is_err());
        assert!(config(&[("JWT_ACCESS_SECRET", "short")]).is_err());
        let same = "s".repeat(40);
        assert!(config(&[("JWT_ACCESS_SECRET", &same), ("JWT_REFRESH_SECRET", &same)]).is_err());
    }

    #[test]
    fn rewards() {
        let c = config(&[]).unwrap();
        assert_eq!(c.referral_reward_amount.to_string(), "500.00");
        assert_eq!(c.referral_reward_currency, "NGN");
        assert!(c.referred_reward_amount.is_zero());
        assert_eq!(c.referral_link_base, "http://localhost:3000/r/");
        assert!(config(&[("REFERRAL_REWARD_AMOUNT", "-1")]).is_err());
        assert!(config(&[("REFERRAL_REWARD_AMOUNT", "0")]).is_err());
        assert!(config(&[("REFERRAL_REWARD_AMOUNT", "1.005")]).is_err());
        assert!(config(&[("REFERRAL_REWARD_AMOUNT", "lots")]).is_err());
        assert!(config(&[("REFERRAL_REWARD_CURRENCY", "naira")]).is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let c = config(&[("DATABASE_URL", "postgres://u:hunter2@db/x")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
