//! `POST /api/experiments`, `GET /api/experiments`, `GET`/`PATCH /api/experiments/{id}`,
//! `GET /api/experiments/{id}/assignment` (the hot path: apps ask on start),
//! `GET /api/experiments/{id}/results` and `POST /api/experiments/power`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, patch, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::repo::{self, Experiment, NewExperiment};
use super::stats::{self, Arm, SampleRatio};
use super::types::{bucket, Key, Metric, Reference, Status, Targeting, Variant, Variants};
use crate::auth::{ActingMarketer, AnalyticsReader, AuthUser};
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{created, ok, DateRange, JsonBody, PageInfo, Paging, PathParams, QueryParams};
use crate::openapi::{self, Ok};
use crate::state::AppState;
use crate::uses::Resource;

const USES: &[Resource] = &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret];

pub const CREATE: Endpoint = Endpoint {
    function: "experiments-create",
    method: Method::POST,
    path: "/api/experiments",
    route: || post(create),
    doc: openapi::describe::<__path_create>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const LIST: Endpoint = Endpoint {
    function: "experiments-list",
    method: Method::GET,
    path: "/api/experiments",
    route: || get(list),
    doc: openapi::describe::<__path_list>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const GET: Endpoint = Endpoint {
    function: "experiments-get",
    method: Method::GET,
    path: "/api/experiments/{id}",
    route: || get(by_id),
    doc: openapi::describe::<__path_by_id>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const UPDATE: Endpoint = Endpoint {
    function: "experiments-update",
    method: Method::PATCH,
    path: "/api/experiments/{id}",
    route: || patch(update),
    doc: openapi::describe::<__path_update>,
    tier: Tier::Standard,
    key_scope: None,
    // Completing an experiment raises `experiment.completed` for the webhooks.
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret, Resource::WebhookQueue],
};
/// `{id}` takes the experiment's key too: apps know keys, not ids.
pub const ASSIGNMENT: Endpoint = Endpoint {
    function: "experiments-assignment",
    method: Method::GET,
    path: "/api/experiments/{id}/assignment",
    route: || get(assignment),
    doc: openapi::describe::<__path_assignment>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const POWER: Endpoint = Endpoint {
    function: "experiments-power",
    method: Method::POST,
    path: "/api/experiments/power",
    route: || post(power),
    doc: openapi::describe::<__path_power>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const RESULTS: Endpoint = Endpoint {
    function: "experiments-results",
    method: Method::GET,
    path: "/api/experiments/{id}/results",
    route: || get(results),
    doc: openapi::describe::<__path_results>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct RefPath {
    /// The experiment's id, or its key (`new-onboarding`): anything else is not found.
    id: String,
}

impl RefPath {
    fn reference(&self) -> Result<Reference> {
        Reference::parse(&self.id).ok_or(Error::NotFound("experiment not found"))
    }
}

/// 1–200 characters of name, at most 2,000 of description (empty clears it).
fn name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid_field("name", "name must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

fn description(raw: Option<String>) -> Result<Option<String>> {
    let Some(text) = raw.map(|d| d.trim().to_owned()) else { return Ok(None) };
    if text.chars().count() > 2000 {
        return Err(Error::invalid_field("description", "description must be at most 2000 characters"));
    }
    Ok((!text.is_empty()).then_some(text))
}

/// The experiment's dates, as days or instants like every range in the API.
fn dates(start: Option<String>, end: Option<String>) -> Result<crate::http::Bounds> {
    DateRange { start_date: start, end_date: end }.bounds()
}

/// A new experiment; it starts in draft.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateExperiment)]
struct CreateBody {
    /// What apps will name it by: lower-case letters, digits and dashes; unique.
    #[schema(min_length = 3, max_length = 64, pattern = "^[a-z0-9][a-z0-9-]{2,63}$", example = "new-onboarding")]
    key: String,
    /// Trimmed; 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    name: String,
    /// Trimmed; at most 2,000 characters (blank: none).
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// 2 to 10 variants with unique names, the first the control; their weights sum to 1 or
    /// to 100.
    #[schema(min_items = 2, max_items = 10)]
    variants: Vec<Variant>,
    metric: Metric,
    /// Who takes part; left out, everyone.
    targeting: Option<Targeting>,
    /// When it may start assigning users: a day (`2026-11-01`, from its start, UTC) or an
    /// RFC 3339 time; years 1970 to 9999.
    #[schema(example = "2026-11-01")]
    start_date: Option<String>,
    /// When it stops: a day (`2026-11-30`, included) or an RFC 3339 time (excluded); after
    /// `startDate`.
    #[schema(example = "2026-11-30")]
    end_date: Option<String>,
}

/// `{"experiment": …}`: the answer about one experiment.
#[derive(Serialize, ToSchema)]
struct ExperimentAnswer {
    experiment: Experiment,
}

#[utoipa::path(post, path = "/api/experiments", security(("bearer" = ["admin", "marketer"])),
    request_body = CreateBody,
    responses((status = 201, description = "The experiment, in draft.", body = Ok<ExperimentAnswer>),
        (status = 409, description = "An experiment with this key exists; `error.details.field` is `key`.")))]
/// Creates an experiment, in draft: its variants, metric and targeting.
#[tracing::instrument(skip_all, fields(user_id = %caller.0.id))]
async fn create(
    caller: ActingMarketer,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response> {
    let (start_date, end_date) = dates(body.start_date, body.end_date)?;
    let new = NewExperiment {
        key: Key::parse(&body.key)?.as_str().to_owned(),
        name: name(&body.name)?,
        description: description(body.description)?,
        variants: Variants::parse(body.variants)?,
        metric: Metric::parse(body.metric)?,
        targeting: body.targeting.unwrap_or_default().check()?,
        start_date,
        end_date,
        created_by: caller.0.id,
    };
    let experiment = repo::create(&state.db.writer().await?, &new).await?;
    tracing::info!(experiment_id = %experiment.id, key = experiment.key, "experiment created");
    Ok(created(ExperimentAnswer { experiment }))
}

/// What a signed-in user may know of an experiment: not its seed, targeting or author.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PublicExperiment)]
struct PublicView {
    id: Uuid,
    key: String,
    name: String,
    description: Option<String>,
    // Inline: the users' account status is the document's `Status`.
    #[schema(inline)]
    status: Status,
    /// The variants' names, the control first.
    #[schema(min_items = 2, max_items = 10)]
    variants: Vec<String>,
    start_date: Option<chrono::DateTime<Utc>>,
    end_date: Option<chrono::DateTime<Utc>>,
}

impl From<Experiment> for PublicView {
    fn from(e: Experiment) -> Self {
        PublicView {
            id: e.id,
            variants: e.variants.all().iter().map(|v| v.name.clone()).collect(),
            key: e.key,
            name: e.name,
            description: e.description,
            status: e.status,
            start_date: e.start_date,
            end_date: e.end_date,
        }
    }
}

/// An experiment in a list: whole for staff, its public part for other users.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum ExperimentListItem {
    Staff(Experiment),
    Public(PublicView),
}

/// A page of experiments, newest first.
#[derive(Serialize, ToSchema)]
struct ExperimentPage {
    experiments: Vec<ExperimentListItem>,
    pagination: PageInfo,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Staff only: the experiments in this status (other users always get the active ones).
    #[param(inline)]
    status: Option<Status>,
}

#[utoipa::path(get, path = "/api/experiments", security(("bearer" = [])), params(Paging, ListQuery),
    responses((status = 200, description = "A page of experiments, newest first: whole for staff (admin, analyst, \
        marketer), only the public part of the active ones for other users.", body = Ok<ExperimentPage>)))]
/// Lists experiments: staff see all of them, other users the active ones.
///
/// Staff may filter by `status`; for other users it is ignored.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn list(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(paging): QueryParams<Paging>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response> {
    let page = paging.check()?;
    let staff = caller.role.reads_analytics();
    let status = if staff { q.status } else { Some(Status::Active) };
    let (experiments, total) = repo::page(&state.db.reader().await?, status, page.limit, page.offset).await?;
    let view = |e: Experiment| match staff {
        true => ExperimentListItem::Staff(e),
        false => ExperimentListItem::Public(PublicView::from(e)),
    };
    Ok(ok(ExperimentPage { experiments: experiments.into_iter().map(view).collect(), pagination: page.info(total) }))
}

async fn find(state: &AppState, path: &RefPath) -> Result<Experiment> {
    repo::find(&state.db.writer().await?, &path.reference()?).await?.ok_or(Error::NotFound("experiment not found"))
}

#[utoipa::path(get, path = "/api/experiments/{id}", security(("bearer" = ["admin", "analyst", "marketer"])),
    params(RefPath),
    responses((status = 200, description = "The experiment.", body = Ok<ExperimentAnswer>),
        (status = 404, description = "No such experiment.")))]
