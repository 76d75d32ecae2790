//! Idempotency records in DynamoDB, so that at-least-once deliveries (and retried client
//! requests) have their effects exactly once.
//!
//! The first attempt claims a key with a conditional put (status `in_progress` and an
//! expiry); a later attempt finds the claim and either waits (still in progress), takes it
//! over (the earlier attempt crashed and its claim expired), or replays the saved outcome
//! (completed). Completed records carry a TTL for DynamoDB to reap; since DynamoDB deletes
//! expired items only eventually (and moto never), expiry is also checked here.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::Utc;
use std::future::Future;

use crate::jobs::JobError;

/// The DynamoDB calls this module makes (a put, a get, a delete): what its IAM statement
/// grants, and all it grants (tests/it/consistency.rs).
pub const DYNAMODB_ACTIONS: [&str; 3] = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"];

tokio::task_local! {
    /// The deadline of the Lambda invocation the current work belongs to, if any.
    static DEADLINE: SystemTime;
}

/// Runs `work` as part of an invocation that ends at `deadline`: idempotency claims taken
/// inside expire then.
pub async fn with_deadline<F: Future>(deadline: SystemTime, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

#[derive(Clone)]
pub struct Idempotency {
    client: Client,
    table: String,
    /// How long a claim holds before another attempt may take it over.
    in_progress_expiry: Duration,
    /// How long a completed record is kept (and replayed).
    completed_ttl: Duration,
}

/// What an attempt should do with its key.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours, under this attempt's owner token: do the work, then `complete` (or
    /// `release` on failure) with the token.
    Acquired(String),
    /// Another attempt holds the key right now; try again later.
    InProgress,
    /// Already done; here is the saved outcome, if one was saved.
    Completed(Option<String>),
}

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl Idempotency {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Idempotency {
            client,
            table: table.into(),
            in_progress_expiry: Duration::from_secs(60),
            completed_ttl: Duration::from_secs(24 * 3600),
        }
    }

    /// Sets how long an in-progress claim holds; it should exceed the longest attempt
    /// (the worker's timeout).
    pub fn with_in_progress_expiry(mut self, expiry: Duration) -> Self {
        self.in_progress_expiry = expiry;
        self
    }

    /// How long this attempt's claim holds: until the Lambda invocation's deadline when it
    /// runs in one (as Powertools does: a claim must not outlive the attempt holding it, nor
    /// lapse before it ends), else the configured expiry.
    fn lease(&self) -> Duration {
        DEADLINE
            .try_with(|deadline| deadline.duration_since(SystemTime::now()).unwrap_or_default())
            .map_or(self.in_progress_expiry, |left| left.min(self.in_progress_expiry))
    }

    /// Claims `key` for this attempt.
    pub async fn claim(&self, key: &str) -> anyhow::Result<Claim> {
        crate::uses::record(crate::uses::Resource::IdempotencyTable);
        let now = Utc::now().timestamp();
        let lease = self.lease().as_secs_f64().ceil() as i64;
        let owner = uuid::Uuid::now_v7().to_string();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("owner", s(owner.clone()))
            .item("status", s(IN_PROGRESS))
            .item("expires_at", n(now + lease))
            .item("ttl", n(now + self.completed_ttl.as_secs() as i64))
            // Free, or held by an attempt whose claim has lapsed, or a completed record
            // past its TTL that DynamoDB has not reaped yet.
            .condition_expression(
                "attribute_not_exists(pk) OR (#status = :in_progress AND expires_at < :now) OR #ttl < :now",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Acquired(owner)),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                let item = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", s(key))
                    .consistent_read(true)
                    .send()
                    .await
                    .context("read idempotency record")?
                    .item;
                let status = item.as_ref().and_then(|i| i.get("status")).and_then(|v| v.as_s().ok());
                Ok(match status.map(String::as_str) {
                    Some(COMPLETED) => Claim::Completed(
                        item.as_ref().and_then(|i| i.get("response")).and_then(|v| v.as_s().ok()).cloned(),
                    ),
                    _ => Claim::InProgress,
                })
            }
            Err(e) => Err(anyhow::Error::new(e).context("claim idempotency key")),
        }
    }

    /// Marks `key` done, saving `response` for replays. Only the attempt that holds the
    /// claim (`owner`) may; if another attempt took a lapsed claim over, it will complete it.
    pub async fn complete(&self, key: &str, owner: &str, response: Option<&str>) -> anyhow::Result<()> {
        let now = Utc::now().timestamp();
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("owner", s(owner))
            .item("status", s(COMPLETED))
            .item("ttl", n(now + self.completed_ttl.as_secs() as i64))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner));
        if let Some(response) = response {
            put = put.item("response", s(response));
        }
        match put.send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                tracing::warn!(key, "idempotency claim was taken over before this attempt completed");
                Ok(())
            }
            Err(e) => Err(anyhow::Error::new(e).context("complete idempotency key")),
        }
    }

    /// Runs `work` within the claim's lease: past it another attempt may take the key over,
    /// so an attempt that has not finished by then gives up.
    async fn within_lease<T, E>(&self, work: impl Future<Output = Result<T, E>>, timed_out: E) -> Result<T, E> {
        let lease = self.lease().saturating_sub(Duration::from_secs(1)).max(Duration::from_secs(1));
        tokio::time::timeout(lease, work).await.unwrap_or(Err(timed_out))
    }

    /// Does `work` once for `key` across every delivery of a job: a completed key is skipped,
    /// a key another attempt holds is a transient failure (retried later), and a failed
    /// attempt gives its claim up so the retry need not wait for it to lapse. `work` may
    /// return an outcome to keep with the completed marker.
    pub async fn once<Fut>(&self, key: &str, work: Fut) -> Result<(), JobError>
    where
        Fut: Future<Output = Result<Option<String>, JobError>>,
    {
        let owner = match self.claim(key).await? {
            Claim::Completed(_) => {
                tracing::info!(key, "duplicate delivery; already done");
                return Ok(());
            }
            Claim::InProgress => return Err(JobError::Transient(anyhow::anyhow!("another attempt holds {key}"))),
            Claim::Acquired(owner) => owner,
        };
        let timed_out = JobError::Transient(anyhow::anyhow!("attempt outlived its claim on {key}"));
        match self.within_lease(work, timed_out).await {
            Ok(outcome) => Ok(self.complete(key, &owner, outcome.as_deref()).await?),
            Err(e) => {
                if let Err(release) = self.release(key, &owner).await {
                    tracing::warn!(key, error = format!("{release:#}"), "could not release idempotency key");
                }
                Err(e)
            }
        }
    }

    /// Gives up this attempt's claim after a failure, so a retry need not wait for it to
    /// lapse; a claim another attempt has taken over is left alone.
    pub async fn release(&self, key: &str, owner: &str) -> anyhow::Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .condition_expression("#status = :in_progress AND #owner = :owner")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match e {
                SdkError::ServiceError(ref se) if se.err().is_conditional_check_failed_exception() => Ok(()),
                e => Err(anyhow::Error::new(e).context("release idempotency key")),
            })
    }
}

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> crate::Result<Self> {
        if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(crate::Error::validation("Idempotency-Key must be 1 to 255 visible ASCII characters"));
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The optional `Idempotency-Key` header of a request.
pub struct MaybeIdempotencyKey(pub Option<IdempotencyKey>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeIdempotencyKey {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut http::request::Parts, _: &S) -> crate::Result<Self> {
        match parts.headers.get("idempotency-key") {
            None => Ok(MaybeIdempotencyKey(None)),
            Some(v) => Ok(MaybeIdempotencyKey(Some(IdempotencyKey::parse(
                v.to_str().map_err(|_| crate::Error::validation("Idempotency-Key must be ASCII"))?,
            )?))),
        }
    }
}

/// A first answer, kept for replays.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    status: u16,
    data: serde_json::Value,
    /// What the request asked for; a replay must ask the same.
    request: String,
}

