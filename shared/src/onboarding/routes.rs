//! `POST /api/onboarding/step` for the caller; the admin's funnel and timing.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::repo::{self, Moved, StepCount, TimeStats};
use crate::auth::{AdminUser, AuthUser};
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{ok, DateRange, JsonBody, QueryParams};
use crate::openapi::{self, Ok};
use crate::state::AppState;
use crate::users::{KycStatus, OnboardingStep};
use crate::uses::Resource;

pub const STEP: Endpoint = Endpoint {
    function: "onboarding-step",
    method: Method::POST,
    path: "/api/onboarding/step",
    route: || post(step),
    doc: openapi::describe::<__path_step>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const STATS: Endpoint = Endpoint {
    function: "onboarding-stats",
    method: Method::GET,
    path: "/api/onboarding/stats",
    route: || get(stats),
    doc: openapi::describe::<__path_stats>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const TIME_STATS: Endpoint = Endpoint {
    function: "onboarding-time-stats",
    method: Method::GET,
    path: "/api/onboarding/time-stats",
    route: || get(time_stats),
    doc: openapi::describe::<__path_time_stats>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OnboardingStepReport)]
struct StepBody {
    /// The step the user has just finished: `phone`, `bvn` or `selfie`, after their current
    /// one. `email` completes when the address is verified and `kyc_complete` when the KYC
    /// provider confirms it: reporting either is refused (403; `kyc`, the Node version's
    /// name for `kyc_complete`, too).
    #[schema(value_type = OnboardingStep)]
    step: String,
    /// Whatever the app wants kept with the step (the Node version's `metadata`): a JSON
    /// object of at most 4 KiB, serialized.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

/// Where the caller now stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OnboardingProgress)]
struct StepAnswer {
    onboarding_step: OnboardingStep,
    /// The caller's KYC status, as the KYC provider last reported it.
    #[schema(value_type = KycStatus)]
    kyc_status: String,
}

/// Most bytes of step metadata kept.
const MAX_METADATA_BYTES: usize = 4096;

#[utoipa::path(post, path = "/api/onboarding/step", security(("bearer" = [])), request_body = StepBody,
    responses((status = 200, description = "The caller moved on to the step.", body = Ok<StepAnswer>),
        (status = 403, description = "The step is `email` or `kyc_complete`, which the app cannot report, or the \
            account is blocked or not active."),
        (status = 404, description = "The caller's account no longer exists.")))]
/// Records that the caller finished an onboarding step.
///
/// Onboarding only moves forward: a step that is not after the caller's current one is
/// refused (400).
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn step(caller: AuthUser, State(state): State<AppState>, JsonBody(body): JsonBody<StepBody>) -> Result<Response> {
    // `kyc` is the Node version's documented name for the last step.
    let name = if body.step == "kyc" { "kyc_complete" } else { body.step.as_str() };
    let step = OnboardingStep::parse(name)
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
    Ok(ok(StepAnswer { onboarding_step: step, kyc_status }))
}

/// The funnel.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OnboardingStats)]
struct Funnel {
    /// Users who signed up in the range (everyone starts on the first step).
    total_users: i64,
    /// Every step, in order.
    steps: Vec<StepCount>,
}

#[utoipa::path(get, path = "/api/onboarding/stats", security(("bearer" = ["admin"])), params(DateRange),
    responses((status = 200, description = "The funnel, step by step.", body = Ok<Funnel>)))]
/// The onboarding funnel of the users (role `user`) who signed up in the range.
#[tracing::instrument(skip_all)]
async fn stats(
    _: AdminUser,
    State(state): State<AppState>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let (from, to) = range.past()?;
    let steps = repo::funnel(&state.db.reader().await?, from, to).await?;
    let total = steps.iter().map(|s| s.users).sum();
    Ok(ok(Funnel { total_users: total, steps }))
}

#[utoipa::path(get, path = "/api/onboarding/time-stats", security(("bearer" = ["admin"])), params(DateRange),
    responses((status = 200, description = "Hours from sign-up to completed KYC.", body = Ok<TimeStats>)))]
/// How long the users (role `user`) who signed up in the range took to complete KYC.
#[tracing::instrument(skip_all)]
async fn time_stats(
    _: AdminUser,
    State(state): State<AppState>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let (from, to) = range.past()?;
    Ok(ok(repo::time_to_kyc(&state.db.reader().await?, from, to).await?))
}
