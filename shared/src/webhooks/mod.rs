//! Webhooks out: signed events to the operator's systems (a reward became available, was
//! paid, a referral completed…), so that the payout loop runs without anyone polling. An
//! event is raised inside the transaction of the change (`raise`), with a delivery per
//! subscribed endpoint staged in the outbox; the webhook worker makes each attempt, and the
//! scheduler's `webhook-retries` task tries again with backoff for 72 hours.

pub mod repo;
mod routes;
pub mod target;
pub mod types;
mod worker;

use serde_json::Value;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;
use crate::outbox::Staged;

pub use routes::{CREATE, DELETE, DELIVERIES, LIST, REDELIVER, ROTATE, TEST, UPDATE};
pub use types::EventType;
pub use worker::{WebhookWorker, TIMEOUT};

/// Raises event `kind` with `data` for every enabled endpoint subscribed to it, inside the
/// caller's transaction; send the answer with `Relay::send_now` once it commits.
pub async fn raise(conn: &Conn, kind: EventType, data: &Value) -> Result<Vec<Staged>> {
    repo::raise(conn, kind, data, None).await
}

/// As [`raise`], to one endpoint whatever it subscribes to (a test event).
pub async fn raise_to(conn: &Conn, kind: EventType, data: &Value, endpoint: Uuid) -> Result<Vec<Staged>> {
    repo::raise(conn, kind, data, Some(endpoint)).await
}
