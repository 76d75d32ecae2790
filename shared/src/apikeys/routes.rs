//! `POST /api/admin/api-keys`, `GET /api/admin/api-keys`, `DELETE /api/admin/api-keys/{id}`.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::gate::Secret;
use super::repo::{self, ApiKey, NewKey, Scope};
use crate::auth::{ActingAdmin, AdminUser};
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{created, names_from, ok, required_text, JsonBody, PathParams};
use crate::openapi::{self, Ok};
use crate::state::AppState;
use crate::uses::Resource;

pub const CREATE: Endpoint = Endpoint {
    function: "admin-api-keys-create",
    method: Method::POST,
    path: "/api/admin/api-keys",
    route: || post(create),
    doc: openapi::describe::<__path_create>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LIST: Endpoint = Endpoint {
    function: "admin-api-keys-list",
    method: Method::GET,
    path: "/api/admin/api-keys",
    route: || get(list),
    doc: openapi::describe::<__path_list>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const REVOKE: Endpoint = Endpoint {
    function: "admin-api-keys-revoke",
    method: Method::DELETE,
    path: "/api/admin/api-keys/{id}",
    route: || delete(revoke),
    doc: openapi::describe::<__path_revoke>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

/// A key to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewApiKey)]
struct CreateBody {
    /// What it is for ("core banking payouts"): 1 to 100 characters after trimming, no
    /// control characters.
    #[schema(min_length = 1, max_length = 100, example = "core banking")]
    name: String,
    /// What it may do: at least one; each route that takes keys names the scope it needs.
    #[schema(value_type = Vec<Scope>, min_items = 1)]
    scopes: Vec<String>,
}

/// A key as made: the only answer that holds its secret.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedApiKey)]
struct Created {
    #[serde(flatten)]
    key: ApiKey,
    /// The secret, `gs_` and 43 characters: shown this once, stored only as a hash. Send it as
    /// `Authorization: Bearer gs_…`.
    #[schema(example = "gs_3kT9xQ2a…")]
    #[serde(rename = "key")]
    secret: String,
}

#[utoipa::path(post, path = "/api/admin/api-keys", security(("bearer" = ["admin"])), request_body = CreateBody,
    responses((status = 201, description = "The key, with its secret: shown this once. The creation is audited.",
        body = Ok<Created>)))]
/// Makes an API key for the operator's servers, with the scopes it may use.
#[tracing::instrument(skip_all)]
async fn create(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response> {
    let name = required_text("name", Some(&body.name), 100)?;
    let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let scopes = names_from("scopes", &body.scopes, &known)?;
    let secret = Secret::generate();
    let new =
        NewKey { id: Uuid::now_v7(), name, prefix: secret.prefix(), secret_hash: &secret.hash(), scopes: &scopes };
    let key = repo::create(&state.db.writer().await?, &new, admin.id).await?;
    tracing::info!(admin_id = %admin.id, key_id = %key.id, prefix = key.prefix, "API key created");
    Ok(created(Created { key, secret: secret.expose().to_owned() }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct KeyList {
    api_keys: Vec<ApiKey>,
}

#[utoipa::path(get, path = "/api/admin/api-keys", security(("bearer" = ["admin"])),
    responses((status = 200, description = "Every key, newest first, revoked ones too; never a secret.",
        body = Ok<KeyList>)))]
/// Lists the API keys: name, prefix, scopes, when made, last used and revoked.
#[tracing::instrument(skip_all)]
async fn list(_: AdminUser, State(state): State<AppState>) -> Result<Response> {
    Ok(ok(KeyList { api_keys: repo::list(&state.db.writer().await?).await? }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct KeyPath {
    /// The key's id.
    id: Uuid,
}

#[utoipa::path(delete, path = "/api/admin/api-keys/{id}", security(("bearer" = ["admin"])), params(KeyPath),
    responses((status = 200, description = "The key, revoked: the next request with it is refused (401). Revoking \
        it again changes nothing. The revocation is audited.", body = Ok<ApiKey>),
        (status = 404, description = "No such key.")))]
/// Revokes an API key at once.
#[tracing::instrument(skip_all, fields(key_id = %path.id))]
async fn revoke(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<KeyPath>,
) -> Result<Response> {
    let key = repo::revoke(&state.db.writer().await?, path.id, admin.id)
        .await?
        .ok_or(Error::NotFound("API key not found"))?;
    tracing::info!(admin_id = %admin.id, key_id = %key.id, "API key revoked");
    Ok(ok(key))
}
