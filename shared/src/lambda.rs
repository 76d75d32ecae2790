//! Running as a Lambda function: one endpoint per function, a queue worker, the scheduler,
//! or the migration. State is built once per cold start, with no network call; connections
//! open on first use.

use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use crate::config::Config;
use crate::db::Db;
use crate::endpoint::{router_serving, Served};
use crate::scheduler::{Scheduler, Task};
use crate::state::AppState;
use crate::worker::SqsWorker;

pub use lambda_http::Error;

async fn state() -> Result<AppState, Error> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    config.require_token_keys()?;
    let state = AppState::in_lambda(config)?;
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "unknown".to_owned());
    state.metrics.cold_start(&function);
    Ok(state)
}

/// Serves one endpoint behind API Gateway: `run_http(const { users::LIST.served() })`.
pub async fn run_http(endpoint: Served) -> Result<(), Error> {
    lambda_http::run(router_serving([endpoint], state().await?)).await
}

/// The email worker, triggered by the email queue (ReportBatchItemFailures).
pub async fn run_email_worker() -> Result<(), Error> {
    run_sqs(state().await?.email_worker()).await
}

/// The notification worker, triggered by the notification queue.
pub async fn run_notification_worker() -> Result<(), Error> {
    run_sqs(state().await?.notification_worker()).await
}

/// The webhook worker, triggered by the webhook queue.
pub async fn run_webhook_worker() -> Result<(), Error> {
    run_sqs(state().await?.webhook_worker()).await
}

async fn run_sqs(worker: impl SqsWorker) -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        let deadline = event.context.deadline();
        async move {
            Ok::<SqsBatchResponse, Error>(
                crate::idempotency::with_deadline(deadline, worker.handle(event.payload)).await,
            )
        }
    }))
    .await
}

/// The SES feedback handler, triggered by the SNS topic SES publishes bounces and
/// complaints to.
pub async fn run_ses_feedback() -> Result<(), Error> {
    let handler = state().await?.ses_feedback();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SnsEvent>| {
        let handler = handler.clone();
        async move {
            let suppressed = handler.handle(event.payload).await.map_err(|e| Error::from(format!("{e:#}")))?;
            Ok::<Value, Error>(serde_json::json!({ "suppressed": suppressed }))
        }
    }))
    .await
}

/// The scheduler, triggered by EventBridge schedules.
pub async fn run_scheduler() -> Result<(), Error> {
    let scheduler = state().await?.scheduler();
    lambda_runtime::run(service_fn(|event| scheduler_handler(&scheduler, event))).await
}

/// The scheduler function's handler; a failure makes EventBridge's invocation retry. Each
/// task's tick is claimed first, so an always-on server beside the functions does not run
/// it a second time.
pub async fn scheduler_handler(scheduler: &Scheduler, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let ticks: Vec<_> = Task::from_event(&event.payload)?.into_iter().map(|task| (task, task.period())).collect();
    let runner = format!("lambda:{}", event.context.request_id);
    let report = scheduler.run_ticks(&ticks, &runner).await.map_err(|e| Error::from(format!("{e:#}")))?;
    Ok(serde_json::to_value(report)?)
}

/// Applies pending migrations on each invocation (the payload is ignored); run it after a
/// deploy, e.g. `aws lambda invoke --function-name <MigrateFunction> out.json`.
pub async fn run_migrate() -> Result<(), Error> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    let aws = crate::aws::Aws::in_lambda(&config);
    let store = std::sync::Arc::new(crate::secrets::SecretStore::new(aws.secrets, config.secrets_cache_ttl));
    let db = Db::with_secrets(&config, store)?;
    lambda_runtime::run(service_fn(|event| migrate_handler(&db, event))).await
}

/// The migrate function's handler. With `{"createAdmin": {"email": …}}` it then makes that
/// account an admin (creating it when missing) with a new random password, which is in the
/// answer alone: the operator who may invoke the function gets the first admin without a
/// host inside the VPC, and signs in to change the password.
pub async fn migrate_handler(db: &Db, event: LambdaEvent<Value>) -> Result<Value, Error> {
    crate::migrate::run(db).await.map_err(|e| Error::from(format!("{e:#}")))?;
    let Some(admin) = event.payload.get("createAdmin") else {
        return Ok(serde_json::json!({ "migrated": true }));
    };
    let email = admin.get("email").and_then(Value::as_str).ok_or("createAdmin needs an \"email\"")?;
    let password = one_time_password();
    let hasher = crate::auth::Hasher::one_at_a_time();
    let user = crate::server::make_admin(db, &hasher, email, password.clone())
        .await
        .map_err(|e| Error::from(format!("{e:#}")))?;
    Ok(serde_json::json!({
        "migrated": true,
        "admin": { "id": user.id, "email": user.email, "password": password },
    }))
}

/// 144 random bits, URL-safe: 24 characters.
fn one_time_password() -> String {
    crate::signing::random_text::<18>()
}
