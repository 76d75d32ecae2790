//! The finance routes: `GET /api/admin/rewards` (JSON or streamed CSV) and
//! `PATCH /api/admin/rewards/{id}` (paid with a reference, or voided with a reason).

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::repo::{self, Actor, Decided, Decision, Filter, Reward, RewardStatus, CSV_HEADER};
use crate::apikeys::{OrKey, Scope};
use crate::auth::{ActingAdmin, AdminUser};
use crate::db::Conn;
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{ok, required_text, DateRange, JsonBody, PageInfo, Paging, PathParams, QueryParams};
use crate::openapi::{self, Ok};
use crate::state::AppState;
use crate::uses::Resource;
use crate::webhooks::EventType;

pub const ADMIN_LIST: Endpoint = Endpoint {
    function: "admin-rewards-list",
    method: Method::GET,
    path: "/api/admin/rewards",
    route: || get(list),
    doc: openapi::describe::<__path_list>,
    tier: Tier::Standard,
    key_scope: Some(Scope::RewardsRead),
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const ADMIN_UPDATE: Endpoint = Endpoint {
    function: "admin-rewards-update",
    method: Method::PATCH,
    path: "/api/admin/rewards/{id}",
    route: || patch(update),
    doc: openapi::describe::<__path_update>,
    tier: Tier::Standard,
    key_scope: Some(Scope::RewardsWrite),
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret, Resource::WebhookQueue],
};

/// Rows per statement while streaming the CSV export.
const EXPORT_PAGE: i64 = 1000;

/// A string schema with a fixed set of values, for fields parsed by hand from a string (so
/// that a wrong value keeps its own error message).
fn one_of(values: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied()))
}

/// The `format` parameter's schema; a parameter given `schema_with` takes its description
/// from the schema, not from the field's doc comment.
fn format_schema() -> RefOr<Schema> {
    one_of(&["json", "csv"])
        .default(Some(json!("json")))
        .description(Some("`json`: a page of rows; `csv`: the whole filtered ledger, not paged, as a download."))
        .into()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only rewards with this status now (a held reward past its hold is `available`).
    #[serde(default)]
    #[param(value_type = Option<RewardStatus>)]
    status: crate::http::Filter<RewardStatus>,
    #[serde(default)]
    #[param(schema_with = format_schema)]
    format: crate::http::Filter<Format>,
}

/// How the ledger comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Format {
    Json,
    Csv,
}

/// A page of the ledger (the `json` format).
#[derive(Serialize, ToSchema)]
struct RewardPage {
    rewards: Vec<Reward>,
    /// The sum of the filtered rewards' amounts per currency (`NGN`), voided ones left out;
    /// decimal strings (`"1500.00"`).
    totals: BTreeMap<String, String>,
    pagination: PageInfo,
}

#[utoipa::path(get, path = "/api/admin/rewards", security(("bearer" = ["admin"])),
    params(ListQuery, DateRange, Paging),
    responses((status = 200, description = "A page of rewards, oldest first, with the filter's totals; or, with \
        `format=csv`, the whole filtered ledger as a CSV download.",
        content((Ok<RewardPage> = "application/json"), (String = "text/csv")))))]
/// Lists the reward ledger, filtered by status and creation time, as JSON pages or CSV.
#[tracing::instrument(skip_all)]
async fn list(
    _: OrKey<AdminUser>,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
    QueryParams(range): QueryParams<DateRange>,
    QueryParams(paging): QueryParams<Paging>,
) -> Result<Response> {
    let filter = Filter { status: q.status.0, bounds: range.past()? };
    match q.format.0.unwrap_or(Format::Json) {
        Format::Json => {
            let page = paging.check()?;
            let conn = state.db.reader().await?;
            let (rewards, total) = repo::page(&conn, filter, page.limit, page.offset).await?;
            let totals = repo::totals(&conn, filter).await?.into_iter().map(|(c, sum)| (c, sum.to_string())).collect();
            Ok(ok(RewardPage { rewards, totals, pagination: page.info(total) }))
        }
        Format::Csv => Ok(csv(state.db.reader().await?, filter)),
    }
}