/// Returns an experiment, by id or key.
#[tracing::instrument(skip_all)]
async fn by_id(
    _: AnalyticsReader,
    State(state): State<AppState>,
    PathParams(path): PathParams<RefPath>,
) -> Result<Response> {
    Ok(ok(ExperimentAnswer { experiment: find(&state, &path).await? }))
}

/// What to change; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = UpdateExperiment)]
struct UpdateBody {
    /// Trimmed; 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    name: Option<String>,
    /// Trimmed; at most 2,000 characters (blank clears it).
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// draft → active ⇄ paused, and active or paused → completed; the same status is no move.
    #[schema(inline)]
    status: Option<Status>,
    /// Only in draft. 2 to 10 variants with unique names, the first the control; their weights
    /// sum to 1 or to 100.
    #[schema(min_items = 2, max_items = 10)]
    variants: Option<Vec<Variant>>,
    /// Only in draft.
    metric: Option<Metric>,
    /// Replaces the whole targeting; `{}` takes everyone.
    targeting: Option<Targeting>,
    /// A day (`2026-11-01`, from its start, UTC) or an RFC 3339 time; years 1970 to 9999.
    #[schema(example = "2026-11-01")]
    start_date: Option<String>,
    /// A day (`2026-11-30`, included) or an RFC 3339 time (excluded); after the start date.
    #[schema(example = "2026-11-30")]
    end_date: Option<String>,
}

