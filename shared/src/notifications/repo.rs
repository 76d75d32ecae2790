//! All of the notifications' SQL.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;
use crate::events::lifecycle;
use crate::jobs::{Channel, NotificationJob};

/// A notification in a user's inbox, which records every notification on any channel.
// The text columns are kept as read; their CHECK constraints (and the parsers every
// producer goes through) hold them to the values documented.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = crate::jobs::NotificationType)]
    pub kind: String,
    #[schema(value_type = Channel)]
    pub channel: String,
    #[schema(schema_with = status_schema)]
    pub status: String,
    pub title: String,
    pub content: String,
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
    /// The email template it was rendered with.
    #[schema(value_type = Option<crate::jobs::EmailTemplate>)]
    pub template_id: Option<String>,
    /// The template's variables.
    #[schema(value_type = Object)]
    pub variables: Value,
    /// When it is (or was) due, for one sent later.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Why delivery failed, for a failed one.
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `status`: where delivery got to; `read` once the user marked it read.
fn status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["pending", "sent", "failed", "delivered", "read"]))
        .description(Some("Where delivery got to; `read` once the user marked it read."))
        .build()
}

const COLUMNS: &str = "id, user_id, type, channel, status, title, content, read, read_at, template_id, variables, \
     scheduled_for, sent_at, failure_reason, created_at";

impl Notification {
    fn from_row(row: &Row) -> Self {
        Notification {
            id: row.get("id"),
            user_id: row.get("user_id"),
            kind: row.get("type"),
            channel: row.get("channel"),
            status: row.get("status"),
            title: row.get("title"),
            content: row.get("content"),
            read: row.get("read"),
            read_at: row.get("read_at"),
            template_id: row.get("template_id"),
            variables: row.get("variables"),
            scheduled_for: row.get("scheduled_for"),
            sent_at: row.get("sent_at"),
            failure_reason: row.get("failure_reason"),
            created_at: row.get("created_at"),
        }
    }

    /// The job that delivers this notification.
    pub fn job(&self) -> Option<NotificationJob> {
        Some(NotificationJob {
            id: self.id,
            user: self.user_id,
            kind: crate::jobs::NotificationType::parse(&self.kind)?,
            channel: Channel::parse(&self.channel)?,
            title: self.title.clone(),
            content: self.content.clone(),
            template: self.template_id.as_deref().and_then(crate::jobs::EmailTemplate::parse),
            variables: self.variables.clone(),
        })
    }
}

/// Who a notification goes to.
pub struct Recipient {
    pub email: String,
    pub first_name: String,
}

/// Stores the job's notification (pending) unless it is already stored, and returns its
/// recipient; `None` when the user no longer exists.
#[tracing::instrument(skip_all, fields(notification_id = %job.id))]
pub async fn store(
    conn: &Conn,
    job: &NotificationJob,
    scheduled_for: Option<DateTime<Utc>>,
) -> Result<Option<Recipient>> {
    let row = conn
        .query_opt(
            "WITH stored AS (
                INSERT INTO notifications (id, user_id, type, channel, title, content, template_id, variables, scheduled_for)
                SELECT $1::uuid, id, $3::text, $4::text, $5::text, $6::text, $7::text, $8::jsonb, $9::timestamptz
                FROM users WHERE id = $2
                ON CONFLICT (id) DO NOTHING
            )
            SELECT email, first_name FROM users WHERE id = $2",
            &[
                &job.id,
                &job.user,
                &job.kind.as_str(),
                &job.channel.as_str(),
                &job.title,
                &job.content,
                &job.template.map(|t| t.as_str()),
                &job.variables,
                &scheduled_for,
            ],
        )
        .await?;
    Ok(row.map(|r| Recipient { email: r.get("email"), first_name: r.get("first_name") }))
}

pub async fn mark_sent(conn: &Conn, id: Uuid) -> Result<()> {
    conn.execute(
        "UPDATE notifications SET status = 'sent', sent_at = now(), updated_at = now() WHERE id = $1 AND status = 'pending'",
        &[&id],
    )
    .await?;
    Ok(())
}

