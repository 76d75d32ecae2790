//! The admin's webhook routes: endpoints (create, list, update, delete, rotate the secret),
//! their deliveries, a redelivery, and a test event.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::repo::{self, Changes, Delivery, Endpoint as Hook, NewEndpoint};
use super::target::Target;
use super::types::{new_secret, EventType};
use crate::auth::{ActingAdmin, AdminUser};
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{created, ok, JsonBody, PathParams, QueryParams};
use crate::openapi::{self, Ok};
use crate::state::AppState;
use crate::uses::Resource;

const READS: &[Resource] = &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret];
const SENDS: &[Resource] =
    &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret, Resource::WebhookQueue];

macro_rules! admin_endpoint {
    ($name:ident, $function:literal, $method:ident, $path:literal, $route:ident, $handler:ident, $doc:ident, $uses:expr) => {
        pub const $name: Endpoint = Endpoint {
            function: $function,
            method: Method::$method,
            path: $path,
            route: || $route($handler),
            doc: openapi::describe::<$doc>,
            tier: Tier::Standard,
            key_scope: None,
            uses: $uses,
        };
    };
}

admin_endpoint!(CREATE, "admin-webhooks-create", POST, "/api/admin/webhooks", post, create, __path_create, READS);
admin_endpoint!(LIST, "admin-webhooks-list", GET, "/api/admin/webhooks", get, list, __path_list, READS);
admin_endpoint!(
    UPDATE,
    "admin-webhooks-update",
    PATCH,
    "/api/admin/webhooks/{id}",
    patch,
    update,
    __path_update,
    READS
);
admin_endpoint!(
    DELETE,
    "admin-webhooks-delete",
    DELETE,
    "/api/admin/webhooks/{id}",
    delete,
    remove,
    __path_remove,
    READS
);
admin_endpoint!(
    ROTATE,
    "admin-webhooks-rotate",
    POST,
    "/api/admin/webhooks/{id}/rotate-secret",
    post,
    rotate,
    __path_rotate,
    READS
);
admin_endpoint!(
    DELIVERIES,
    "admin-webhooks-deliveries",
    GET,
    "/api/admin/webhooks/{id}/deliveries",
    get,
    deliveries,
    __path_deliveries,
    READS
);
admin_endpoint!(
    REDELIVER,
    "admin-webhooks-redeliver",
    POST,
    "/api/admin/webhooks/{id}/deliveries/{deliveryId}/redeliver",
    post,
    redeliver,
    __path_redeliver,
    SENDS
);
admin_endpoint!(TEST, "admin-webhooks-test", POST, "/api/admin/webhooks/{id}/test", post, test, __path_test, SENDS);

fn local(state: &AppState) -> bool {
    state.config.local
}

/// The URL, checked as a delivery will check it: https, and resolving to public addresses
/// only (both waived with `GROWSTACK_ENV=local`).
async fn checked_url(state: &AppState, raw: &str) -> Result<String> {
    let target = Target::parse(raw, local(state))?;
    target.resolve(local(state)).await.map_err(|why| Error::invalid_field("url", format!("url: {why}")))?;
    Ok(target.uri.to_string())
}

fn event_types(raw: &[String]) -> Result<Vec<&'static str>> {
    let known: Vec<&str> = EventType::ALL.iter().filter(|k| k.subscribable()).map(|k| k.as_str()).collect();
    crate::http::names_from("events", raw, &known)
}

fn description(raw: Option<&str>) -> Result<&str> {
    let text = raw.unwrap_or("").trim();
    if text.chars().count() > 500 || text.chars().any(char::is_control) {
        return Err(Error::invalid_field("description", "description must be at most 500 characters"));
    }
    Ok(text)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewWebhook)]
