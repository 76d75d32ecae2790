//! All of the webhooks' SQL.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::types::{EventType, ROTATION_OVERLAP};
use crate::db::Conn;
use crate::error::Result;
use crate::jobs::WebhookJob;
use crate::outbox::{self, Destination, Staged};

/// An endpoint as staff see it: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookEndpoint)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// The event types it receives.
    #[schema(value_type = Vec<EventType>)]
    pub events: Vec<String>,
    /// Off when disabled by staff, or by GrowStack after 3 days of failing every delivery.
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Since when every delivery to it has failed; null when the last one succeeded.
    pub failing_since: Option<DateTime<Utc>>,
    /// After a rotation, until when deliveries also carry the old secret's signature.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "w.id, w.url, w.description, w.events, w.enabled, w.disabled_reason, w.failing_since,
     CASE WHEN w.previous_secret_until > now() THEN w.previous_secret_until END AS previous_secret_until,
     w.created_at, w.updated_at";

impl Endpoint {
    fn from_row(row: &Row) -> Self {
        Endpoint {
            id: row.get("id"),
            url: row.get("url"),
            description: row.get("description"),
            events: row.get("events"),
            enabled: row.get("enabled"),
            disabled_reason: row.get("disabled_reason"),
            failing_since: row.get("failing_since"),
            previous_secret_until: row.get("previous_secret_until"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub events: &'a [&'a str],
    pub secret: &'a str,
    pub admin: Uuid,
}

pub async fn create(conn: &Conn, new: &NewEndpoint<'_>) -> Result<Endpoint> {
    let row = conn
        .query_one(
            &format!(
                "INSERT INTO webhook_endpoints AS w (id, url, description, events, secret, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
            ),
            &[&Uuid::now_v7(), &new.url, &new.description, &new.events, &new.secret, &new.admin],
        )
        .await?;
    Ok(Endpoint::from_row(&row))
}

pub async fn list(conn: &Conn) -> Result<Vec<Endpoint>> {
    let rows =
        conn.query(&format!("SELECT {COLUMNS} FROM webhook_endpoints w ORDER BY w.created_at DESC"), &[]).await?;
    Ok(rows.iter().map(Endpoint::from_row).collect())
}

pub async fn get(conn: &Conn, id: Uuid) -> Result<Option<Endpoint>> {
    let row = conn.query_opt(&format!("SELECT {COLUMNS} FROM webhook_endpoints w WHERE w.id = $1"), &[&id]).await?;
    Ok(row.as_ref().map(Endpoint::from_row))
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Default)]
pub struct Changes<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub events: Option<Vec<&'a str>>,
    pub enabled: Option<bool>,
}

pub async fn update(conn: &Conn, id: Uuid, changes: &Changes<'_>) -> Result<Option<Endpoint>> {
    let row = conn
        .query_opt(
            &format!(
                "UPDATE webhook_endpoints w SET url = coalesce($2, url), description = coalesce($3, description),
                        events = coalesce($4, events), enabled = coalesce($5, enabled),
                        disabled_reason = CASE WHEN $5 THEN NULL WHEN $5 = false THEN 'disabled by staff'
                                               ELSE disabled_reason END,
                        failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END,
                        updated_at = now()
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[&id, &changes.url, &changes.description, &changes.events, &changes.enabled],
        )
        .await?;
    Ok(row.as_ref().map(Endpoint::from_row))
}

pub async fn delete(conn: &Conn, id: Uuid) -> Result<bool> {
    Ok(conn.execute("DELETE FROM webhook_endpoints WHERE id = $1", &[&id]).await? == 1)
}

/// A new secret; the old one keeps signing beside it for [`ROTATION_OVERLAP`].
pub async fn rotate(conn: &Conn, id: Uuid, secret: &str) -> Result<Option<Endpoint>> {
    let row = conn
        .query_opt(
            &format!(
                "UPDATE webhook_endpoints w SET previous_secret = secret, secret = $2,
                        previous_secret_until = now() + make_interval(secs => $3), updated_at = now()
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[&id, &secret, &ROTATION_OVERLAP.as_secs_f64()],
        )
        .await?;
    Ok(row.as_ref().map(Endpoint::from_row))
}

/// How long a staged delivery is left to the outbox before the retry task also looks at it.
const FIRST_SEND_GRACE: &str = "interval '5 minutes'";

/// Raises event `kind` with `data` inside the caller's transaction: an event row with its
/// stable id, a delivery for every enabled endpoint subscribed to it (to `only`, for a
/// test), and their jobs in the outbox, to send once the transaction commits. Nothing when
/// no endpoint wants it.
pub async fn raise(conn: &Conn, kind: EventType, data: &Value, only: Option<Uuid>) -> Result<Vec<Staged>> {
    let rows = conn
        .query(
            &format!(
                "WITH targets AS (
                    SELECT id FROM webhook_endpoints
                    WHERE enabled AND (id = $4 OR ($4 IS NULL AND $2 = ANY (events)))
                 ), event AS (
                    INSERT INTO webhook_events (id, type, data)
                    SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM targets)
                    RETURNING id
                 )
                 INSERT INTO webhook_deliveries (id, endpoint_id, event_id, next_attempt_at)
                 SELECT gen_random_uuid(), t.id, e.id, now() + {FIRST_SEND_GRACE} FROM targets t, event e
                 RETURNING id"
            ),
            &[&Uuid::now_v7(), &kind.as_str(), data, &only],
        )
        .await?;
    let jobs: Vec<WebhookJob> = rows.iter().map(|r| WebhookJob::new(r.get("id"))).collect();
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    outbox::stage(conn, Destination::Webhook, &jobs).await
}

