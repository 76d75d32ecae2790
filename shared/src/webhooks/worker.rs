//! The webhook worker: one attempt per job. A 2xx within 10 s delivers; anything else is
//! recorded and retried after a backoff (by the scheduler's `webhook-retries` task) until 72
//! hours have passed. A job whose delivery is done, given up, or held by another sender does
//! nothing, so a redelivered message never sends an acknowledged event again.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use uuid::Uuid;

use super::repo;
use super::target::Target;
use super::types::{backoff, signature, GIVE_UP_AFTER};
use crate::db::Db;
use crate::jobs::{decode, JobError, WebhookJob};
use crate::worker::{process_batch, SqsWorker};

/// How long the receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// A sender's hold on a delivery: past the timeout, with room to record the outcome.
const LEASE_SECS: f64 = 30.0;

#[derive(Clone)]
pub struct WebhookWorker {
    pub db: Db,
    /// `GROWSTACK_ENV=local`: plain HTTP and private addresses allowed.
    pub local: bool,
    pub concurrency: usize,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl SqsWorker for WebhookWorker {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, self.concurrency, "webhook", &self.metrics, |body| async move {
            let job: WebhookJob = decode(&body)?;
            self.attempt(job.delivery).await.map(|_| ()).map_err(JobError::from)
        })
        .await
    }
}

impl WebhookWorker {
    /// One attempt at `delivery`: `Some(delivered)`, or `None` when there was nothing to do.
    /// Fails only when the outcome could not be recorded (the message then comes back).
    #[tracing::instrument(skip_all, fields(delivery = %delivery))]
    pub async fn attempt(&self, delivery: Uuid) -> crate::Result<Option<bool>> {
        let conn = self.db.writer().await?;
        let Some(claimed) = repo::claim(&conn, delivery, LEASE_SECS).await? else { return Ok(None) };
        let body = serde_json::to_vec(&serde_json::json!({
            "id": claimed.event_id,
            "type": claimed.event_type,
            "createdAt": claimed.event_created_at,
            "data": claimed.data,
        }))
        .map_err(anyhow::Error::from)?;
        let secrets: Vec<&str> = claimed.secrets.iter().map(String::as_str).collect();
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("user-agent", "GrowStack-Webhooks/1".to_owned()),
            ("x-growstack-signature", signature(&secrets, Utc::now().timestamp(), &body)),
            ("x-growstack-event-id", claimed.event_id.to_string()),
            ("x-growstack-event-type", claimed.event_type.clone()),
            ("x-growstack-delivery-id", claimed.id.to_string()),
        ];
        let outcome = async {
            let target = Target::parse(&claimed.url, self.local).map_err(|e| e.to_string())?;
            // Resolved and checked again now: the name may point elsewhere than when saved.
            let addrs = target.resolve(self.local).await?;
            target.post(&addrs, &headers, body.into(), TIMEOUT).await
        }
        .await;
        let (status, error, delivered) = match outcome {
            Ok(code) if (200..300).contains(&code) => (Some(code), None, true),
            Ok(code) => (Some(code), Some(format!("the receiver answered {code}")), false),
            Err(e) => (None, Some(e), false),
        };
        let wait = backoff(claimed.attempts + 1, rand::random());
        repo::record(
            &conn,
            &claimed,
            status,
            error.as_deref(),
            delivered,
            wait.as_secs_f64(),
            GIVE_UP_AFTER.as_secs_f64(),
        )
        .await?;
        tracing::info!(endpoint = %claimed.endpoint, status, delivered, error, "webhook attempt");
        Ok(Some(delivered))
    }
}
