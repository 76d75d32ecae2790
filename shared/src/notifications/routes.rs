//! The inbox (`GET /api/notifications`, `PUT /api/notifications/{id}/read`) and the admin
//! sends: one, a batch, and the two nudges on demand.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::repo::{self, Notification, NudgeKind};
use crate::auth::{ActingAdmin, AuthUser};
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{ok, Filter, JsonBody, PageInfo, Paging, PathParams, QueryParams};
use crate::jobs::{Channel, EmailTemplate, Greeting, Mail, NotificationJob, NotificationType};
use crate::openapi::{self, Ok};
use crate::outbox::{self, Destination};
use crate::state::AppState;
use crate::users;
use crate::uses::Resource;

pub const LIST: Endpoint = Endpoint {
    function: "notifications-list",
    method: Method::GET,
    path: "/api/notifications",
    route: || get(list),
    doc: openapi::describe::<__path_list>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const MARK_READ: Endpoint = Endpoint {
    function: "notifications-mark-read",
    method: Method::PUT,
    path: "/api/notifications/{id}/read",
    route: || put(mark_read),
    doc: openapi::describe::<__path_mark_read>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const SEND: Endpoint = Endpoint {
    function: "notifications-send",
    method: Method::POST,
    path: "/api/notifications/send",
    route: || post(send),
    doc: openapi::describe::<__path_send>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::NotificationQueue, Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const BATCH: Endpoint = Endpoint {
    function: "notifications-batch",
    method: Method::POST,
    path: "/api/notifications/batch",
    route: || post(batch),
    doc: openapi::describe::<__path_batch>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::NotificationQueue, Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const INACTIVITY_NUDGE: Endpoint = Endpoint {
    function: "notifications-inactivity-nudge",
    method: Method::POST,
    path: "/api/notifications/inactivity-nudge/{userId}",
    route: || post(inactivity_nudge),
    doc: openapi::describe::<__path_inactivity_nudge>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::NotificationQueue, Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const KYC_REMINDER: Endpoint = Endpoint {
    function: "notifications-kyc-reminder",
    method: Method::POST,
    path: "/api/notifications/kyc-reminder/{userId}",
    route: || post(kyc_reminder),
    doc: openapi::describe::<__path_kyc_reminder>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::NotificationQueue, Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

/// Most users one batch request may address.
pub const MAX_BATCH: usize = 1000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `read` or `unread` for only those; empty or left out for all.
    #[serde(default)]
    #[param(value_type = Option<ReadStatus>, inline, example = "unread")]
    status: Filter<ReadStatus>,
}

/// Whether a notification has been read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ReadStatus {
    Read,
    Unread,
}

/// One page of the caller's inbox.
#[derive(Serialize, ToSchema)]
struct NotificationPage {
    notifications: Vec<Notification>,
    pagination: PageInfo,
}

#[utoipa::path(get, path = "/api/notifications", security(("bearer" = [])), params(Paging, ListQuery),
    responses((status = 200, description = "A page of the caller's notifications, newest first.", body = Ok<NotificationPage>),
        (status = 403, description = "The account is blocked.")))]
/// Lists the caller's notifications.
///
/// A scheduled notification appears once it has been sent on its way.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn list(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(paging): QueryParams<Paging>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response> {
    let page = paging.check()?;
    let read = q.status.0.map(|status| status == ReadStatus::Read);
    let (notifications, total) =
        repo::page(&state.db.writer().await?, caller.id, read, page.limit, page.offset).await?;
    Ok(ok(NotificationPage { notifications, pagination: page.info(total) }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct IdPath {
    /// The notification's id.
    id: Uuid,
}

#[utoipa::path(put, path = "/api/notifications/{id}/read", security(("bearer" = [])), params(IdPath),
    responses((status = 200, description = "The notification, read.", body = Ok<Notification>),
        (status = 403, description = "The account is blocked."),
        (status = 404, description = "The caller has no such notification.")))]
/// Marks one of the caller's notifications read.
///
/// Marking it again changes nothing but answers the same.
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

/// What a notification says and how it goes, as an admin sends it.
// Only ever flattened into a send's body, where serde cannot deny unknown fields (a
// flattened struct is handed only the keys it knows): the bodies take unknown fields.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NotificationContent {
    #[serde(rename = "type", default = "custom")]
    #[schema(value_type = NotificationType, default = "custom")]
    kind: String,
    #[serde(default = "email")]
    #[schema(value_type = Channel, default = "email")]
    channel: String,
    /// 1 to 200 characters once trimmed.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    title: String,
    /// 1 to 5000 characters once trimmed.
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    content: String,
    /// The email template to render, for the email channel.
    #[schema(value_type = Option<EmailTemplate>)]
    template: Option<String>,
    /// The template's variables: an object (null or left out for none).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    variables: Value,
}

fn custom() -> String {
    "custom".into()
}
fn email() -> String {
    "email".into()
}

impl TryFrom<NotificationContent> for Content {
    type Error = Error;

    fn try_from(b: NotificationContent) -> Result<Self> {
        // Its link downloads a person's data: only GrowStack sends it, to whoever asked.
        if b.template.as_deref() == Some(EmailTemplate::DataExport.as_str()) {
            return Err(Error::invalid_field("template", "data_export mail is GrowStack's own"));
        }
        let content = Content {
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
        };
        // An email whose variables do not fit its template is refused here, naming what is
        // missing, rather than dead-lettered by the worker.
        if content.channel == Channel::Email {
            if let Err(e) = content.job(Uuid::nil()).mail("there") {
                return Err(Error::invalid_field("variables", format!("variables do not fit the template: {e}")));
            }
        }
        Ok(content)
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

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NotificationSend {
    /// The recipient.
    user_id: Uuid,
    /// When to send it; left out, null or past for now.
    scheduled_for: Option<DateTime<Utc>>,
    #[serde(flatten)]
    content: NotificationContent,
}

/// Where an accepted notification is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum NotificationDelivery {
    /// On its way to the worker that sends it.
    Queued,
    /// Kept until its time, then sent.
    Scheduled,
}

/// A notification accepted for delivery.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NotificationAccepted {
    /// The notification's id, as the inbox will show it.
    id: Uuid,
    status: NotificationDelivery,
    /// When it will be sent: only for a scheduled one.
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_for: Option<DateTime<Utc>>,
}

/// `{"success": true, "data": …}` with 202: accepted for delivery, not delivered yet.
fn accepted<T: Serialize>(data: T) -> Response {
    let mut response = ok(data);
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

#[utoipa::path(post, path = "/api/notifications/send", security(("bearer" = ["admin"])), request_body = NotificationSend,
    responses((status = 202, description = "Queued, or scheduled for `scheduledFor`.", body = Ok<NotificationAccepted>),
        (status = 404, description = "No such user.")))]