#[utoipa::path(patch, path = "/api/experiments/{id}", security(("bearer" = ["admin", "marketer"])),
    params(RefPath), request_body = UpdateBody,
    responses((status = 200, description = "The experiment as changed.", body = Ok<ExperimentAnswer>),
        (status = 404, description = "No such experiment."),
        (status = 409, description = "A move its status may not make (`error.details` has `from` and `to`), \
            variants or metric changed out of draft, or the experiment changed meanwhile.")))]
/// Changes an experiment: its name, dates, targeting, status, and in draft its variants and
/// metric.
#[tracing::instrument(skip_all, fields(user_id = %caller.0.id))]
async fn update(
    caller: ActingMarketer,
    State(state): State<AppState>,
    PathParams(path): PathParams<RefPath>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Response> {
    let current = find(&state, &path).await?;
    let mut next = current.clone();
    if let Some(raw) = &body.name {
        next.name = name(raw)?;
    }
    if body.description.is_some() {
        next.description = description(body.description)?;
    }
    if let Some(targeting) = body.targeting {
        next.targeting = targeting.check()?;
    }
    if body.start_date.is_some() || body.end_date.is_some() {
        let (start, end) = dates(body.start_date, body.end_date)?;
        next.start_date = start.or(current.start_date);
        next.end_date = end.or(current.end_date);
        if let (Some(start), Some(end)) = (next.start_date, next.end_date) {
            if start >= end {
                return Err(Error::invalid_field("endDate", "endDate must be after startDate"));
            }
        }
    }
    if body.variants.is_some() || body.metric.is_some() {
        // Users already split by these would be counted against others.
        if current.status != Status::Draft {
            return Err(Error::Conflict("variants, weights and the metric may change only in draft"));
        }
        if let Some(variants) = body.variants {
            next.variants = Variants::parse(variants)?;
        }
        if let Some(metric) = body.metric {
            next.metric = Metric::parse(metric)?;
        }
    }
    if let Some(status) = body.status {
        if !current.status.may_become(status) {
            return Err(Error::ConflictDetail {
                message: format!("an experiment cannot move from {} to {}", current.status.as_str(), status.as_str()),
                details: json!({ "from": current.status.as_str(), "to": status.as_str() }),
            });
        }
        next.status = status;
    }
    let completes = next.status == Status::Completed && current.status != Status::Completed;
    let conn = state.db.writer().await?;
    let (updated, staged) = conn
        .atomically(async |conn| {
            let Some(updated) = repo::replace(conn, &current, &next).await? else { return Ok((None, Vec::new())) };
            let staged = if completes {
                let data = json!({ "id": updated.id, "key": updated.key, "name": updated.name,
                                   "completedAt": updated.completed_at });
                crate::webhooks::raise(conn, crate::webhooks::EventType::ExperimentCompleted, &data).await?
            } else {
                Vec::new()
            };
            Ok((Some(updated), staged))
        })
        .await?;
    let updated = updated.ok_or(Error::Conflict("the experiment changed meanwhile; read it again"))?;
    state.relay().send_now(&staged).await;
    forget(&state, &updated).await;
    tracing::info!(experiment_id = %updated.id, status = updated.status.as_str(), "experiment updated");
    Ok(ok(ExperimentAnswer { experiment: updated }))
}

fn cache_key(state: &AppState, reference: &str) -> String {
    state.cache.key(&format!("experiment:{reference}"))
}

/// Drops the experiment from Redis and this process's memory (others forget it within
/// `EXPERIMENT_CACHE_SECONDS`).
async fn forget(state: &AppState, experiment: &Experiment) {
    for reference in [experiment.id.to_string(), experiment.key.clone()] {
        state.experiments.remove(&reference);
        state.cache.delete(&cache_key(state, &reference)).await;
    }
}

/// The experiment an assignment names: from memory, else Redis, else the reader.
async fn cached(state: &AppState, path: &RefPath) -> Result<Arc<Experiment>> {
    let ttl = state.config.experiment_cache_ttl;
    if let Some(experiment) = state.experiments.get(&path.id) {
        return Ok(experiment);
    }
    let key = cache_key(state, &path.id);
    let from_redis = match ttl.is_zero() {
        true => None,
        false => state.cache.get(&key).await.and_then(|bytes| serde_json::from_slice::<Experiment>(&bytes).ok()),
    };
    let experiment = match from_redis {
        Some(experiment) => Arc::new(experiment),
        None => {
            let experiment = repo::find(&state.db.reader().await?, &path.reference()?)
                .await?
                .ok_or(Error::NotFound("experiment not found"))?;
            if !ttl.is_zero() {
                if let Ok(bytes) = serde_json::to_vec(&experiment) {
                    state.cache.set(&key, &bytes, ttl).await;
                }
            }
            Arc::new(experiment)
        }
    };
    state.experiments.put(&path.id, experiment.clone());
    Ok(experiment)
}

/// The caller's variant of an experiment.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ExperimentAssignment {
    experiment_id: Uuid,
    key: String,
    /// The variant's name; `null` when the caller is not targeted.
    variant: Option<String>,
    /// The variant's config; `null` when it has none or the caller is not targeted.
    #[schema(value_type = Option<Object>)]
    config: Value,
    /// Why `variant` is `null`; absent when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<NotAssigned>,
}

