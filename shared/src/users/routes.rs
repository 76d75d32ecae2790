//! `GET|PUT /api/users/profile` and `PUT /api/users/password` for the caller; the admin
//! list, lookup, block and role change.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, patch, put};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::repo::{self, AccountChange};
use super::types::{DeviceFingerprint, PersonName, Phone, PhoneRegion, ProfileUpdate, Role, StaffView, User};
use crate::apikeys::{OrKey, Scope};
use crate::auth::{self, ActingAdmin, AdminUser, AuthUser, Password};
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{envelope_bytes, json_bytes, ok, ClientInfo, JsonBody, PathParams, QueryParams};
use crate::openapi::{self, Ok};
use crate::state::AppState;
use crate::uses::Resource;

pub const PROFILE_GET: Endpoint = Endpoint {
    function: "users-profile-get",
    method: Method::GET,
    path: "/api/users/profile",
    route: || get(profile),
    doc: openapi::describe::<__path_profile>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const PROFILE_UPDATE: Endpoint = Endpoint {
    function: "users-profile-update",
    method: Method::PUT,
    path: "/api/users/profile",
    route: || put(update_profile),
    doc: openapi::describe::<__path_update_profile>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LIST: Endpoint = Endpoint {
    function: "users-list",
    method: Method::GET,
    path: "/api/users",
    route: || get(list),
    doc: openapi::describe::<__path_list>,
    tier: Tier::Standard,
    key_scope: Some(Scope::UsersRead),
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const GET: Endpoint = Endpoint {
    function: "users-get",
    method: Method::GET,
    path: "/api/users/{id}",
    route: || get(by_id),
    doc: openapi::describe::<__path_by_id>,
    tier: Tier::Standard,
    key_scope: Some(Scope::UsersRead),
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const BLOCK: Endpoint = Endpoint {
    function: "users-block",
    method: Method::PATCH,
    path: "/api/users/{id}/block",
    route: || patch(block),
    doc: openapi::describe::<__path_block>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const ROLE: Endpoint = Endpoint {
    function: "users-role",
    method: Method::PATCH,
    path: "/api/users/{id}/role",
    route: || patch(role),
    doc: openapi::describe::<__path_role>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const PASSWORD: Endpoint = Endpoint {
    function: "users-password",
    method: Method::PUT,
    path: "/api/users/password",
    route: || put(change_password),
    doc: openapi::describe::<__path_change_password>,
    tier: Tier::PasswordHashing,
    key_scope: None,
    uses: &[
        Resource::TokenSigningKey,
        Resource::TokenPublicKeys,
        Resource::TokenPublicKeysWrite,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};

#[utoipa::path(get, path = "/api/users/profile", security(("bearer" = [])),
    responses((status = 200, description = "The caller's account.", body = Ok<User>)))]
/// Gives the caller's own account.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn profile(caller: AuthUser, State(state): State<AppState>) -> Result<Response> {
    Ok(ok(caller.load(&state).await?))
}

/// At least one field.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProfileBody {
    #[schema(min_length = 1, max_length = 100)]
    first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    last_name: Option<String>,
    /// 7 to 15 digits, optionally after `+`.
    #[schema(max_length = 32, example = "+2348012345678")]
    phone: Option<String>,
    #[schema(min_length = 1, max_length = 256)]
    device_fingerprint: Option<String>,
}

impl ProfileUpdate {
    /// Checks a profile change; a phone number without its country code is read in `region`.
    fn parse(body: ProfileBody, region: PhoneRegion) -> Result<Self> {
        let update = ProfileUpdate {
            first_name: body.first_name.as_deref().map(|v| PersonName::parse("firstName", v)).transpose()?,
            last_name: body.last_name.as_deref().map(|v| PersonName::parse("lastName", v)).transpose()?,
            phone: body.phone.as_deref().map(|p| Phone::parse(p, region)).transpose()?,
            device_fingerprint: body.device_fingerprint.as_deref().map(DeviceFingerprint::parse).transpose()?,
        };
        if update.first_name.is_none()
            && update.last_name.is_none()
            && update.phone.is_none()
            && update.device_fingerprint.is_none()
        {
            return Err(Error::validation("give at least one of firstName, lastName, phone, deviceFingerprint"));
        }
        Ok(update)
    }
}

#[utoipa::path(put, path = "/api/users/profile", security(("bearer" = [])), request_body = ProfileBody,
    responses((status = 200, description = "The account as changed.", body = Ok<User>),
        (status = 409, description = "Another account has this phone number.")))]
/// Changes the caller's name, phone number or device fingerprint.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn update_profile(
    caller: AuthUser,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ProfileBody>,
) -> Result<Response> {
    let update = ProfileUpdate::parse(body, state.config.phone_region)?;
    caller.load(&state).await?;
    let conn = state.db.writer().await?;
    let user = repo::update_profile(&conn, caller.id, &update).await?.ok_or(Error::NotFound("user not found"))?;
    repo::invalidate_lists(&state.cache).await;
    Ok(ok(user))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<i64>,
    #[param(minimum = 0, default = 0)]
    offset: Option<i64>,
}

/// The page the list's statement writes as JSON (`repo::list_page_json`).
#[derive(Serialize, ToSchema)]
struct UserPage {
    users: Vec<UserListItem>,
    pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UserListItem {
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    role: Role,
    status: super::types::Status,
    blocked: bool,
    created_at: chrono::DateTime<chrono::Utc>,
    referrals: Vec<ReferralRef>,
}

#[derive(Serialize, ToSchema)]
struct ReferralRef {
    id: Uuid,
    status: crate::referrals::ReferralStatus,
}

#[derive(Serialize, ToSchema)]
struct Pagination {
    limit: i64,
    offset: i64,
}

#[utoipa::path(get, path = "/api/users", security(("bearer" = ["admin"])), params(ListQuery),
    responses((status = 200, description = "A page of users, newest first, each with their referrals.", body = Ok<UserPage>)))]