/// One delivery as the admin's list shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WebhookDelivery)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    #[schema(value_type = EventType)]
    pub event_type: String,
    /// `pending` (being tried), `delivered`, or `failed` (given up after 72 hours).
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, e.type AS event_type, d.status, d.attempts, d.last_status_code,
     d.last_error, CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at, d.delivered_at,
     d.created_at";

impl Delivery {
    fn from_row(row: &Row) -> Self {
        Delivery {
            id: row.get("id"),
            event_id: row.get("event_id"),
            event_type: row.get("event_type"),
            status: row.get("status"),
            attempts: row.get("attempts"),
            last_status_code: row.get("last_status_code"),
            last_error: row.get("last_error"),
            next_attempt_at: row.get("next_attempt_at"),
            delivered_at: row.get("delivered_at"),
            created_at: row.get("created_at"),
        }
    }
}

/// The endpoint's latest deliveries, newest first.
pub async fn deliveries(conn: &Conn, endpoint: Uuid, limit: i64) -> Result<Vec<Delivery>> {
    let rows = conn
        .query(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
                 WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
            ),
            &[&endpoint, &limit],
        )
        .await?;
    Ok(rows.iter().map(Delivery::from_row).collect())
}

/// Tries a delivery again now, whatever its status (a delivered one is sent once more: the
/// receiver asked), and stages its job.
pub async fn redeliver(conn: &Conn, endpoint: Uuid, delivery: Uuid) -> Result<Option<(Delivery, Vec<Staged>)>> {
    let row = conn
        .query_opt(
            &format!(
                "WITH d AS (
                    UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() + {FIRST_SEND_GRACE},
                           leased_until = NULL, delivered_at = NULL
                    WHERE id = $1 AND endpoint_id = $2 RETURNING *
                 )
                 SELECT {DELIVERY_COLUMNS} FROM d JOIN webhook_events e ON e.id = d.event_id"
            ),
            &[&delivery, &endpoint],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let staged = outbox::stage(conn, Destination::Webhook, &[WebhookJob::new(delivery)]).await?;
    Ok(Some((Delivery::from_row(&row), staged)))
}

/// What a sender needs to make one attempt.
pub struct Claimed {
    pub id: Uuid,
    pub endpoint: Uuid,
    pub url: String,
    pub secrets: Vec<String>,
    pub event_id: Uuid,
    pub event_type: String,
    pub event_created_at: DateTime<Utc>,
    pub data: Value,
    pub attempts: i32,
}