#[derive(Serialize, ToSchema)]
enum NotAssigned {
    /// The experiment's targeting leaves the caller out.
    #[serde(rename = "not targeted")]
    NotTargeted,
}

#[utoipa::path(get, path = "/api/experiments/{id}/assignment", security(("bearer" = [])), params(RefPath),
    responses((status = 200, description = "The caller's variant and its config, or why there is none.", body = Ok<ExperimentAssignment>),
        (status = 404, description = "No such experiment."),
        (status = 409, description = "The experiment is not active, has not started yet or has ended.")))]
/// Returns the caller's variant of a running experiment, by id or key.
///
/// The variant comes from a hash of the experiment's seed and the caller's id: the same on
/// every call. The first call that assigns a variant records the caller's exposure. A change
/// of the experiment's status or dates may take a few seconds to reach every server.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn assignment(
    caller: AuthUser,
    State(state): State<AppState>,
    PathParams(path): PathParams<RefPath>,
) -> Result<Response> {
    let experiment = cached(&state, &path).await?;
    experiment.running_at(Utc::now())?;
    let not_targeted = || {
        ok(ExperimentAssignment {
            experiment_id: experiment.id,
            key: experiment.key.clone(),
            variant: None,
            config: Value::Null,
            reason: Some(NotAssigned::NotTargeted),
        })
    };
    if !experiment.targeting.admits_role(caller.role) {
        return Ok(not_targeted());
    }
    let variant = experiment.variants.pick(bucket(&experiment.seed, caller.id));
    // A user this process has recorded is in for good: the exposure is there, and the
    // variant cannot change while the experiment runs.
    let seen = format!("{}:{}", experiment.id, caller.id);
    if state.exposed.get(&seen).is_none() {
        let exposure = repo::expose(&state.db.writer().await?, &experiment, caller.id, &variant.name).await?;
        if !exposure.targeted {
            return Ok(not_targeted());
        }
        if exposure.first {
            state.metrics.experiment_exposure(&experiment.key, &variant.name);
        }
        state.exposed.put(&seen, ());
    }
    Ok(ok(ExperimentAssignment {
        experiment_id: experiment.id,
        key: experiment.key.clone(),
        variant: Some(variant.name.clone()),
        config: variant.config.clone(),
        reason: None,
    }))
}

