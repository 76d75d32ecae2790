//! The always-on path: the whole router on one port, plus the operator commands.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

use axum::extract::State;
use axum::Router;

use crate::app::ENDPOINTS;
use crate::auth::{Hasher, Password};
use crate::config::Config;
use crate::db::Db;
use crate::endpoint::router_for;
use crate::state::AppState;

use crate::scheduler::Task;
use crate::users::{self, Email, User};
use crate::worker::SqsWorker;

/// Serves the API on `PORT` until SIGINT or SIGTERM, then drains in-flight requests. Also
/// consumes both queues (unless `CONSUME_QUEUES=false`) and runs the scheduler, with the same
/// code as the Lambdas; each scheduled tick runs once across every server and the functions.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    config.require_token_keys()?;
    let addr = SocketAddr::from(([0, 0, 0, 0], config.port));
    let listener = TcpListener::bind(addr).await.with_context(|| format!("bind {addr}"))?;
    let metrics_addr = SocketAddr::from(([0, 0, 0, 0], config.metrics_port));
    let metrics_listener = TcpListener::bind(metrics_addr).await.with_context(|| format!("bind {metrics_addr}"))?;
    let state = AppState::new(config).await?;
    state.metrics.cold_start("growstack-server");
    let mut background = spawn_background(&state);
    let metrics_app = metrics_router(state.clone());
    background.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(metrics_listener, metrics_app).await {
            tracing::error!(error = %e, "metrics endpoint stopped");
        }
    }));
    let served = serve_on(listener, state).await;
    for task in background {
        task.abort();
    }
    served
}

/// A poller feeding `worker` from the queue at `url`; none when the URL is not set.
fn spawn_consumer(
    state: &AppState,
    queue: &'static str,
    url: Option<String>,
    worker: impl SqsWorker,
) -> Option<tokio::task::JoinHandle<()>> {
    let Some(url) = url else {
        tracing::warn!(queue, "queue URL not set: not consuming it");
        return None;
    };
    let sqs = state.aws.sqs.clone();
    let wait = state.config.queue_wait;
    Some(tokio::spawn(async move { crate::worker::consume(sqs, url, wait, |event| worker.handle(event)).await }))
}

/// The workers and the scheduler, as background tasks; queues without a URL are skipped.
pub fn spawn_background(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let config = &state.config;
    if config.consume_queues {
        tasks.extend(spawn_consumer(state, "email", config.email_queue_url.clone(), state.email_worker()));
        tasks.extend(spawn_consumer(
            state,
            "notification",
            config.notification_queue_url.clone(),
            state.notification_worker(),
        ));
        tasks.extend(spawn_consumer(state, "webhook", config.webhook_queue_url.clone(), state.webhook_worker()));
    } else {
        tracing::info!("CONSUME_QUEUES=false: the functions consume the queues");
    }
    // The name this process claims scheduled ticks under (see `Scheduler::run_ticks`).
    let runner = format!("server:{}", uuid::Uuid::now_v7());
    // Each task on a timer of its own, as each has a schedule of its own in AWS.
    let scheduled: &[Task] = if config.scheduler_enabled { &Task::ALL } else { &[] };
    let configured = state.scheduler();
    for &task in scheduled.iter().filter(|&&t| configured.can_run(t)) {
        let every = match task {
            Task::DueNotifications
            | Task::EventsExport
            | Task::EventsRollup
            | Task::OutboxRelay
            | Task::WebhookRetries
            | Task::ArchiveErasures
            | Task::UserExports => state.config.scheduler_interval,
            _ => state.config.nudge_interval,
        };
        let scheduler = state.scheduler();
        let runner = runner.clone();
        tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = scheduler.run_ticks(&[(task, every)], &runner).await {
                    tracing::warn!(?task, error = format!("{e:#}"), "scheduler run failed");
                }
            }
        }));
    }
    tasks
}

/// Serves on an already bound listener (tests bind port 0).
pub async fn serve_on(listener: TcpListener, state: AppState) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "growstack listening");
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serve")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let aws = crate::aws::Aws::new(&config).await;
    let store = std::sync::Arc::new(crate::secrets::SecretStore::new(aws.secrets, config.secrets_cache_ttl));
    crate::migrate::run(&crate::db::Db::with_secrets(&config, store)?).await
}

/// Creates the first admin (or promotes and resets an existing account): idempotent.
pub async fn create_admin(state: &AppState, email: &str, password: String) -> anyhow::Result<User> {
    let user = make_admin(&state.db, &state.hasher, email, password).await?;
    users::invalidate_lists(&state.cache).await;
    Ok(user)
}

/// Creates the admin account `email`, or promotes the account and resets its password: the
/// `create-admin` command, and the migrate function's `createAdmin`.
pub async fn make_admin(db: &Db, hasher: &Hasher, email: &str, password: String) -> anyhow::Result<User> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = hasher.hash(Password::parse(password).map_err(|e| anyhow::anyhow!("{e}"))?).await?;
    let user = users::upsert_admin(&db.writer().await?, &email, &hash).await?;
    tracing::info!(user = %user.id, "admin account ready");
    Ok(user)
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
        .route("/health/live", axum::routing::get(crate::health::live))
        .merge(crate::openapi::router(crate::app::openapi()))
        .merge(console)
}
