//! `POST /api/experiments`, `GET /api/experiments`, `GET`/`PATCH /api/experiments/{id}`,
//! `GET /api/experiments/{id}/assignment` (the hot path: apps ask on start) and
//! `GET /api/experiments/{id}/results`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, patch, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::repo::{self, Experiment, NewExperiment};
use super::stats::{self, Arm};
use super::types::{bucket, Key, Metric, Reference, Status, Targeting, Variant, Variants};
use crate::app::{AppState, Endpoint};
use crate::auth::{ActingMarketer, AnalyticsReader, AuthUser};
use crate::error::{Error, Result};
use crate::http::{created, ok, DateRange, JsonBody, Paging, PathParams, QueryParams};
use crate::uses::Resource;

const USES: &[Resource] = &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret];

pub const CREATE: Endpoint = Endpoint {
    function: "experiments-create",
    method: Method::POST,
    path: "/api/experiments",
    route: || post(create),
    uses: USES,
};
pub const LIST: Endpoint = Endpoint {
    function: "experiments-list",
    method: Method::GET,
    path: "/api/experiments",
    route: || get(list),
    uses: USES,
};
pub const GET: Endpoint = Endpoint {
    function: "experiments-get",
    method: Method::GET,
    path: "/api/experiments/{id}",
    route: || get(by_id),
    uses: USES,
};
pub const UPDATE: Endpoint = Endpoint {
    function: "experiments-update",
    method: Method::PATCH,
    path: "/api/experiments/{id}",
    route: || patch(update),
    uses: USES,
};
/// `{id}` takes the experiment's key too: apps know keys, not ids.
pub const ASSIGNMENT: Endpoint = Endpoint {
    function: "experiments-assignment",
    method: Method::GET,
    path: "/api/experiments/{id}/assignment",
    route: || get(assignment),
    uses: USES,
};
pub const RESULTS: Endpoint = Endpoint {
    function: "experiments-results",
    method: Method::GET,
    path: "/api/experiments/{id}/results",
    route: || get(results),
    uses: USES,
};

#[derive(Deserialize)]
struct RefPath {
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBody {
    key: String,
    name: String,
    description: Option<String>,
    variants: Vec<Variant>,
    metric: Metric,
    targeting: Option<Targeting>,
    start_date: Option<String>,
    end_date: Option<String>,
}

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
    Ok(created(json!({ "experiment": experiment })))
}

/// What a signed-in user may know of an experiment: not its seed, targeting or author.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicView<'a> {
    id: Uuid,
    key: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    status: Status,
    variants: Vec<&'a str>,
    start_date: Option<chrono::DateTime<Utc>>,
    end_date: Option<chrono::DateTime<Utc>>,
}

impl<'a> From<&'a Experiment> for PublicView<'a> {
    fn from(e: &'a Experiment) -> Self {
        PublicView {
            id: e.id,
            key: &e.key,
            name: &e.name,
            description: e.description.as_deref(),
            status: e.status,
            variants: e.variants.all().iter().map(|v| v.name.as_str()).collect(),
            start_date: e.start_date,
            end_date: e.end_date,
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<Status>,
}

/// Users see the active experiments; staff all of them, in `?status=` if given.
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
    if staff {
        return Ok(page.respond("experiments", experiments, total));
    }
    let views: Vec<PublicView> = experiments.iter().map(PublicView::from).collect();
    Ok(page.respond("experiments", views, total))
}

async fn find(state: &AppState, path: &RefPath) -> Result<Experiment> {
    repo::find(&state.db.writer().await?, &path.reference()?).await?.ok_or(Error::NotFound("experiment not found"))
}

#[tracing::instrument(skip_all)]
async fn by_id(
    _: AnalyticsReader,
    State(state): State<AppState>,
    PathParams(path): PathParams<RefPath>,
) -> Result<Response> {
    Ok(ok(json!({ "experiment": find(&state, &path).await? })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    description: Option<String>,
    status: Option<Status>,
    variants: Option<Vec<Variant>>,
    metric: Option<Metric>,
    targeting: Option<Targeting>,
    start_date: Option<String>,
    end_date: Option<String>,
}

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
    let updated = repo::replace(&state.db.writer().await?, &current, &next)
        .await?
        .ok_or(Error::Conflict("the experiment changed meanwhile; read it again"))?;
    forget(&state, &updated).await;
    tracing::info!(experiment_id = %updated.id, status = updated.status.as_str(), "experiment updated");
    Ok(ok(json!({ "experiment": updated })))
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

/// The caller's variant: computed from the seed, recorded as an exposure the first time.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn assignment(
    caller: AuthUser,
    State(state): State<AppState>,
    PathParams(path): PathParams<RefPath>,
) -> Result<Response> {
    let experiment = cached(&state, &path).await?;
    experiment.running_at(Utc::now())?;
    let not_targeted = || {
        ok(json!({
            "experimentId": experiment.id, "key": experiment.key,
            "variant": null, "config": null, "reason": "not targeted",
        }))
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
    Ok(ok(json!({
        "experimentId": experiment.id, "key": experiment.key,
        "variant": variant.name, "config": variant.config,
    })))
}

/// Participants and conversions per variant (counted in SQL) and the statistics on them.
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
    let variants: Vec<Value> = experiment
        .variants
        .all()
        .iter()
        .enumerate()
        .map(|(i, variant)| {
            let this = arm(&variant.name);
            let comparison = if i == 0 { stats::Comparison::default() } else { stats::compare(control, this) };
            json!({
                "name": variant.name,
                "participants": this.participants,
                "conversions": this.conversions,
                "conversionRate": this.rate().unwrap_or(0.0),
                "lift": comparison.lift,
                "ci95": comparison.ci95,
                "pValue": comparison.p_value,
                "chanceToBeatControl": comparison.chance_to_beat_control,
            })
        })
        .collect();
    let participants: Vec<i64> = experiment.variants.all().iter().map(|v| arm(&v.name).participants).collect();
    let srm = stats::sample_ratio(&participants, &experiment.variants.shares());
    Ok(ok(json!({ "results": {
        "experimentId": experiment.id,
        "key": experiment.key,
        "name": experiment.name,
        "status": experiment.status,
        "metric": experiment.metric,
        "totalParticipants": participants.iter().sum::<i64>(),
        "excludedUsers": excluded,
        "variants": variants,
        "srm": srm,
    }})))
}
