//! `GET /api/users/me/export` (the user) and `GET /api/admin/users/{id}/export` (staff
//! answering a request, audited with its reason).

use std::time::Duration;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::repo;
use crate::auth::{ActingAdmin, AuthUser};
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{ok, PathParams, QueryParams};
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
    let document = repo::export(&state.db.writer().await?, user.id).await?.ok_or(Error::NotFound("user not found"))?;
    Ok(ok(Document(document)))
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
            repo::audit_export(conn, admin.id, path.id, reason).await?;
            Ok(Some(document))
        })
        .await?
        .ok_or(Error::NotFound("user not found"))?;
    tracing::info!(admin_id = %admin.id, "user data exported by staff");
    Ok(ok(Document(document)))
}