/// `{"results": …}`.
#[derive(Serialize, ToSchema)]
struct ExperimentResultsAnswer {
    results: ExperimentResults,
}

/// An experiment's results so far.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ExperimentResults {
    experiment_id: Uuid,
    key: String,
    name: String,
    // Inline: the users' account status is the document's `Status`.
    #[schema(inline)]
    status: Status,
    metric: Metric,
    /// Participants of every variant.
    total_participants: i64,
    /// Users exposed to more than one variant, left out of every count.
    excluded_users: i64,
    /// Every variant, the control first.
    #[schema(min_items = 2, max_items = 10)]
    variants: Vec<VariantResult>,
    /// The sample-ratio check: whether the split of participants matches the weights.
    srm: SampleRatio,
}

/// One variant's counts, and how it compares with the control (`null` for the control
/// itself, and where the data cannot say: an empty arm, a control that never converts).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct VariantResult {
    name: String,
    /// Users exposed to this variant alone.
    participants: i64,
    /// Of those, the ones who did the metric's event within its window of their exposure.
    conversions: i64,
    /// `conversions / participants`, 0 to 1 (0 with no participants).
    #[schema(minimum = 0, maximum = 1)]
    conversion_rate: f64,
    /// The relative difference from the control's rate.
    lift: Option<f64>,
    /// The 95% (Wald) interval of the difference from the control's rate: `[low, high]`.
    #[schema(min_items = 2, max_items = 2)]
    ci95: Option<[f64; 2]>,
    /// The two-proportion z-test's p-value against the control.
    #[schema(minimum = 0, maximum = 1)]
    p_value: Option<f64>,
    /// The chance that this variant's rate beats the control's (Beta posteriors), 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    chance_to_beat_control: Option<f64>,
    /// The same difference judged so that looking every day does not inflate false positives:
    /// an always-valid p-value and 95 % confidence sequence (mSPRT, docs/experiments.md). Stop
    /// on these, not on `pValue`, when the results are watched as they come in.
    sequential: Option<stats::Sequential>,
}

