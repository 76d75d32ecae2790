//! Shared state, the registry of endpoints, and the router built from it. The full router
//! (the server) and a one-endpoint router (a Lambda function) are built by the same code,
//! so both run the same middleware.

use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;

use crate::auth::{self, Hasher, Revocations, Tokens};
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
use crate::{analytics, email, events, experiments, health, kyc, notifications, onboarding, referrals, rewards, users};

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
        }
    }

    pub fn scheduler(&self) -> Scheduler {
        Scheduler {
            outbox: self.relay(),
            db: self.db.clone(),
            notification_queue: self.queues.notification.clone(),
            events_export: self.config.events_firehose_stream.clone().map(|stream| Exporter {
                db: self.db.clone(),
                sink: Firehose { client: self.aws.firehose(), stream },
                page: 5000,
            }),
            events_retention_days: self.config.events_retention_days,
            metrics: self.metrics.clone(),
        }
    }
}

/// One HTTP endpoint: its route, and the Lambda function (binary) that serves it alone.
pub struct Endpoint {
    /// The binary in functions/ and the function in template.yaml.
    pub function: &'static str,
    pub method: Method,
    /// In the syntax axum and API Gateway share: `/api/users/{id}`.
    pub path: &'static str,
    pub route: fn() -> MethodRouter<AppState>,
    /// Its part of the OpenAPI document, from its handler's annotation.
    pub doc: crate::openapi::Describe,
    /// What AWS it uses, which its function's IAM policy must grant (and nothing more).
    pub uses: &'static [Resource],
    /// How its function is sized and how much traffic reaches it.
    pub tier: Tier,
}

/// What sets an endpoint's function apart in the deployment (template.yaml is written from
/// it: `growstack generate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// 256 MB, and the API's default throttling.
    Standard,
    /// It hashes a password: 1,024 MB for the CPU share Argon2 needs, its own (tighter)
    /// API Gateway throttling on both mounts, and reserved concurrency when the stack asks
    /// for it (`AuthReservedConcurrency`).
    PasswordHashing,
}

/// Every endpoint, in the order of the API reference.
pub const ENDPOINTS: &[Endpoint] = &[
    health::HEALTH,
    auth::REGISTER,
    auth::LOGIN,
    auth::REFRESH_TOKEN,
    auth::LOGOUT,
    auth::LOGOUT_ALL,
    auth::VERIFY_EMAIL,
    auth::RESEND_VERIFICATION,
    users::PROFILE_GET,
    users::PROFILE_UPDATE,
    users::PASSWORD,
    users::LIST,
    users::GET,
    users::BLOCK,
    users::ROLE,
    notifications::LIST,
    notifications::MARK_READ,
    notifications::SEND,
    notifications::BATCH,
    notifications::INACTIVITY_NUDGE,
    notifications::KYC_REMINDER,
    email::UNSUBSCRIBE,
    email::UNSUBSCRIBE_PAGE,
    referrals::CODE,
    referrals::LINK,
    referrals::LIST,
    referrals::INVITE,
    referrals::CLAIM_REWARD,
    referrals::STATS,
    referrals::TREE,
    referrals::ADMIN_UPDATE,
    onboarding::STEP,
    onboarding::STATS,
    onboarding::TIME_STATS,
    kyc::WEBHOOK,
    rewards::ADMIN_LIST,
    rewards::ADMIN_UPDATE,
    events::TRACK,
    events::BATCH,
    events::LIST,
    events::STATS,
    analytics::ONBOARDING,
    analytics::REFERRALS,
    analytics::EVENTS,
    analytics::NOTIFICATIONS,
    analytics::USERS,
    analytics::RETENTION,
    analytics::FUNNELS,
    experiments::CREATE,
    experiments::LIST,
    experiments::GET,
    experiments::UPDATE,
    experiments::ASSIGNMENT,
    experiments::RESULTS,
];

/// What serving an endpoint takes: all of it but its description. A Lambda function is built
/// from this, made at compile time (`const { X.served() }`), so that the code describing its
/// endpoint (70 kB of schema builders) is not in its binary.
#[derive(Clone, Copy)]
pub struct Served {
    pub function: &'static str,
    pub path: &'static str,
    pub route: fn() -> MethodRouter<AppState>,
    pub uses: &'static [Resource],
}

impl Endpoint {
    pub const fn served(&self) -> Served {
        Served { function: self.function, path: self.path, route: self.route, uses: self.uses }
    }
}