struct CreateBody {
    /// Where to POST: `https` (plain `http` only on a local stack), resolving to public
    /// addresses only.
    #[schema(example = "https://core.example.com/growstack/webhooks", max_length = 2048)]
    url: String,
    /// The event types it receives: at least one.
    #[schema(value_type = Vec<EventType>, min_items = 1)]
    events: Vec<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// An endpoint with its signing secret: the answers to its creation and to a rotation only.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookWithSecret)]
struct WithSecret {
    #[serde(flatten)]
    endpoint: Hook,
    /// `whsec_…`: verify `X-GrowStack-Signature` with it. Shown this once.
    secret: String,
}

#[utoipa::path(post, path = "/api/admin/webhooks", security(("bearer" = ["admin"])), request_body = CreateBody,
    responses((status = 201, description = "The endpoint, with its signing secret: shown this once.",
        body = Ok<WithSecret>)))]
/// Registers an endpoint that receives signed events.
#[tracing::instrument(skip_all)]
async fn create(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response> {
    let events = event_types(&body.events)?;
    let description = description(body.description.as_deref())?;
    let url = checked_url(&state, &body.url).await?;
    let secret = new_secret();
    let new = NewEndpoint { url: &url, description, events: &events, secret: &secret, admin: admin.id };
    let endpoint = repo::create(&state.db.writer().await?, &new).await?;
    tracing::info!(admin_id = %admin.id, webhook = %endpoint.id, "webhook endpoint created");
    Ok(created(WithSecret { endpoint, secret }))
}

#[derive(Serialize, ToSchema)]
struct HookList {
    webhooks: Vec<Hook>,
}

#[utoipa::path(get, path = "/api/admin/webhooks", security(("bearer" = ["admin"])),
    responses((status = 200, description = "Every endpoint, newest first; never a secret.", body = Ok<HookList>)))]
/// Lists the webhook endpoints.
#[tracing::instrument(skip_all)]
async fn list(_: AdminUser, State(state): State<AppState>) -> Result<Response> {
    Ok(ok(HookList { webhooks: repo::list(&state.db.writer().await?).await? }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct HookPath {
    /// The endpoint's id.
    id: Uuid,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookChanges)]
struct UpdateBody {
    #[schema(max_length = 2048)]
    url: Option<String>,
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    events: Option<Vec<String>>,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// `false` stops deliveries; `true` starts them again (and clears a failure streak).
    enabled: Option<bool>,
}

#[utoipa::path(patch, path = "/api/admin/webhooks/{id}", security(("bearer" = ["admin"])), params(HookPath),
    request_body = UpdateBody,
    responses((status = 200, description = "The endpoint as changed.", body = Ok<Hook>),
        (status = 404, description = "No such endpoint.")))]
/// Changes an endpoint's URL, event types, description, or whether it is enabled.
#[tracing::instrument(skip_all, fields(webhook = %path.id))]
async fn update(
    _: ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<HookPath>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Response> {
    let events = body.events.as_deref().map(event_types).transpose()?;
    let description = body.description.as_deref().map(|d| description(Some(d))).transpose()?;
    let url = match &body.url {
        Some(raw) => Some(checked_url(&state, raw).await?),
        None => None,
    };
    let changes = Changes { url: url.as_deref(), description, events, enabled: body.enabled };
    let endpoint = repo::update(&state.db.writer().await?, path.id, &changes)
        .await?
        .ok_or(Error::NotFound("webhook endpoint not found"))?;
    Ok(ok(endpoint))
}

#[derive(Serialize, ToSchema)]
#[schema(as = WebhookDeleted)]
struct Deleted {
    id: Uuid,
    /// Always `true`.
    deleted: bool,
}

#[utoipa::path(delete, path = "/api/admin/webhooks/{id}", security(("bearer" = ["admin"])), params(HookPath),
    responses((status = 200, description = "Deleted, with its deliveries.", body = Ok<Deleted>),
        (status = 404, description = "No such endpoint.")))]
/// Deletes an endpoint and its deliveries.
#[tracing::instrument(skip_all, fields(webhook = %path.id))]
async fn remove(
    _: ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<HookPath>,
) -> Result<Response> {
    if !repo::delete(&state.db.writer().await?, path.id).await? {
        return Err(Error::NotFound("webhook endpoint not found"));
    }
    Ok(ok(Deleted { id: path.id, deleted: true }))
}

