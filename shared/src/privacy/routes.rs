//! A person's rights: a copy of everything held about them (`GET /api/users/me/export`, and
//! `GET /api/admin/users/{id}/export` for staff answering a request) and its erasure (`DELETE
//! /api/users/me`, and `POST /api/admin/users/{id}/erase`); staff's are audited with a reason.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::erase::{self, Erased};
use super::repo;
use crate::auth::{self, ActingAdmin, AuthUser};
use crate::db::Conn;
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{ok, ClientInfo, JsonBody, PathParams, QueryParams};
use crate::openapi::{self, Ok};
use crate::state::AppState;
use crate::uses::Resource;

pub const EXPORT: Endpoint = Endpoint {
    function: "users-export",
    method: Method::GET,
    path: "/api/users/me/export",
    route: || get(export),
    doc: openapi::describe::<__path_export>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const ADMIN_EXPORT: Endpoint = Endpoint {
    function: "admin-users-export",
    method: Method::GET,
    path: "/api/admin/users/{id}/export",
    route: || get(admin_export),
    doc: openapi::describe::<__path_admin_export>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

pub const DOWNLOAD: Endpoint = Endpoint {
    function: "exports-download",
    method: Method::GET,
    path: "/api/exports/{id}",
    route: || get(download),
    doc: openapi::describe::<__path_download>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::ExportsRead, Resource::DatabaseSecret],
};
pub const ERASE: Endpoint = Endpoint {
    function: "users-erase",
    method: Method::DELETE,
    path: "/api/users/me",
    route: || delete(erase_me),
    doc: openapi::describe::<__path_erase_me>,
    tier: Tier::PasswordHashing,
    key_scope: None,
    uses: &[
        Resource::TokenPublicKeys,
        Resource::WebhookQueue,
        Resource::ErasureList,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};
pub const ADMIN_ERASE: Endpoint = Endpoint {
    function: "admin-users-erase",
    method: Method::POST,
    path: "/api/admin/users/{id}/erase",
    route: || post(admin_erase),
    doc: openapi::describe::<__path_admin_erase>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[
        Resource::TokenPublicKeys,
        Resource::WebhookQueue,
        Resource::ErasureList,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};

/// Exports a user may ask for a day.
const PER_DAY: u64 = 3;

/// Everything held about a user: their profile (without the password hash), sessions
/// (without token material), referrals both ways, rewards, onboarding and KYC, notifications,
/// mail suppressions, events (the newest 10,000, with `eventsTotal`), experiment exposures,
/// and the audit rows they made or that are about them. Keys are the database's columns.
#[derive(Serialize, ToSchema)]
#[schema(as = UserExport, value_type = Object)]
struct Document(Value);

#[utoipa::path(get, path = "/api/users/me/export", security(("bearer" = [])),
    responses((status = 200, description = "Everything held about the caller, as one document.", body = Ok<Document>),
        (status = 429, description = "Three exports a day; retry after `Retry-After` seconds.")))]
/// Gives the caller a copy of everything GrowStack holds about them.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn export(caller: AuthUser, State(state): State<AppState>) -> Result<Response> {
    // The account's own word, not only the token's: a revoked session gets nothing.
    let user = caller.load(&state).await?;
    let day = Duration::from_secs(24 * 3600);
    if let Some(retry_after_secs) = state.cache.take(&format!("export:{}", user.id), 1, PER_DAY, day).await {
        return Err(Error::RateLimited { retry_after_secs });
    }
    let conn = state.db.writer().await?;
    let document = repo::export(&conn, user.id).await?.ok_or(Error::NotFound("user not found"))?;
    Ok(ok(Document(with_full_export(&state, &conn, document, user.id, user.id).await?)))
}

/// `document`, and when it leaves events out, the full export asked for (for `requester`, who
/// is mailed its link) as `fullExport: {id, status}`.
async fn with_full_export(
    state: &AppState,
    conn: &Conn,
    mut document: Value,
    user: Uuid,
    requester: Uuid,
) -> Result<Value> {
    let total = document["eventsTotal"].as_i64().unwrap_or(0);
    if total > repo::EVENTS_IN_EXPORT && state.exports().is_some() {
        let requested = super::exports::request(conn, user, requester).await?;
        document["fullExport"] = serde_json::to_value(requested).map_err(anyhow::Error::new)?;
    }
    Ok(document)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// The token of the mailed link.
    #[param(min_length = 1, max_length = 200)]
    token: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct ExportPath {
    /// The export's id.
    id: Uuid,
}

#[utoipa::path(get, path = "/api/exports/{id}", params(ExportPath, TokenQuery),
    responses((status = 302, description = "To the file (gzipped JSON), by a URL that works for five minutes.",
        headers(("Location" = String, description = "The file's presigned S3 URL."))),
        (status = 404, description = "No such export, or the token is not its own."),
        (status = 410, description = "The link has expired (24 hours after it was mailed).")))]