#[utoipa::path(get, path = "/api/experiments/{id}/results", security(("bearer" = ["admin", "analyst", "marketer"])),
    params(RefPath),
    responses((status = 200, description = "Participants and conversions per variant, with the statistics on them.", body = Ok<ExperimentResultsAnswer>),
        (status = 404, description = "No such experiment.")))]
/// Returns an experiment's results: each variant against the control, and the split check.
#[tracing::instrument(skip_all)]
async fn results(
    _: AnalyticsReader,
    State(state): State<AppState>,
    PathParams(path): PathParams<RefPath>,
) -> Result<Response> {
    let conn = state.db.reader().await?;
    let experiment = repo::find(&conn, &path.reference()?).await?.ok_or(Error::NotFound("experiment not found"))?;
    let (counts, excluded) = repo::counts(&conn, &experiment).await?;
    let arm = |name: &str| {
        counts.iter().find(|c| c.variant == name).map_or(Arm { participants: 0, conversions: 0 }, |c| Arm {
            participants: c.participants,
            conversions: c.conversions,
        })
    };
    let control = arm(&experiment.variants.control().name);
    let variants: Vec<VariantResult> = experiment
        .variants
        .all()
        .iter()
        .enumerate()
        .map(|(i, variant)| {
            let this = arm(&variant.name);
            let comparison = if i == 0 { stats::Comparison::default() } else { stats::compare(control, this) };
            VariantResult {
                name: variant.name.clone(),
                participants: this.participants,
                conversions: this.conversions,
                conversion_rate: this.rate().unwrap_or(0.0),
                lift: comparison.lift,
                ci95: comparison.ci95,
                p_value: comparison.p_value,
                chance_to_beat_control: comparison.chance_to_beat_control,
                sequential: comparison.sequential,
            }
        })
        .collect();
    let participants: Vec<i64> = experiment.variants.all().iter().map(|v| arm(&v.name).participants).collect();
    let srm = stats::sample_ratio(&participants, &experiment.variants.shares());
    Ok(ok(ExperimentResultsAnswer {
        results: ExperimentResults {
            experiment_id: experiment.id,
            total_participants: participants.iter().sum::<i64>(),
            excluded_users: excluded,
            variants,
            srm,
            key: experiment.key,
            name: experiment.name,
            status: experiment.status,
            metric: experiment.metric,
        },
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PowerRequest)]
struct PowerBody {
    /// The metric's rate now, above 0 and below 1, for a conversion metric; or give
    /// `baselineMean` and `stdDev`.
    #[schema(exclusive_minimum = 0, exclusive_maximum = 1, example = 0.1)]
    baseline_rate: Option<f64>,
    /// The metric's mean per participant now, for a count or a sum (with `stdDev`).
    baseline_mean: Option<f64>,
    /// The metric's standard deviation per participant, above 0.
    #[schema(exclusive_minimum = 0)]
    std_dev: Option<f64>,
    /// The smallest relative change worth detecting, up or down: 0.05 for 5 %. Not 0, above −1.
    #[schema(exclusive_minimum = -1, example = 0.05)]
    minimum_detectable_effect: f64,
    /// The false-positive rate over the whole experiment, above 0, at most 0.5; 0.05 when left out.
    #[schema(exclusive_minimum = 0, maximum = 0.5)]
    alpha: Option<f64>,
    /// The chance to detect the change if it is real, 0.5 to 0.99; 0.8 when left out.
    #[schema(minimum = 0.5, maximum = 0.99)]
    power: Option<f64>,
    /// Variants, the control included: 2 to 10; 2 when left out.
    #[schema(minimum = 2, maximum = 10)]
    variants: Option<u32>,
    /// Participants entering per day, all variants together, at least 1: to say how many days
    /// it takes.
    #[schema(minimum = 1)]
    daily_traffic: Option<f64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PowerAnswer)]
struct PowerAnswer {
    /// Participants each variant needs.
    participants_per_variant: u64,
    /// Over all variants.
    total_participants: u64,
    /// Days at `dailyTraffic`, rounded up; null without it.
    days: Option<u64>,
    /// The false-positive rate each comparison with the control is held to (Bonferroni:
    /// `alpha` shared among the `variants − 1` comparisons).
    alpha_per_comparison: f64,
}

/// A finite number within (`low`, `high`] or [`low`, `high`], as the field says.
fn within(field: &str, value: f64, low: f64, high: f64, low_inclusive: bool) -> Result<f64> {
    let above = if low_inclusive { value >= low } else { value > low };
    if value.is_finite() && above && value <= high {
        Ok(value)
    } else {
        let opening = if low_inclusive { "[" } else { "(" };
        Err(Error::invalid_field(field, format!("{field} must be within {opening}{low}, {high}]")))
    }
}

#[utoipa::path(post, path = "/api/experiments/power", security(("bearer" = ["admin", "analyst", "marketer"])),
    request_body = PowerBody,
    responses((status = 200, description = "Participants needed per variant, and the days that takes.", body = Ok<PowerAnswer>),
        (status = 400, description = "A rate and a mean both or neither, a value out of range, a change that takes a rate past 0 or 1, or settings that need more than 10^12 participants.")))]