#[utoipa::path(post, path = "/api/admin/webhooks/{id}/rotate-secret", security(("bearer" = ["admin"])),
    params(HookPath),
    responses((status = 200, description = "The endpoint with its new secret, shown this once. For 24 hours \
        deliveries carry two `v1` signatures, one with each secret, so the receiver can switch over.",
        body = Ok<WithSecret>),
        (status = 404, description = "No such endpoint.")))]
/// Rotates an endpoint's signing secret.
#[tracing::instrument(skip_all, fields(webhook = %path.id))]
async fn rotate(
    _: ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<HookPath>,
) -> Result<Response> {
    let secret = new_secret();
    let endpoint = repo::rotate(&state.db.writer().await?, path.id, &secret)
        .await?
        .ok_or(Error::NotFound("webhook endpoint not found"))?;
    Ok(ok(WithSecret { endpoint, secret }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// How many, newest first.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryList {
    deliveries: Vec<Delivery>,
}

#[utoipa::path(get, path = "/api/admin/webhooks/{id}/deliveries", security(("bearer" = ["admin"])),
    params(HookPath, DeliveriesQuery),
    responses((status = 200, description = "The endpoint's latest deliveries: status, attempts, the last status \
        code and error, the next attempt.", body = Ok<DeliveryList>),
        (status = 404, description = "No such endpoint.")))]
/// Lists an endpoint's deliveries.
#[tracing::instrument(skip_all, fields(webhook = %path.id))]
async fn deliveries(
    _: AdminUser,
    State(state): State<AppState>,
    PathParams(path): PathParams<HookPath>,
    QueryParams(q): QueryParams<DeliveriesQuery>,
) -> Result<Response> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid_field("limit", "limit must be between 1 and 200"));
    }
    let conn = state.db.writer().await?;
    repo::get(&conn, path.id).await?.ok_or(Error::NotFound("webhook endpoint not found"))?;
    Ok(ok(DeliveryList { deliveries: repo::deliveries(&conn, path.id, limit).await? }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path)]
struct DeliveryPath {
    /// The endpoint's id.
    id: Uuid,
    /// The delivery's id.
    delivery_id: Uuid,
}

#[utoipa::path(post, path = "/api/admin/webhooks/{id}/deliveries/{deliveryId}/redeliver",
    security(("bearer" = ["admin"])), params(DeliveryPath),
    responses((status = 200, description = "The delivery, pending again and sent at once (a delivered one is sent \
        again: the receiver asked).", body = Ok<Delivery>),
        (status = 404, description = "No such delivery of this endpoint.")))]
/// Sends a delivery again.
#[tracing::instrument(skip_all, fields(webhook = %path.id, delivery = %path.delivery_id))]
async fn redeliver(
    _: ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<DeliveryPath>,
) -> Result<Response> {
    let conn = state.db.writer().await?;
    let (delivery, staged) = conn
        .atomically(async |conn| repo::redeliver(conn, path.id, path.delivery_id).await)
        .await?
        .ok_or(Error::NotFound("webhook delivery not found"))?;
    state.relay().send_now(&staged).await;
    Ok(ok(delivery))
}

#[derive(Serialize, ToSchema)]
#[schema(as = WebhookTestQueued)]
struct Queued {
    /// Deliveries queued: 1.
    queued: usize,
}

#[utoipa::path(post, path = "/api/admin/webhooks/{id}/test", security(("bearer" = ["admin"])), params(HookPath),
    responses((status = 202, description = "A `webhook.test` event, sent to this endpoint (whatever it subscribes \
        to); its delivery shows in the deliveries.", body = Ok<Queued>),
        (status = 404, description = "No such endpoint, or it is disabled.")))]
/// Sends a test event to an endpoint.
#[tracing::instrument(skip_all, fields(webhook = %path.id))]
async fn test(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<HookPath>,
) -> Result<Response> {
    let conn = state.db.writer().await?;
    let data = json!({ "message": "A test event from GrowStack.", "requestedBy": admin.id });
    let staged =
        conn.atomically(async |conn| super::raise_to(conn, EventType::WebhookTest, &data, path.id).await).await?;
    if staged.is_empty() {
        return Err(Error::NotFound("webhook endpoint not found, or disabled"));
    }
    state.relay().send_now(&staged).await;
    Ok(crate::http::accepted(Queued { queued: staged.len() }))
}
