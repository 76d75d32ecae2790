//! The inbox (`GET /api/notifications`, `PUT /api/notifications/{id}/read`) and the admin
//! sends: one, a batch, and the two nudges on demand.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::repo::{self, NudgeKind};
use crate::app::{AppState, Endpoint};
use crate::auth::{ActingAdmin, AuthUser};
use crate::error::{Error, Result};
use crate::http::{ok, JsonBody, Paging, PathParams, QueryParams};
use crate::jobs::{Channel, EmailTemplate, NotificationJob, NotificationType};
use crate::outbox::{self, Destination};
use crate::users;
use crate::uses::Resource;

pub const LIST: Endpoint = Endpoint {
    function: "notifications-list",
    method: Method::GET,
    path: "/api/notifications",
    route: || get(list),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const MARK_READ: Endpoint = Endpoint {
    function: "notifications-mark-read",
    method: Method::PUT,
    path: "/api/notifications/{id}/read",
    route: || put(mark_read),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const SEND: Endpoint = Endpoint {
    function: "notifications-send",
    method: Method::POST,
    path: "/api/notifications/send",
    route: || post(send),
    uses: &[Resource::NotificationQueue, Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const BATCH: Endpoint = Endpoint {
    function: "notifications-batch",
    method: Method::POST,
    path: "/api/notifications/batch",
    route: || post(batch),
    uses: &[Resource::NotificationQueue, Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const INACTIVITY_NUDGE: Endpoint = Endpoint {
    function: "notifications-inactivity-nudge",
    method: Method::POST,
    path: "/api/notifications/inactivity-nudge/{userId}",
    route: || post(inactivity_nudge),
    uses: &[Resource::NotificationQueue, Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const KYC_REMINDER: Endpoint = Endpoint {
    function: "notifications-kyc-reminder",
    method: Method::POST,
    path: "/api/notifications/kyc-reminder/{userId}",
    route: || post(kyc_reminder),
    uses: &[Resource::NotificationQueue, Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

/// Most users one batch request may address.
pub const MAX_BATCH: usize = 1000;

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
}

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn list(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(paging): QueryParams<Paging>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response> {
    let page = paging.check()?;
    let read = match q.status.as_deref() {
        None | Some("") => None,
        Some("read") => Some(true),
        Some("unread") => Some(false),
        Some(_) => return Err(Error::invalid_field("status", "status must be read or unread")),
    };
    let (notifications, total) =
        repo::page(&state.db.writer().await?, caller.id, read, page.limit, page.offset).await?;
    Ok(page.respond("notifications", notifications, total))
}

#[derive(Deserialize)]
struct IdPath {
    id: Uuid,
}

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn mark_read(
    caller: AuthUser,
    State(state): State<AppState>,
    PathParams(path): PathParams<IdPath>,
) -> Result<Response> {
    // Another user's notification answers exactly as a missing one does.
    let notification = repo::mark_read(&state.db.writer().await?, caller.id, path.id)
        .await?
        .ok_or(Error::NotFound("notification not found"))?;
    Ok(ok(notification))
}

/// Title and content limits keep a notification an inbox line, not a document.
fn text(field: &str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(Error::invalid_field(field, format!("{field} must be 1 to {max} characters")));
    }
    Ok(value.to_owned())
}

/// What admins say about a notification, parsed.
struct Content {
    kind: NotificationType,
    channel: Channel,
    title: String,
    content: String,
    template: Option<EmailTemplate>,
    variables: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContentBody {
    #[serde(rename = "type", default = "custom")]
    kind: String,
    #[serde(default = "email")]
    channel: String,
    title: String,
    content: String,
    template: Option<String>,
    #[serde(default)]
    variables: Value,
}

fn custom() -> String {
    "custom".into()
}
fn email() -> String {
    "email".into()
}

impl TryFrom<ContentBody> for Content {
    type Error = Error;

    fn try_from(b: ContentBody) -> Result<Self> {
        Ok(Content {
            kind: NotificationType::parse(&b.kind)
                .ok_or_else(|| Error::invalid_field("type", "unknown notification type"))?,
            channel: Channel::parse(&b.channel)
                .ok_or_else(|| Error::invalid_field("channel", "channel must be email, sms, whatsapp or push"))?,
            title: text("title", &b.title, 200)?,
            content: text("content", &b.content, 5000)?,
            template: b
                .template
                .map(|t| EmailTemplate::parse(&t).ok_or_else(|| Error::invalid_field("template", "unknown template")))
                .transpose()?,
            variables: match b.variables {
                Value::Null => json!({}),
                v @ Value::Object(_) => v,
                _ => return Err(Error::invalid_field("variables", "variables must be an object")),
            },
        })
    }
}

impl Content {
    fn job(&self, user: Uuid) -> NotificationJob {
        NotificationJob {
            id: Uuid::now_v7(),
            user,
            kind: self.kind,
            channel: self.channel,
            title: self.title.clone(),
            content: self.content.clone(),
            template: self.template,
            variables: self.variables.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendBody {
    user_id: Uuid,
    scheduled_for: Option<DateTime<Utc>>,
    #[serde(flatten)]
    content: ContentBody,
}

fn accepted(data: Value) -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "success": true, "data": data }))).into_response()
}

#[tracing::instrument(skip_all)]
async fn send(_: ActingAdmin, State(state): State<AppState>, JsonBody(body): JsonBody<SendBody>) -> Result<Response> {
    let content = Content::try_from(body.content)?;
    let job = content.job(body.user_id);
    match body.scheduled_for.filter(|at| *at > Utc::now()) {
        Some(at) => {
            // Stored now, dispatched by the scheduler when due.
            repo::store(&state.db.writer().await?, &job, Some(at)).await?.ok_or(Error::NotFound("user not found"))?;
            Ok(accepted(json!({ "id": job.id, "status": "scheduled", "scheduledFor": at })))
        }
        None => {
            users::by_id(&state.db.reader().await?, body.user_id).await?.ok_or(Error::NotFound("user not found"))?;
            queue(&state, std::slice::from_ref(&job)).await?;
            Ok(accepted(json!({ "id": job.id, "status": "queued" })))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchBody {
    user_ids: Vec<Uuid>,
    #[serde(flatten)]
    content: ContentBody,
}

/// The guide's sendBatchNotifications: one job per user, through SendMessageBatch.
#[tracing::instrument(skip_all)]
async fn batch(_: ActingAdmin, State(state): State<AppState>, JsonBody(body): JsonBody<BatchBody>) -> Result<Response> {
    let content = Content::try_from(body.content)?;
    let mut user_ids = body.user_ids;
    user_ids.sort_unstable();
    user_ids.dedup();
    if user_ids.is_empty() || user_ids.len() > MAX_BATCH {
        return Err(Error::invalid_field("userIds", format!("userIds must hold 1 to {MAX_BATCH} users")));
    }
    let jobs: Vec<NotificationJob> = user_ids.iter().map(|user| content.job(*user)).collect();
    queue(&state, &jobs).await?;
    // Every job is kept once accepted: none can fail to be queued any more (`failed` stays
    // for the clients that read it).
    Ok(accepted(json!({ "queued": jobs.len(), "failed": [], "ids": jobs.iter().map(|j| j.id).collect::<Vec<_>>() })))
}

/// Accepts notification jobs for good: kept in the outbox, then sent (now, or by the relay).
async fn queue(state: &AppState, jobs: &[NotificationJob]) -> Result<()> {
    let staged = outbox::stage(&state.db.writer().await?, Destination::Notification, jobs).await?;
    state.relay().send_now(&staged).await;
    Ok(())
}

/// The nudge notification for `kind`; the scheduler sends the same.
pub fn nudge_job(user: Uuid, kind: NudgeKind) -> NotificationJob {
    let (kind, template, title, content) = match kind {
        NudgeKind::Inactivity => (
            NotificationType::Inactivity,
            EmailTemplate::InactivityNudge,
            "We miss you",
            "It's been a while. Here's what's new since your last visit.",
        ),
        NudgeKind::KycReminder => (
            NotificationType::KycReminder,
            EmailTemplate::KycReminder,
            "Finish verifying your identity",
            "You're a few steps away from a fully verified account.",
        ),
    };
    NotificationJob::by_email(user, kind, template, title, content, json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserPath {
    user_id: Uuid,
}

async fn nudge(state: &AppState, user: Uuid, kind: NudgeKind) -> Result<Response> {
    users::by_id(&state.db.reader().await?, user).await?.ok_or(Error::NotFound("user not found"))?;
    let job = nudge_job(user, kind);
    queue(state, std::slice::from_ref(&job)).await?;
    Ok(accepted(json!({ "id": job.id, "status": "queued" })))
}

#[tracing::instrument(skip_all)]
async fn inactivity_nudge(
    _: ActingAdmin,
    State(state): State<AppState>,
    PathParams(p): PathParams<UserPath>,
) -> Result<Response> {
    nudge(&state, p.user_id, NudgeKind::Inactivity).await
}

#[tracing::instrument(skip_all)]
async fn kyc_reminder(
    _: ActingAdmin,
    State(state): State<AppState>,
    PathParams(p): PathParams<UserPath>,
) -> Result<Response> {
    nudge(&state, p.user_id, NudgeKind::KycReminder).await
}