/// Says how many participants an experiment needs to detect a given relative change.
///
/// The normal approximation of a two-sided test of each variant against the control, each
/// arm with its own variance: n = (z₁₋α/2 + z_power)² (σ₀² + σ₁²) / δ² (docs/experiments.md).
#[tracing::instrument(skip_all)]
async fn power(_: AnalyticsReader, JsonBody(body): JsonBody<PowerBody>) -> Result<Response> {
    let baseline = match (body.baseline_rate, body.baseline_mean, body.std_dev) {
        (Some(rate), None, None) if rate > 0.0 && rate < 1.0 => stats::Baseline::Rate(rate),
        (Some(_), None, None) => {
            return Err(Error::invalid_field("baselineRate", "baselineRate must be above 0 and below 1"))
        }
        (None, Some(mean), Some(sd)) if mean.is_finite() && mean != 0.0 => {
            stats::Baseline::Mean { mean, std_dev: within("stdDev", sd, 0.0, f64::MAX, false)? }
        }
        (None, Some(_), Some(_)) => {
            return Err(Error::invalid_field("baselineMean", "baselineMean must be a number other than 0"))
        }
        _ => {
            return Err(Error::validation("give baselineRate, or baselineMean with stdDev"));
        }
    };
    let mde = within("minimumDetectableEffect", body.minimum_detectable_effect, -1.0, f64::MAX, false)?;
    let alpha = within("alpha", body.alpha.unwrap_or(0.05), 0.0, 0.5, false)?;
    let power = within("power", body.power.unwrap_or(0.8), 0.5, 0.99, true)?;
    let variants = body.variants.unwrap_or(2);
    if !(2..=10).contains(&variants) {
        return Err(Error::invalid_field("variants", "variants must be 2 to 10"));
    }
    let daily = body.daily_traffic.map(|d| within("dailyTraffic", d, 1.0, f64::MAX, true)).transpose()?;
    let needed = stats::participants_needed(baseline, mde, alpha, power, variants).ok_or_else(|| {
        Error::invalid_field("minimumDetectableEffect", "the change must not be 0, nor take the rate to 0 % or 100 %")
    })?;
    // Past this no experiment runs (and the totals would overflow): a vanishing alpha or effect.
    const MOST: f64 = 1e12;
    if needed.is_nan() || needed > MOST {
        return Err(Error::validation("these settings need more than 10^12 participants a variant"));
    }
    let per_variant = needed.ceil() as u64;
    let total = per_variant * u64::from(variants);
    Ok(ok(PowerAnswer {
        participants_per_variant: per_variant,
        total_participants: total,
        days: daily.map(|d| (total as f64 / d).ceil() as u64),
        alpha_per_comparison: alpha / f64::from(variants - 1),
    }))
}