impl Idempotency {
    /// Answers a request at most once per key: the first request with a key runs `work` and
    /// its successful answer is kept; the same key again gets that answer back (with
    /// `Idempotent-Replayed: true`), a key still being worked on gets 409, and a key reused
    /// for a different `request` gets 400. A failed first attempt keeps nothing, so the
    /// client may retry with the same key. Without a key, `work` just runs.
    pub async fn respond_once<Fut>(
        &self,
        key: Option<String>,
        request: &str,
        work: Fut,
    ) -> crate::Result<axum::response::Response>
    where
        Fut: Future<Output = crate::Result<(http::StatusCode, serde_json::Value)>>,
    {
        use axum::response::IntoResponse;
        let respond = |status: u16, data: serde_json::Value, replayed: bool| {
            let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
            let mut response =
                (status, axum::Json(serde_json::json!({ "success": true, "data": data }))).into_response();
            if replayed {
                response.headers_mut().insert("idempotent-replayed", http::HeaderValue::from_static("true"));
            }
            response
        };
        let Some(key) = key else {
            let (status, data) = work.await?;
            return Ok(respond(status.as_u16(), data, false));
        };
        match self.claim(&key).await.map_err(crate::Error::Unavailable)? {
            Claim::Completed(saved) => {
                let saved: Saved = saved
                    .as_deref()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .ok_or_else(|| crate::Error::Internal(anyhow::anyhow!("idempotency record without an answer")))?;
                if saved.request != request {
                    return Err(crate::Error::validation("Idempotency-Key was already used for a different request"));
                }
                Ok(respond(saved.status, saved.data, true))
            }
            Claim::InProgress => Err(crate::Error::Conflict("a request with this Idempotency-Key is in progress")),
            Claim::Acquired(owner) => {
                match self.within_lease(work, crate::Error::Unavailable(anyhow::anyhow!("timed out"))).await {
                    Ok((status, data)) => {
                        let saved = Saved { status: status.as_u16(), data, request: request.to_owned() };
                        let text = serde_json::to_string(&saved).map_err(anyhow::Error::new)?;
                        self.complete(&key, &owner, Some(&text)).await.map_err(crate::Error::Unavailable)?;
                        Ok(respond(saved.status, saved.data, false))
                    }
                    Err(e) => {
                        if let Err(release) = self.release(&key, &owner).await {
                            tracing::warn!(error = format!("{release:#}"), "could not release idempotency key");
                        }
                        Err(e)
                    }
                }
            }
        }
    }
}
