//! `POST /api/onboarding/step` for the caller; the admin's funnel and timing.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::repo::{self, Moved};
use crate::app::{AppState, Endpoint};
use crate::auth::{AdminUser, AuthUser};
use crate::error::{Error, Result};
use crate::http::{ok, DateRange, JsonBody, QueryParams};
use crate::users::OnboardingStep;
use crate::uses::Resource;

pub const STEP: Endpoint = Endpoint {
    function: "onboarding-step",
    method: Method::POST,
    path: "/api/onboarding/step",
    route: || post(step),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const STATS: Endpoint = Endpoint {
    function: "onboarding-stats",
    method: Method::GET,
    path: "/api/onboarding/stats",
    route: || get(stats),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const TIME_STATS: Endpoint = Endpoint {
    function: "onboarding-time-stats",
    method: Method::GET,
    path: "/api/onboarding/time-stats",
    route: || get(time_stats),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    step: String,
    /// Whatever the app wants kept with the step (the Node version's `metadata`).
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// Most bytes of step metadata kept.
const MAX_METADATA_BYTES: usize = 4096;

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn step(caller: AuthUser, State(state): State<AppState>, JsonBody(body): JsonBody<StepBody>) -> Result<Response> {
    let step = OnboardingStep::parse(&body.step)
        .ok_or_else(|| Error::invalid_field("step", "step must be one of email, phone, bvn, selfie, kyc_complete"))?;
    match step {
        OnboardingStep::Email => return Err(Error::Forbidden("the email step completes when the address is verified")),
        OnboardingStep::KycComplete => {
            return Err(Error::Forbidden("KYC completes when the KYC provider confirms it, not on the app's word"))
        }
        _ => {}
    }
    let metadata = match body.metadata {
        None | Some(serde_json::Value::Null) => json!({}),
        Some(m @ serde_json::Value::Object(_)) if m.to_string().len() <= MAX_METADATA_BYTES => m,
        Some(_) => return Err(Error::invalid_field("metadata", "metadata must be a JSON object of at most 4 KiB")),
    };
    let moved = repo::advance(&state.db.writer().await?, caller.id, step, &metadata).await?;
    let kyc_status = match moved {
        Moved::NoSuchUser => return Err(Error::NotFound("user not found")),
        Moved::Refused { blocked: true, .. } => return Err(Error::Forbidden("account is blocked")),
        Moved::Refused { current, .. } => {
            return Err(Error::invalid_field(
                "step",
                format!("onboarding moves forward only: {} is not after {}", step.as_str(), current.as_str()),
            ))
        }
        Moved::Forward { kyc_status } => kyc_status,
    };
    Ok(ok(json!({ "onboardingStep": step.as_str(), "kycStatus": kyc_status })))
}

#[tracing::instrument(skip_all)]
async fn stats(
    _: AdminUser,
    State(state): State<AppState>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let (from, to) = range.bounds()?;
    let steps = repo::funnel(&state.db.reader().await?, from, to).await?;
    let total = steps.first().map_or(0, |s| s.reached);
    Ok(ok(json!({ "totalUsers": total, "steps": steps })))
}

#[tracing::instrument(skip_all)]
async fn time_stats(
    _: AdminUser,
    State(state): State<AppState>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let (from, to) = range.bounds()?;
    Ok(ok(repo::time_to_kyc(&state.db.reader().await?, from, to).await?))
}