pub async fn mark_failed(conn: &Conn, id: Uuid, reason: &str) -> Result<()> {
    conn.execute(
        "UPDATE notifications SET status = 'failed', failure_reason = $2, updated_at = now()
         WHERE id = $1 AND status = 'pending'",
        &[&id, &reason],
    )
    .await?;
    Ok(())
}

/// One page of a user's inbox and the number of notifications the filter matches, in one
/// statement.
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn page(
    conn: &Conn,
    user: Uuid,
    read: Option<bool>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Notification>, i64)> {
    let rows = conn
        .query(
            &format!(
                "SELECT {COLUMNS}, count(*) OVER () AS total FROM notifications
                 WHERE user_id = $1 AND ($2::boolean IS NULL OR read = $2)
                   AND (scheduled_for IS NULL OR dispatched_at IS NOT NULL)
                 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
            ),
            &[&user, &read, &limit, &offset],
        )
        .await?;
    let total = match rows.first() {
        Some(row) => row.get("total"),
        // Past the last page the window count has no row to ride on: count alone.
        None if offset > 0 => conn
            .query_one(
                "SELECT count(*) AS total FROM notifications WHERE user_id = $1 AND ($2::boolean IS NULL OR read = $2)
                   AND (scheduled_for IS NULL OR dispatched_at IS NOT NULL)",
                &[&user, &read],
            )
            .await?
            .get("total"),
        None => 0,
    };
    Ok((rows.iter().map(Notification::from_row).collect(), total))
}

/// Marks the user's own notification read; `None` if it is not theirs (or does not exist).
#[tracing::instrument(skip_all, fields(notification_id = %id))]
pub async fn mark_read(conn: &Conn, user: Uuid, id: Uuid) -> Result<Option<Notification>> {
    let row = conn
        .query_opt(
            &format!(
                "WITH marked AS (
                    UPDATE notifications SET read = true, read_at = COALESCE(read_at, now()), status = 'read',
                        updated_at = now()
                    WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}
                 ), {read}
                 SELECT {COLUMNS} FROM marked",
                read = lifecycle::Record {
                    name: "read",
                    event: lifecycle::NOTIFICATION_READ,
                    from: "marked",
                    user: "user_id",
                    properties: "jsonb_build_object('notificationId', id, 'type', type)"
                }
                .cte(),
            ),
            &[&id, &user],
        )
        .await?;
    Ok(row.as_ref().map(Notification::from_row))
}

/// Claims up to `limit` due scheduled notifications. `SKIP LOCKED` and the `dispatched_at`
/// stamp mean concurrent scheduler runs claim disjoint sets; a claim is a lease, so rows a
/// run claimed and never enqueued (it crashed) are claimed again after five minutes. A
/// second dispatch is harmless: the worker takes each notification id once.
pub async fn claim_due(conn: &Conn, limit: i64) -> Result<Vec<Notification>> {
    let rows = conn
        .query(
            &format!(
                "UPDATE notifications SET dispatched_at = now(), dispatch_attempts = dispatch_attempts + 1,
                    updated_at = now()
                 WHERE id IN (
                    SELECT id FROM notifications
                    WHERE status = 'pending' AND scheduled_for IS NOT NULL AND scheduled_for <= now()
                      AND (dispatched_at IS NULL OR dispatched_at < now() - interval '5 minutes')
                      AND dispatch_attempts < $2
                    ORDER BY scheduled_for LIMIT $1
                    FOR UPDATE SKIP LOCKED)
                 RETURNING {COLUMNS}"
            ),
            &[&limit, &MAX_DISPATCH_ATTEMPTS],
        )
        .await?;
    Ok(rows.iter().map(Notification::from_row).collect())
}

/// Times a scheduled notification is dispatched before it is given up.
pub const MAX_DISPATCH_ATTEMPTS: i32 = 5;

/// Marks failed the scheduled notifications dispatched the most times allowed whose last
/// lease lapsed without the worker taking them. Returns how many.
pub async fn give_up_dispatching(conn: &Conn) -> Result<u64> {
    conn.execute(
        "UPDATE notifications SET status = 'failed', updated_at = now(),
            failure_reason = 'not delivered after ' || dispatch_attempts || ' dispatch attempts'
         WHERE status = 'pending' AND scheduled_for IS NOT NULL AND dispatch_attempts >= $1
           AND dispatched_at < now() - interval '5 minutes'",
        &[&MAX_DISPATCH_ATTEMPTS],
    )
    .await
}