/// The guide's user list. Served from the cache when it can be; a miss runs one statement
/// and caches the enveloped body. Errors are never cached.
#[tracing::instrument(skip_all)]
async fn list(
    _: OrKey<AdminUser>,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Response> {
    let limit = query.limit.unwrap_or(10);
    let offset = query.offset.unwrap_or(0);
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid_field("limit", "limit must be between 1 and 100"));
    }
    if offset < 0 {
        return Err(Error::invalid_field("offset", "offset must not be negative"));
    }
    let key = repo::list_cache_key(&state.cache, limit, offset);
    let cached = state.cache.get(&key).await;
    state.metrics.cache_lookup("users-list", cached.is_some());
    if let Some(body) = cached {
        return Ok(json_bytes(body.into()));
    }
    // A miss reads the writer: a page cached from a lagging reader would stay stale for the
    // whole TTL. Misses are rare, so the writer hardly notices.
    let users = repo::list_page_json(&state.db.writer().await?, limit, offset).await?;
    let body = envelope_bytes(&format!(r#"{{"users":{users},"pagination":{{"limit":{limit},"offset":{offset}}}}}"#));
    state.cache.put(&state.cache.key(repo::LIST_CACHE_FAMILY), &key, &body).await;
    Ok(json_bytes(body))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct UserPath {
    /// The user's id.
    id: Uuid,
}

#[utoipa::path(get, path = "/api/users/{id}", security(("bearer" = ["admin"])), params(UserPath),
    responses((status = 200, description = "The user, with their fraud score.", body = Ok<StaffView>),
        (status = 404, description = "No such user.")))]
/// Gives one user's account, with the fraud signals staff review.
#[tracing::instrument(skip_all, fields(user_id = %path.id))]
async fn by_id(
    _: OrKey<AdminUser>,
    State(state): State<AppState>,
    PathParams(path): PathParams<UserPath>,
) -> Result<Response> {
    let user = repo::by_id(&state.db.reader().await?, path.id).await?.ok_or(Error::NotFound("user not found"))?;
    Ok(ok(StaffView::from(&user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BlockBody {
    /// `isBlocked` is the Node version's name for it.
    #[serde(default = "yes", alias = "isBlocked")]
    blocked: bool,
}

fn yes() -> bool {
    true
}

/// Applies an admin's change to another account, ending that account's sessions; nobody
/// changes their own block state or role.
async fn change_other(state: &AppState, admin: &ActingAdmin, id: Uuid, change: AccountChange<'_>) -> Result<Response> {
    if id == admin.0.id {
        return Err(Error::Forbidden("nobody may change their own block state or role"));
    }
    let user =
        repo::change_account(&state.db.writer().await?, id, &change).await?.ok_or(Error::NotFound("user not found"))?;
    state.revocations.publish(&user).await;
    repo::invalidate_lists(&state.cache).await;
    tracing::info!(admin_id = %admin.0.id, user_id = %id, ?change, "account changed by an admin");
    Ok(ok(StaffView::from(&user)))
}

#[utoipa::path(patch, path = "/api/users/{id}/block", security(("bearer" = ["admin"])), params(UserPath),
    request_body = BlockBody,
    responses((status = 200, description = "The user as changed; their sessions end.", body = Ok<StaffView>),
        (status = 404, description = "No such user.")))]
/// Blocks or unblocks a user (not oneself); a blocked user's sessions end at once.
#[tracing::instrument(skip_all, fields(user_id = %path.id))]
async fn block(
    admin: ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<UserPath>,
    JsonBody(body): JsonBody<BlockBody>,
) -> Result<Response> {
    change_other(&state, &admin, path.id, AccountChange { blocked: Some(body.blocked), ..Default::default() }).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

#[utoipa::path(patch, path = "/api/users/{id}/role", security(("bearer" = ["admin"])), params(UserPath),
    request_body = RoleBody,
    responses((status = 200, description = "The user as changed; their sessions end.", body = Ok<StaffView>),
        (status = 404, description = "No such user.")))]
/// Changes a user's role (not one's own); their sessions end, so the new role applies at once.
#[tracing::instrument(skip_all, fields(user_id = %path.id))]
async fn role(
    admin: ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<UserPath>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Result<Response> {
    change_other(&state, &admin, path.id, AccountChange { role: Some(body.role), ..Default::default() }).await
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

#[utoipa::path(put, path = "/api/users/password", security(("bearer" = [])), request_body = PasswordBody,
    responses((status = 200, description = "Every session ended; this one's new tokens.", body = Ok<auth::Session>),
        (status = 429, description = "Too many attempts from this address or on this account.")))]
/// Changes the caller's password, given the current one; every session ends, and this
/// device gets a new one.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn change_password(
    _: auth::IpLimited<auth::Login>,
    client: ClientInfo,
    caller: AuthUser,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<Response> {
    let new_password = Password::parse_field("newPassword", body.new_password)?;
    let user = caller.load(&state).await?;
    if !auth::prove_password(&state, &user, body.current_password, &client.ip).await? {
        return Err(Error::invalid_field("currentPassword", "the current password is not right"));
    }
    let hash = state.hasher.hash(new_password).await?;
    let conn = state.db.writer().await?;
    let change = AccountChange { password_hash: Some(&hash), ..Default::default() };
    let user = repo::change_account(&conn, user.id, &change).await?.ok_or(Error::Unauthorized("account not found"))?;
    state.revocations.publish(&user).await;
    let tokens = auth::start_session(&conn, &state.tokens, &user).await?;
    Ok(ok(auth::Session { user, tokens }))
}
