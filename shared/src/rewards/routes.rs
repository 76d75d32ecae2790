//! The finance routes: `GET /api/admin/rewards` (JSON or streamed CSV) and
//! `PATCH /api/admin/rewards/{id}` (paid with a reference, or voided with a reason).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::repo::{self, Decided, Decision, Filter, Reward, RewardStatus, CSV_HEADER};
use crate::app::{AppState, Endpoint};
use crate::auth::{ActingAdmin, AdminUser};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::http::{ok, DateRange, JsonBody, Paging, PathParams, QueryParams};
use crate::uses::Resource;

pub const ADMIN_LIST: Endpoint = Endpoint {
    function: "admin-rewards-list",
    method: Method::GET,
    path: "/api/admin/rewards",
    route: || get(list),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const ADMIN_UPDATE: Endpoint = Endpoint {
    function: "admin-rewards-update",
    method: Method::PATCH,
    path: "/api/admin/rewards/{id}",
    route: || patch(update),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

/// Rows per statement while streaming the CSV export.
const EXPORT_PAGE: i64 = 1000;

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    format: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn list(
    _: AdminUser,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
    QueryParams(range): QueryParams<DateRange>,
    QueryParams(paging): QueryParams<Paging>,
) -> Result<Response> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            RewardStatus::parse(s)
                .ok_or_else(|| Error::invalid_field("status", "status must be pending, available, paid or voided"))?,
        ),
    };
    let filter = Filter { status, bounds: range.bounds()? };
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let page = paging.check()?;
            let conn = state.db.reader().await?;
            let (rewards, total) = repo::page(&conn, filter, page.limit, page.offset).await?;
            let totals: Map<String, Value> =
                repo::totals(&conn, filter).await?.into_iter().map(|(c, sum)| (c, json!(sum.to_string()))).collect();
            Ok(ok(json!({
                "rewards": rewards,
                "totals": totals,
                "pagination": { "page": page.page, "limit": page.limit, "total": total },
            })))
        }
        "csv" => Ok(csv(state.db.reader().await?, filter)),
        _ => Err(Error::invalid_field("format", "format must be json or csv")),
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateBody {
    status: String,
    external_ref: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct RewardPath {
    id: Uuid,
}

fn required<'a>(field: &str, value: &'a Option<String>, max: usize) -> Result<&'a str> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() && v.chars().count() <= max && !v.chars().any(char::is_control) => Ok(v),
        _ => Err(Error::invalid_field(field, format!("{field} must be 1 to {max} characters"))),
    }
}

#[tracing::instrument(skip_all, fields(reward_id = %path.id))]
async fn update(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<RewardPath>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Response> {
    let decision = match body.status.as_str() {
        "paid" => Decision::Paid { external_ref: required("externalRef", &body.external_ref, 128)? },
        "voided" => Decision::Voided { reason: required("reason", &body.reason, 500)? },
        _ => return Err(Error::invalid_field("status", "status must be paid or voided")),
    };
    match repo::decide(&state.db.writer().await?, path.id, admin.id, &decision).await? {
        Decided::Done(reward) => {
            tracing::info!(admin_id = %admin.id, status = reward.status, "reward decided");
            Ok(ok(reward))
        }
        Decided::NotFound => Err(Error::NotFound("reward not found")),
        Decided::Refused(status) => Err(Error::ConflictDetail {
            message: format!("a {status} reward cannot be marked {}", body.status),
            details: json!({ "status": status }),
        }),
    }
}