/// Where a scheduler task stopped last, if it did not finish.
pub async fn cursor(conn: &Conn, task: &str) -> Result<Option<Uuid>> {
    Ok(conn
        .query_opt("SELECT after_id FROM scheduler_cursors WHERE task = $1", &[&task])
        .await?
        .map(|r| r.get("after_id")))
}

/// Records where a task got to; `None` once it went through to the end.
pub async fn save_cursor(conn: &Conn, task: &str, after: Option<Uuid>) -> Result<()> {
    match after {
        Some(after) => {
            conn.execute(
                "INSERT INTO scheduler_cursors (task, after_id) VALUES ($1, $2)
                 ON CONFLICT (task) DO UPDATE SET after_id = EXCLUDED.after_id, updated_at = now()",
                &[&task, &after],
            )
            .await?
        }
        None => conn.execute("DELETE FROM scheduler_cursors WHERE task = $1", &[&task]).await?,
    };
    Ok(())
}

/// Puts back claimed notifications whose jobs could not be enqueued, for the next run.
pub async fn unclaim(conn: &Conn, ids: &[Uuid]) -> Result<()> {
    conn.execute("UPDATE notifications SET dispatched_at = NULL WHERE id = ANY($1)", &[&ids]).await?;
    Ok(())
}

/// The scheduled nudges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NudgeKind {
    /// No activity for seven days or more.
    Inactivity,
    /// Signed up three days ago or more and KYC not complete.
    KycReminder,
}

impl NudgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NudgeKind::Inactivity => "inactivity",
            NudgeKind::KycReminder => "kyc_reminder",
        }
    }
}

/// Looks at up to `limit` users after `after` (by id) and records today's nudge for those
/// who need one and have not had it today. Returns the last user id looked at (to page on)
/// and the users to nudge.
pub async fn claim_nudges(conn: &Conn, kind: NudgeKind, after: Uuid, limit: i64) -> Result<(Option<Uuid>, Vec<Uuid>)> {
    let who = match kind {
        NudgeKind::Inactivity => "COALESCE(last_active_at, created_at) < now() - interval '7 days'",
        NudgeKind::KycReminder => "created_at < now() - interval '3 days' AND onboarding_step <> 'kyc_complete'",
    };
    let row = conn
        .query_one(
            &format!(
                "WITH page AS (
                    SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2
                 ), claimed AS (
                    INSERT INTO nudges (user_id, kind, day)
                    SELECT u.id, $3, current_date FROM users u JOIN page ON page.id = u.id
                    WHERE u.status = 'active' AND NOT u.blocked AND {who}
                    ON CONFLICT DO NOTHING
                    RETURNING user_id
                 ), {sent}
                 SELECT (SELECT id FROM page ORDER BY id DESC LIMIT 1) AS last_id,
                        ARRAY(SELECT user_id FROM claimed) AS nudged",
                sent = lifecycle::Record {
                    name: "sent",
                    event: match kind {
                        NudgeKind::Inactivity => lifecycle::INACTIVITY_NUDGE_SENT,
                        NudgeKind::KycReminder => lifecycle::KYC_REMINDER_SENT,
                    },
                    from: "claimed",
                    user: "user_id",
                    properties: lifecycle::NO_PROPERTIES
                }
                .cte(),
            ),
            &[&after, &limit, &kind.as_str()],
        )
        .await?;
    Ok((row.get("last_id"), row.get("nudged")))
}

/// Forgets today's nudge for users whose jobs could not be enqueued, so a later run retries.
pub async fn unclaim_nudges(conn: &Conn, kind: NudgeKind, users: &[Uuid]) -> Result<()> {
    conn.execute(
        "DELETE FROM nudges WHERE kind = $1 AND day = current_date AND user_id = ANY($2)",
        &[&kind.as_str(), &users],
    )
    .await?;
    Ok(())
}
