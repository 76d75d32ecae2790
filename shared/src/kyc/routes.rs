//! `POST /api/webhooks/kyc`: the KYC provider's callback, authenticated by its signature.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::post;
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::repo::{self, Applied};
use super::signature;
use super::types::{KycCallback, KycOutcome};
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{ok, parse_json, BODY_LIMIT};
use crate::openapi::{self, Ok};
use crate::referrals;
use crate::state::AppState;
use crate::uses::Resource;

pub const WEBHOOK: Endpoint = Endpoint {
    function: "webhooks-kyc",
    method: Method::POST,
    path: "/api/webhooks/kyc",
    route: || post(webhook),
    doc: openapi::describe::<__path_webhook>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[
        Resource::NotificationQueue,
        Resource::WebhookQueue,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
        Resource::KycSecret,
    ],
};

/// The header the provider signs with.
pub const SIGNATURE_HEADER: &str = "x-growstack-signature";

/// What a callback did.
#[derive(Serialize, ToSchema)]
#[schema(as = KycReceipt)]
struct Receipt {
    /// Always `true`.
    received: bool,
    /// The event id was taken before: nothing was done again.
    duplicate: bool,
    /// Whether the user exists and the verdict was applied; only on a first delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<bool>,
}

/// The secrets a callback may be signed with: from Secrets Manager (`KYC_WEBHOOK_SECRET_ID`)
/// at run time — the secret's string, or `{"current": …, "previous": …}` while a rotation
/// lets the provider move over — else `KYC_WEBHOOK_SECRET` (a local run). Neither: 503.
async fn webhook_secrets(state: &AppState) -> Result<Vec<String>> {
    if let Some(id) = &state.config.kyc_webhook_secret_id {
        crate::uses::record(Resource::KycSecret);
        let raw = state.secrets.get(id).await.map_err(Error::Unavailable)?;
        #[derive(serde::Deserialize)]
        struct Rotating {
            current: String,
            previous: Option<String>,
        }
        let secrets = match serde_json::from_str::<Rotating>(&raw) {
            Ok(r) => [Some(r.current), r.previous].into_iter().flatten().collect(),
            Err(_) => vec![raw.to_string()],
        };
        if secrets.iter().any(|s| s.len() < 32) {
            return Err(Error::Unavailable(anyhow::anyhow!("the KYC webhook secret is shorter than 32 characters")));
        }
        return Ok(secrets);
    }
    match &state.config.kyc_webhook_secret {
        Some(secret) => Ok(vec![secret.expose().to_owned()]),
        None => Err(Error::Unavailable(anyhow::anyhow!(
            "neither KYC_WEBHOOK_SECRET_ID nor KYC_WEBHOOK_SECRET is set: refusing KYC callbacks"
        ))),
    }
}

#[utoipa::path(post, path = "/api/webhooks/kyc",
    params(("x-growstack-signature" = String, Header,
        description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">`, with the shared secret; \
            several `v1` may be given while the secret rotates. At most 5 minutes from our clock.",
        example = "t=1764288000,v1=3b7e0c1f9a2d4e6b8c0f1a3d5e7b9c2f4a6d8e0b1c3f5a7d9e2b4c6f8a0d1e3f")),
    request_body = KycCallback,
    responses((status = 200, description = "The callback was taken (or had been: `duplicate`).", body = Ok<Receipt>),
        (status = 401, description = "The signature is missing, malformed, stale or wrong.")))]
/// The KYC provider's verdict on a user's identity.
///
/// Authenticated by the provider's signature over the raw body (`X-GrowStack-Signature`), not
/// by a bearer token. Each event id is applied once; a successful verdict completes the user's
/// referral when they are otherwise ready. Answered 503 while no webhook secret is configured.
#[tracing::instrument(skip_all)]
async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    if body.len() > BODY_LIMIT {
        return Err(Error::PayloadTooLarge { limit: BODY_LIMIT });
    }
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(Error::Unauthorized("missing X-GrowStack-Signature"))?;
    let secrets = webhook_secrets(&state).await?;
    let now = Utc::now().timestamp();
    // Signed with any of them (while one rotates); if none, why the first refused it.
    let verdicts: Vec<_> = secrets.iter().map(|s| signature::verify(s.as_bytes(), header, &body, now)).collect();
    if !verdicts.iter().any(Result::is_ok) {
        let e = verdicts.into_iter().find_map(Result::err).unwrap_or(signature::Rejected::Malformed);
        tracing::warn!(reason = ?e, "KYC callback refused");
        return Err(match e {
            signature::Rejected::Stale => Error::Unauthorized("stale signature"),
            _ => Error::Unauthorized("invalid signature"),
        });
    }
    let callback = parse_json::<KycCallback>(&body)?.check()?;
    let conn = state.db.writer().await?;
    if repo::seen(&conn, &callback.event_id).await? {
        return Ok(ok(Receipt { received: true, duplicate: true, applied: None }));
    }
    let (applied, staged) = conn
        .atomically(async |conn| {
            let applied = repo::apply(conn, &callback).await?;
            let staged = if applied == Applied::UnknownUser {
                Vec::new()
            } else {
                let data = serde_json::json!({
                    "userId": callback.user_id, "status": callback.status.as_str(),
                    "reference": callback.reference, "eventId": callback.event_id,
                });
                crate::webhooks::raise(conn, crate::webhooks::EventType::KycUpdated, &data).await?
            };
            Ok((applied, staged))
        })
        .await?;
    state.relay().send_now(&staged).await;
    match applied {
        Applied::UnknownUser => tracing::warn!(user_id = %callback.user_id, "KYC callback for an unknown user"),
        Applied::Verdict if callback.status == KycOutcome::Successful => {
            referrals::complete_if_ready(&state, &conn, callback.user_id).await?
        }
        Applied::Verdict => {}
        Applied::DuplicateOf(holder) => {
            tracing::warn!(user_id = %callback.user_id, %holder, "KYC verified an identity another account holds");
            referrals::fail_duplicate_identity(&conn, callback.user_id).await?;
        }
    }
    let applied = applied != Applied::UnknownUser;
    repo::record(&conn, &callback, applied).await?;
    crate::users::invalidate_lists(&state.cache).await;
    tracing::info!(user_id = %callback.user_id, status = callback.status.as_str(), applied, "KYC callback applied");
    Ok(ok(Receipt { received: true, duplicate: false, applied: Some(applied) }))
}