/// What serving the endpoint of `function` takes, looked up at compile time by a function's
/// `main` (`const { served("users-list") }`): the lookup leaves only that endpoint's route
/// in the binary. An unknown name fails the build.
pub const fn served(function: &str) -> Served {
    const fn same(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let mut i = 0;
    while i < ENDPOINTS.len() {
        if same(ENDPOINTS[i].function, function) {
            return ENDPOINTS[i].served();
        }
        i += 1;
    }
    panic!("no endpoint is served by a function of this name")
}

/// The router serving `endpoints`, with the middleware every request gets.
pub fn router_for<'a>(endpoints: impl IntoIterator<Item = &'a Endpoint>, state: AppState) -> Router {
    router_serving(endpoints.into_iter().map(Endpoint::served), state)
}

/// As [`router_for`], from what serving takes.
pub fn router_serving(endpoints: impl IntoIterator<Item = Served>, state: AppState) -> Router {
    endpoints
        .into_iter()
        .fold(Router::new(), |router, endpoint| {
            let function = endpoint.function;
            let declared = endpoint.uses;
            let route =
                (endpoint.route)().layer(tower::layer::layer_fn(move |inner| CheckUses { inner, function, declared }));
            match v1_path(endpoint.path) {
                Some(v1) => router.route(&v1, route.clone()).route(endpoint.path, route),
                None => router.route(endpoint.path, route),
            }
        })
        .fallback(crate::http::not_found)
        // A bug that panics answers 500 in the envelope (and is logged as one) instead of
        // dropping the connection or failing the Lambda invocation.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            axum::response::IntoResponse::into_response(crate::Error::Internal(anyhow::anyhow!("handler panicked")))
        }))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::http::log_request))
        .layer(axum::middleware::from_fn(crate::http::security_headers))
        .with_state(state)
}

/// `/api/users` → `/api/v1/users`: where the Node version's clients call each `/api` route.
/// Both paths run the same route (and, in Lambda, the same function).
pub fn v1_path(path: &str) -> Option<String> {
    path.strip_prefix("/api/").map(|rest| format!("/api/v1/{rest}"))
}

/// Runs one endpoint's request within its invocation's deadline (in Lambda), recording what
/// AWS it uses; a use its endpoint does not declare is logged as an error, and in debug
/// builds (the tests) answered 500, so that the template's policies, checked against the
/// declarations, cannot fall behind the code. A service of its own rather than
/// `middleware::from_fn`, which clones the route and boxes it again for every request.
#[derive(Clone)]
struct CheckUses<S> {
    inner: S,
    function: &'static str,
    declared: &'static [Resource],
}

impl<S> tower::Service<axum::extract::Request> for CheckUses<S>
where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
{
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        // In Lambda, the invocation's deadline bounds the idempotency claims the request takes.
        let deadline = req.extensions().get::<lambda_http::Context>().map(|c| c.deadline());
        let run = self.inner.call(req);
        let (function, declared) = (self.function, self.declared);
        Box::pin(async move {
            let (response, used) = match deadline {
                Some(deadline) => crate::uses::recording(crate::idempotency::with_deadline(deadline, run)).await,
                None => crate::uses::recording(run).await,
            };
            let response = response?;
            // An enclosing recording (a test's) sees what the request used too.
            used.iter().for_each(|r| crate::uses::record(*r));
            let undeclared = crate::uses::undeclared(&used, declared);
            if undeclared.is_empty() {
                return Ok(response);
            }
            tracing::error!(function, ?undeclared, "the function used AWS resources its endpoint does not declare");
            if cfg!(debug_assertions) {
                return Ok(axum::response::IntoResponse::into_response(crate::Error::Internal(anyhow::anyhow!(
                    "{function} used {undeclared:?} without declaring it"
                ))));
            }
            Ok(response)
        })
    }
}

/// The server's Prometheus endpoint, served on its own port, off the public listener.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(state): State<AppState>| async move {
                ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.prometheus_text())
            }),
        )
        .with_state(state)
}

/// The whole API, as the always-on server runs it.
pub fn router(state: AppState) -> Router {
    // Liveness is the server's alone (Lambda has its own), and kept out of the request logs
    // and metrics, which the load balancer's probes every few seconds would only clutter.
    let console = crate::console::router(state.config.console_dir.as_deref());
    router_for(ENDPOINTS, state)
        .route("/health/live", axum::routing::get(health::live))
        .merge(crate::openapi::router())
        .merge(console)
}
