//! `POST /api/webhooks/kyc`: the KYC provider's callback, authenticated by its signature.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{repo, signature};
use crate::app::{AppState, Endpoint};
use crate::error::{Error, Result};
use crate::http::{ok, parse_json, BODY_LIMIT};
use crate::referrals;
use crate::uses::Resource;

pub const WEBHOOK: Endpoint = Endpoint {
    function: "webhooks-kyc",
    method: Method::POST,
    path: "/api/webhooks/kyc",
    route: || post(webhook),
    uses: &[Resource::NotificationQueue, Resource::DatabaseSecret, Resource::RedisSecret],
};

/// The header the provider signs with.
pub const SIGNATURE_HEADER: &str = "x-growstack-signature";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KycOutcome {
    Successful,
    Failed,
}

/// The provider's callback. Fields we do not know are ignored: providers add them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KycCallback {
    pub event_id: String,
    pub user_id: Uuid,
    pub status: KycOutcome,
    pub reference: String,
    pub occurred_at: DateTime<Utc>,
}

impl KycCallback {
    fn check(self) -> Result<Self> {
        for (field, value) in [("eventId", &self.event_id), ("reference", &self.reference)] {
            if value.trim().is_empty() || value.len() > 128 {
                return Err(Error::invalid_field(field, format!("{field} must be 1 to 128 characters")));
            }
        }
        Ok(self)
    }
}

/// Verifies the signature over the raw body, then applies the verdict once per event id.
/// A successful verdict completes the user's referral when they are otherwise ready.
#[tracing::instrument(skip_all)]
async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let Some(secret) = &state.config.kyc_webhook_secret else {
        return Err(Error::Unavailable(anyhow::anyhow!("KYC_WEBHOOK_SECRET is not set: refusing KYC callbacks")));
    };
    if body.len() > BODY_LIMIT {
        return Err(Error::PayloadTooLarge { limit: BODY_LIMIT });
    }
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::Unauthorized("missing X-GrowStack-Signature"))?;
    signature::verify(secret.expose().as_bytes(), header, &body, Utc::now().timestamp()).map_err(|e| {
        tracing::warn!(reason = ?e, "KYC callback refused");
        match e {
            signature::Rejected::Stale => Error::Unauthorized("stale signature"),
            _ => Error::Unauthorized("invalid signature"),
        }
    })?;
    let callback = parse_json::<KycCallback>(&body)?.check()?;
    let conn = state.db.writer().await?;
    if repo::seen(&conn, &callback.event_id).await? {
        return Ok(ok(json!({ "received": true, "duplicate": true })));
    }
    let applied = repo::apply(&conn, &callback).await?;
    if !applied {
        tracing::warn!(user_id = %callback.user_id, "KYC callback for an unknown user");
    } else if callback.status == KycOutcome::Successful {
        referrals::complete_if_ready(&state, &conn, callback.user_id).await?;
    }
    repo::record(&conn, &callback, applied).await?;
    crate::users::invalidate_lists(&state.cache).await;
    tracing::info!(user_id = %callback.user_id, status = callback.status.as_str(), applied, "KYC callback applied");
    Ok(ok(json!({ "received": true, "duplicate": false, "applied": applied })))
}