/// Sends a notification to one user, now or at a set time.
#[tracing::instrument(skip_all)]
async fn send(
    _: ActingAdmin,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NotificationSend>,
) -> Result<Response> {
    let content = Content::try_from(body.content)?;
    let job = content.job(body.user_id);
    match body.scheduled_for.filter(|at| *at > Utc::now()) {
        Some(at) => {
            // Stored now, dispatched by the scheduler when due.
            repo::store(&state.db.writer().await?, &job, Some(at)).await?.ok_or(Error::NotFound("user not found"))?;
            Ok(accepted(NotificationAccepted {
                id: job.id,
                status: NotificationDelivery::Scheduled,
                scheduled_for: Some(at),
            }))
        }
        None => {
            users::by_id(&state.db.reader().await?, body.user_id).await?.ok_or(Error::NotFound("user not found"))?;
            queue(&state, std::slice::from_ref(&job)).await?;
            Ok(accepted(NotificationAccepted { id: job.id, status: NotificationDelivery::Queued, scheduled_for: None }))
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NotificationBatch {
    /// The recipients: 1 to 1000 once duplicates are dropped.
    #[schema(min_items = 1, max_items = 1000)]
    user_ids: Vec<Uuid>,
    #[serde(flatten)]
    content: NotificationContent,
}

/// A batch accepted for delivery.
#[derive(Serialize, ToSchema)]
struct NotificationBatchAccepted {
    /// Notifications queued: one per distinct user.
    queued: usize,
    /// Always empty: every notification is kept once accepted (kept for the Node version's
    /// clients).
    #[schema(value_type = Vec<Object>, max_items = 0)]
    failed: Vec<Value>,
    /// The notifications' ids, one per user, in ascending order of the users' ids.
    ids: Vec<Uuid>,
}

#[utoipa::path(post, path = "/api/notifications/batch", security(("bearer" = ["admin"])), request_body = NotificationBatch,
    responses((status = 202, description = "One notification queued per distinct user.", body = Ok<NotificationBatchAccepted>)))]
/// Sends one notification to each of up to 1000 users.
///
/// Users are not looked up here: one that does not exist is skipped at delivery.
// The guide's sendBatchNotifications: one job per user, through SendMessageBatch.
#[tracing::instrument(skip_all)]
async fn batch(
    _: ActingAdmin,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NotificationBatch>,
) -> Result<Response> {
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
    Ok(accepted(NotificationBatchAccepted {
        queued: jobs.len(),
        failed: Vec::new(),
        ids: jobs.iter().map(|j| j.id).collect(),
    }))
}

/// Accepts notification jobs for good: kept in the outbox, then sent (now, or by the relay).
async fn queue(state: &AppState, jobs: &[NotificationJob]) -> Result<()> {
    let staged = outbox::stage(&state.db.writer().await?, Destination::Notification, jobs).await?;
    state.relay().send_now(&staged).await;
    Ok(())
}

/// The nudge notification for `kind`; the scheduler sends the same.
pub fn nudge_job(user: Uuid, kind: NudgeKind) -> NotificationJob {
    let (kind, mail, title, content) = match kind {
        NudgeKind::Inactivity => (
            NotificationType::Inactivity,
            Mail::InactivityNudge(Greeting::default()),
            "We miss you",
            "It's been a while. Here's what's new since your last visit.",
        ),
        NudgeKind::KycReminder => (
            NotificationType::KycReminder,
            Mail::KycReminder(Greeting::default()),
            "Finish verifying your identity",
            "You're a few steps away from a fully verified account.",
        ),
    };
    NotificationJob::by_email(user, kind, title, content, &mail)
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path)]
struct UserPath {
    /// The user to nudge.
    user_id: Uuid,
}

