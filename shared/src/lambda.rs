//! Running as a Lambda function: one endpoint per function, or the migration.

use crate::app::{router_for, AppState, Endpoint};
use crate::config::Config;
use crate::db::Db;

pub use lambda_http::Error;
use lambda_runtime::LambdaEvent;

/// Serves one endpoint behind API Gateway. State is built once per cold start, with no
/// network call; connections open on first use.
pub async fn run_http(endpoint: &'static Endpoint) -> Result<(), Error> {
    crate::telemetry::init();
    let state = AppState::new(Config::from_env()?)?;
    lambda_http::run(router_for([endpoint], state)).await
}

/// Applies pending migrations on each invocation (the payload is ignored); run it after a
/// deploy, e.g. `aws lambda invoke --function-name <MigrateFunction> out.json`.
pub async fn run_migrate() -> Result<(), Error> {
    crate::telemetry::init();
    let db = Db::new(&Config::from_env()?)?;
    lambda_runtime::run(lambda_runtime::service_fn(|event| migrate_handler(&db, event))).await
}

/// The migrate function's handler.
pub async fn migrate_handler(db: &Db, _event: LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, Error> {
    db.migrate().await.map_err(|e| Error::from(format!("{e:#}")))?;
    Ok(serde_json::json!({ "migrated": true }))
}