/// Takes delivery `id` for one attempt (for `lease_secs`), unless it is done, given up, its
/// endpoint is disabled, or another sender holds it.
pub async fn claim(conn: &Conn, id: Uuid, lease_secs: f64) -> Result<Option<Claimed>> {
    let row = conn
        .query_opt(
            "UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $2)
             FROM webhook_endpoints w, webhook_events e
             WHERE d.id = $1 AND w.id = d.endpoint_id AND e.id = d.event_id AND d.status = 'pending' AND w.enabled
               AND (d.leased_until IS NULL OR d.leased_until < now())
             RETURNING d.id, d.endpoint_id, w.url, w.secret,
                       CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END AS previous_secret,
                       e.id AS event_id, e.type AS event_type, e.created_at AS event_created_at, e.data, d.attempts",
            &[&id, &lease_secs],
        )
        .await?;
    Ok(row.map(|r| {
        let mut secrets = vec![r.get::<_, String>("secret")];
        secrets.extend(r.get::<_, Option<String>>("previous_secret"));
        Claimed {
            id: r.get("id"),
            endpoint: r.get("endpoint_id"),
            url: r.get("url"),
            secrets,
            event_id: r.get("event_id"),
            event_type: r.get("event_type"),
            event_created_at: r.get("event_created_at"),
            data: r.get("data"),
            attempts: r.get("attempts"),
        }
    }))
}

/// An attempt's outcome: delivered (a 2xx), or failed with a status or an error and retried
/// after `retry_after_secs` unless the delivery is older than `give_up_after_secs`.
pub async fn record(
    conn: &Conn,
    claimed: &Claimed,
    status: Option<u16>,
    error: Option<&str>,
    delivered: bool,
    retry_after_secs: f64,
    give_up_after_secs: f64,
) -> Result<()> {
    let code = status.map(i32::from);
    conn.execute(
        "WITH d AS (
            UPDATE webhook_deliveries SET attempts = attempts + 1, leased_until = NULL,
                   last_status_code = $2, last_error = $3,
                   status = CASE WHEN $4 THEN 'delivered'
                                 WHEN created_at < now() - make_interval(secs => $6) THEN 'failed'
                                 ELSE 'pending' END,
                   delivered_at = CASE WHEN $4 THEN now() END,
                   next_attempt_at = CASE WHEN $4 THEN next_attempt_at ELSE now() + make_interval(secs => $5) END
            WHERE id = $1 RETURNING endpoint_id
         )
         UPDATE webhook_endpoints SET
                failing_since = CASE WHEN $4 THEN NULL ELSE coalesce(failing_since, now()) END
         WHERE id = (SELECT endpoint_id FROM d)",
        &[&claimed.id, &code, &error, &delivered, &retry_after_secs, &give_up_after_secs],
    )
    .await?;
    Ok(())
}

/// Pending deliveries that are due, for the retry task: moved a few minutes on so that the
/// next run does not take them again while their jobs are in flight.
pub async fn take_due(conn: &Conn, limit: i64) -> Result<Vec<Uuid>> {
    let rows = conn
        .query(
            &format!(
                "UPDATE webhook_deliveries d SET next_attempt_at = now() + {FIRST_SEND_GRACE}
                 FROM (SELECT id FROM webhook_deliveries
                       WHERE status = 'pending' AND next_attempt_at <= now()
                       ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
                 WHERE d.id = due.id RETURNING d.id"
            ),
            &[&limit],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

/// Makes deliveries due again at once: their jobs could not be enqueued.
pub async fn release(conn: &Conn, ids: &[Uuid]) -> Result<()> {
    conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = ANY ($1)", &[&ids]).await?;
    Ok(())
}

/// Disables the enabled endpoints that have failed every delivery for longer than
/// `after_secs`, giving up their pending deliveries; answers their urls.
pub async fn disable_failing(conn: &Conn, after_secs: f64) -> Result<Vec<String>> {
    let rows = conn
        .query(
            "WITH off AS (
                UPDATE webhook_endpoints SET enabled = false, updated_at = now(),
                       disabled_reason = 'every delivery failed for 3 days'
                WHERE enabled AND failing_since < now() - make_interval(secs => $1)
                RETURNING id, url
             ), given_up AS (
                UPDATE webhook_deliveries SET status = 'failed', last_error = coalesce(last_error, 'endpoint disabled')
                WHERE status = 'pending' AND endpoint_id IN (SELECT id FROM off)
             )
             SELECT url FROM off",
            &[&after_secs],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get("url")).collect())
}

/// The addresses of the admins who can act on a disabled endpoint.
pub async fn admin_emails(conn: &Conn) -> Result<Vec<String>> {
    let rows = conn.query("SELECT email FROM users WHERE role = 'admin' AND NOT blocked ORDER BY email", &[]).await?;
    Ok(rows.iter().map(|r| r.get("email")).collect())
}