async fn nudge(state: &AppState, user: Uuid, kind: NudgeKind) -> Result<Response> {
    users::by_id(&state.db.reader().await?, user).await?.ok_or(Error::NotFound("user not found"))?;
    let job = nudge_job(user, kind);
    queue(state, std::slice::from_ref(&job)).await?;
    Ok(accepted(NotificationAccepted { id: job.id, status: NotificationDelivery::Queued, scheduled_for: None }))
}

#[utoipa::path(post, path = "/api/notifications/inactivity-nudge/{userId}", security(("bearer" = ["admin"])),
    params(UserPath),
    responses((status = 202, description = "The nudge, queued.", body = Ok<NotificationAccepted>),
        (status = 404, description = "No such user.")))]
/// Sends a user the inactivity nudge now.
///
/// The scheduler sends the same nudge to users inactive for a week.
#[tracing::instrument(skip_all)]
async fn inactivity_nudge(
    _: ActingAdmin,
    State(state): State<AppState>,
    PathParams(p): PathParams<UserPath>,
) -> Result<Response> {
    nudge(&state, p.user_id, NudgeKind::Inactivity).await
}

#[utoipa::path(post, path = "/api/notifications/kyc-reminder/{userId}", security(("bearer" = ["admin"])),
    params(UserPath),
    responses((status = 202, description = "The reminder, queued.", body = Ok<NotificationAccepted>),
        (status = 404, description = "No such user.")))]
/// Reminds a user now to finish verifying their identity.
///
/// The scheduler sends the same reminder to users who signed up three days ago or more.
#[tracing::instrument(skip_all)]
async fn kyc_reminder(
    _: ActingAdmin,
    State(state): State<AppState>,
    PathParams(p): PathParams<UserPath>,
) -> Result<Response> {
    nudge(&state, p.user_id, NudgeKind::KycReminder).await
}