/// Downloads a full export: the link mailed when it was ready, valid for 24 hours.
#[tracing::instrument(skip_all, fields(export_id = %path.id))]
async fn download(
    State(state): State<AppState>,
    PathParams(path): PathParams<ExportPath>,
    QueryParams(q): QueryParams<TokenQuery>,
) -> Result<Response> {
    let token = crate::http::required_text("token", q.token.as_deref(), 200)?;
    let exports = state.exports().ok_or(Error::NotFound("no such export"))?;
    let url = exports.download(&state.db.writer().await?, path.id, token).await?;
    let mut response = axum::http::StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(axum::http::header::LOCATION, url.parse().map_err(|_| anyhow::anyhow!("presigned URL"))?);
    headers.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct UserPath {
    /// The user's id.
    id: Uuid,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReasonQuery {
    /// Why staff export it (the person's request, its reference): 1 to 500 characters,
    /// kept in the audit row.
    #[param(min_length = 1, max_length = 500)]
    reason: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/users/{id}/export", security(("bearer" = ["admin"])),
    params(UserPath, ReasonQuery),
    responses((status = 200, description = "Everything held about the user; the export is audited with its reason.",
        body = Ok<Document>),
        (status = 404, description = "No such user.")))]
/// Exports a user's data for staff answering their request.
#[tracing::instrument(skip_all, fields(user_id = %path.id))]
async fn admin_export(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<UserPath>,
    QueryParams(q): QueryParams<ReasonQuery>,
) -> Result<Response> {
    let reason = crate::http::required_text("reason", q.reason.as_deref(), 500)?;
    let conn = state.db.writer().await?;
    let document = conn
        .atomically(async |conn| {
            let Some(document) = repo::export(conn, path.id).await? else { return Ok(None) };
            repo::audit(conn, admin.id, path.id, "exported", reason).await?;
            Ok(Some(with_full_export(&state, conn, document, path.id, admin.id).await?))
        })
        .await?
        .ok_or(Error::NotFound("user not found"))?;
    tracing::info!(admin_id = %admin.id, "user data exported by staff");
    Ok(ok(Document(document)))
}

/// What an erasure answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Erasure)]
struct ErasureDone {
    user_id: Uuid,
    /// When the account was erased (the first time, for a repeated request).
    erased_at: DateTime<Utc>,
    /// Whether the S3 archive has been rewritten without the account's records yet: within
    /// 30 days; until then the Athena view leaves them out.
    archive_purged: bool,
}

/// Erases `user` (by `actor`, for `reason`), then ends what outlives the transaction: the
/// access tokens still in flight, the cached user lists, the `user.erased` webhook, and the
/// archive's erasure list. A repeated erasure changes nothing and answers the same.
async fn erase_account(state: &AppState, user: Uuid, actor: Uuid, reason: &str) -> Result<ErasureDone> {
    let conn = state.db.writer().await?;
    let erased = conn.atomically(async |conn| erase::erase(conn, user, actor, reason).await).await?;
    match erased {
        Erased::Missing => return Err(Error::NotFound("user not found")),
        Erased::Already => {}
        Erased::Now(staged) => {
            if let Some(account) = crate::users::by_id(&conn, user).await? {
                state.revocations.publish(&account).await;
            }
            crate::users::invalidate_lists(&state.cache).await;
            state.relay().send_now(&staged).await;
            // The scheduler's archive-erasures task lists it if this cannot.
            if let Some(archive) = state.archive() {
                if let Err(e) = archive.list_erasures(&conn).await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "erasure not listed in the archive yet; the scheduler will"
                    );
                }
            }
            tracing::info!(user_id = %user, actor_id = %actor, "account erased");
        }
    }
    let row = conn
        .query_one(
            "SELECT erased_at, archive_purged_at IS NOT NULL AS purged FROM erasures WHERE user_id = $1",
            &[&user],
        )
        .await?;
    Ok(ErasureDone { user_id: user, erased_at: row.get("erased_at"), archive_purged: row.get("purged") })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EraseMeRequest)]
struct EraseMeBody {
    /// The account's password: erasure cannot be undone.
    password: String,
}

#[utoipa::path(delete, path = "/api/users/me", security(("bearer" = [])), request_body = EraseMeBody,
    responses((status = 200, description = "The account is erased and every session ended.", body = Ok<ErasureDone>),
        (status = 400, description = "The password is not right."),
        (status = 429, description = "Too many attempts from this address or on this account.")))]
/// Erases the caller's account and what is held about them, given their password.
///
/// Name, email, phone, addresses, devices and event properties are removed; the ledger keeps
/// the rewards under the account's id, with nothing that names the person (docs/privacy.md).
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn erase_me(
    _: auth::IpLimited<auth::Login>,
    client: ClientInfo,
    caller: AuthUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<EraseMeBody>,
) -> Result<Response> {
    let user = caller.load(&state).await?;
    if !auth::prove_password(&state, &user, body.password, &client.ip).await? {
        return Err(Error::invalid_field("password", "the password is not right"));
    }
    let done = erase_account(&state, user.id, user.id, "the account holder's request").await?;
    let mut response = ok(done);
    if auth::cookie::wanted(&headers) {
        auth::cookie::set(&mut response, None, state.tokens.refresh_ttl());
    }
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminEraseRequest)]
struct AdminEraseBody {
    /// Why staff erase it (the person's request, its reference): 1 to 500 characters, kept in
    /// the audit row.
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/admin/users/{id}/erase", security(("bearer" = ["admin"])), params(UserPath),
    request_body = AdminEraseBody,
    responses((status = 200, description = "The account is erased (or was already); the erasure is audited.",
        body = Ok<ErasureDone>),
        (status = 403, description = "Staff erase their own account with `DELETE /api/users/me`."),
        (status = 404, description = "No such user.")))]
/// Erases a user's account for staff answering their request.
#[tracing::instrument(skip_all, fields(user_id = %path.id))]
async fn admin_erase(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<UserPath>,
    JsonBody(body): JsonBody<AdminEraseBody>,
) -> Result<Response> {
    let reason = crate::http::required_text("reason", body.reason.as_deref(), 500)?;
    if path.id == admin.id {
        return Err(Error::Forbidden("erase your own account with DELETE /api/users/me"));
    }
    Ok(ok(erase_account(&state, path.id, admin.id, reason).await?))
}