/// The whole filtered ledger as CSV, a page of rows per statement, streamed as it is read.
fn csv(conn: Conn, filter: Filter) -> Response {
    struct Export {
        conn: Conn,
        after: Option<(DateTime<Utc>, Uuid)>,
        header: bool,
        done: bool,
    }
    let start = Export { conn, after: None, header: true, done: false };
    let stream = futures::stream::unfold(start, move |mut export| async move {
        if export.done {
            return None;
        }
        if export.header {
            export.header = false;
            return Some((Ok(Bytes::from_static(CSV_HEADER.as_bytes())), export));
        }
        match repo::after(&export.conn, filter, export.after, EXPORT_PAGE).await {
            Ok(rows) => {
                export.done = (rows.len() as i64) < EXPORT_PAGE;
                export.after = rows.last().map(|r: &Reward| (r.created_at, r.id));
                let chunk: String = rows.iter().map(Reward::csv_line).collect();
                Some((Ok(Bytes::from(chunk)), export))
            }
            Err(e) => {
                // The header is sent: all that is left is to cut the body short.
                tracing::error!(error = %e, "reward export failed mid-stream");
                export.done = true;
                Some((Err(std::io::Error::other("export failed")), export))
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"rewards.csv\""),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

fn decision_schema() -> RefOr<Schema> {
    one_of(&["paid", "voided"]).description(Some("`paid` needs `externalRef`; `voided` needs `reason`.")).into()
}

/// A finance decision: paid out (an available reward) or voided (a held or available one).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = RewardDecision)]
struct UpdateBody {
    #[schema(schema_with = decision_schema)]
    status: String,
    /// The payment's reference in the payout system; required when `paid`. 1 to 128
    /// characters after trimming, no control characters.
    #[schema(min_length = 1, max_length = 128, example = "PAYOUT-2026-0042")]
    external_ref: Option<String>,
    /// Why the reward is voided; required when `voided`. 1 to 500 characters after trimming,
    /// no control characters.
    #[schema(min_length = 1, max_length = 500)]
    reason: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct RewardPath {
    /// The reward's id.
    id: Uuid,
}

#[utoipa::path(patch, path = "/api/admin/rewards/{id}", security(("bearer" = ["admin"])), params(RewardPath),
    request_body = UpdateBody,
    responses((status = 200, description = "The reward as decided; the change is audited.", body = Ok<Reward>),
        (status = 404, description = "No such reward."),
        (status = 409, description = "The reward's status does not allow it (only an available reward can be paid; \
            a paid or voided one cannot be voided; a reward paid with another `externalRef` cannot be paid again); \
            `error.details.status` is that status.")))]
/// Marks a reward paid, with the payout's reference, or voids it, with a reason.
///
/// Paying a paid reward again with the same `externalRef` answers as the first time and
/// changes nothing, so a payout system may retry.
#[tracing::instrument(skip_all, fields(reward_id = %path.id))]
async fn update(
    caller: OrKey<ActingAdmin>,
    State(state): State<AppState>,
    PathParams(path): PathParams<RewardPath>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Response> {
    let actor = match &caller {
        OrKey::User(ActingAdmin(admin)) => Actor::Staff(admin.id),
        OrKey::Key(key) => Actor::Key(key.id),
    };
    let decision = match body.status.as_str() {
        "paid" => Decision::Paid { external_ref: required_text("externalRef", body.external_ref.as_deref(), 128)? },
        "voided" => Decision::Voided { reason: required_text("reason", body.reason.as_deref(), 500)? },
        _ => return Err(Error::invalid_field("status", "status must be paid or voided")),
    };
    let conn = state.db.writer().await?;
    let (decided, staged) = conn
        .atomically(async |conn| {
            let decided = repo::decide(conn, path.id, actor, &decision).await?;
            // In the decision's transaction: the operator hears of it once, and only if it held.
            let staged = match &decided {
                Decided::Done(reward) => {
                    let kind = if reward.status == "paid" { EventType::RewardPaid } else { EventType::RewardVoided };
                    let data = serde_json::to_value(reward).map_err(anyhow::Error::from)?;
                    crate::webhooks::raise(conn, kind, &data).await?
                }
                _ => Vec::new(),
            };
            Ok((decided, staged))
        })
        .await?;
    state.relay().send_now(&staged).await;
    match decided {
        Decided::Done(reward) => {
            tracing::info!(?actor, status = reward.status, "reward decided");
            Ok(ok(reward))
        }
        Decided::NotFound => Err(Error::NotFound("reward not found")),
        Decided::Refused(status) => {
            // A retry of the same payout: the reward as it was paid.
            if let Decision::Paid { external_ref } = decision {
                if let Some(reward) = repo::by_id(&conn, path.id).await? {
                    if reward.status == "paid" && reward.external_ref.as_deref() == Some(external_ref) {
                        return Ok(ok(reward));
                    }
                }
            }
            Err(Error::ConflictDetail {
                message: format!("a {status} reward cannot be marked {}", body.status),
                details: json!({ "status": status }),
            })
        }
    }
}
