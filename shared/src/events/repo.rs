//! All of the events' SQL.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::lifecycle::{self, Source};
use crate::db::Conn;
use crate::error::{Error, Result};

/// An event ready to store.
pub struct NewEvent {
    pub id: Uuid,
    pub name: String,
    pub client_id: Option<String>,
    pub properties: Value,
    pub metadata: Value,
    pub occurred_at: DateTime<Utc>,
}

/// A stored event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_name: String,
    /// The client's id for it, if it gave one.
    pub event_id: Option<String>,
    #[schema(value_type = Object)]
    pub properties: Value,
    /// What the client said about itself, with the server's `ip` and `userAgent`.
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, event_name, event_id, properties, metadata, occurred_at, received_at";

impl Event {
    fn from_row(row: &Row) -> Self {
        Event {
            id: row.get("id"),
            user_id: row.get("user_id"),
            event_name: row.get("event_name"),
            event_id: row.get("event_id"),
            properties: row.get("properties"),
            metadata: row.get("metadata"),
            occurred_at: row.get("occurred_at"),
            received_at: row.get("received_at"),
        }
    }
}

/// An insert that found no partition for its time is the client's old timestamp, not our
/// failure.
fn no_partition(e: tokio_postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db)
            if db.code() == &tokio_postgres::error::SqlState::CHECK_VIOLATION && db.message().contains("partition") =>
        {
            Error::invalid_field("timestamp", "timestamp is older than the events kept")
        }
        _ => e.into(),
    }
}

/// Stores `events` for `user`, sent by `source` (a client or the operator's backend), in one
/// statement; with `touch`, the user's `last_active_at` moves to the latest of them (when that
/// is more than five minutes on). An event whose client id this user has sent before (or
/// earlier in the same batch) is not stored again. The days of events that a rollup has already counted past are
/// marked for it to count again. Returns the ids stored, with their receive times.
#[tracing::instrument(skip_all, fields(user_id = %user, events = events.len()))]
pub async fn insert(
    conn: &Conn,
    user: Uuid,
    source: Source,
    touch: bool,
    received: DateTime<Utc>,
    events: &[NewEvent],
) -> Result<Vec<(Uuid, DateTime<Utc>)>> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    let client_ids: Vec<Option<&str>> = events.iter().map(|e| e.client_id.as_deref()).collect();
    let properties: Vec<&Value> = events.iter().map(|e| &e.properties).collect();
    let metadata: Vec<&Value> = events.iter().map(|e| &e.metadata).collect();
    let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
    let activity = lifecycle::is_activity(source, None);
    // Only an event the sender dated before it reached us can fall before a rollup's mark (an
    // event stamped on arrival that a rollup running meanwhile misses is today's, which every
    // run counts again); the statement marks late days only then. The `last_active_at` write
    // only with `touch`. Four statements, each prepared once.
    let late = if events.iter().any(|e| e.occurred_at < received) { late_days("stored") } else { String::new() };
    let touched = if touch && activity { TOUCH } else { "" };
    let row = conn
        .try_query_opt(
            &format!(
                "WITH input AS (
                    SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::timestamptz[])
                        WITH ORDINALITY AS t(id, event_name, event_id, properties, metadata, occurred_at, ord)
                 ), keyed AS (
                    SELECT DISTINCT ON (event_id) * FROM input WHERE event_id IS NOT NULL ORDER BY event_id, ord
                 ), claimed AS (
                    INSERT INTO event_dedupe (user_id, event_id, id, occurred_at)
                    SELECT $1, event_id, id, occurred_at FROM keyed
                    ON CONFLICT (user_id, event_id) DO NOTHING
                    RETURNING id
                 ), stored AS (
                    INSERT INTO events (id, user_id, event_name, event_id, properties, metadata, occurred_at, source, activity)
                    SELECT i.id, $1, i.event_name, i.event_id, i.properties, i.metadata, i.occurred_at, $8, $9 FROM input i
                    WHERE i.event_id IS NULL OR i.id IN (SELECT id FROM claimed)
                    RETURNING id, received_at, occurred_at
                 ){late}{touched}
                 SELECT ARRAY(SELECT id FROM stored) AS ids, ARRAY(SELECT received_at FROM stored) AS received",
            ),
            &[&user, &ids, &names, &client_ids, &properties, &metadata, &times, &source.as_str(), &activity],
        )
        .await?
        .map_err(no_partition)?;
    Ok(row
        .map(|r| {
            let ids: Vec<Uuid> = r.get("ids");
            let times: Vec<DateTime<Utc>> = r.get("received");
            ids.into_iter().zip(times).collect()
        })
        .unwrap_or_default())
}

/// The `touched` CTE of a statement that stores a user's (`$1`) activity in `stored`: moves
/// their `last_active_at` to the latest of it, when that is more than five minutes on.
const TOUCH: &str = ", touched AS (
    UPDATE users SET last_active_at = s.at
    FROM (SELECT least(max(occurred_at), now()) AS at FROM stored) s
    WHERE users.id = $1 AND s.at IS NOT NULL
      AND (users.last_active_at IS NULL OR users.last_active_at < s.at - interval '5 minutes')
 )";

/// Every rollup of events, by the name its coverage and late days go under.
const ROLLUPS: [&str; 2] = ["events", "user_bitmaps"];

/// The `late` CTE of a statement that stores events: for every rollup that has already
/// counted past an event of `stored` (a CTE with `occurred_at`), marks that event's day (UTC)
/// to be counted again; until then analytics reads the day whole from `events`. An app that
/// was offline sends its events minutes or days late.
fn late_days(stored: &str) -> String {
    let rollups = ROLLUPS.map(|r| format!("'{r}'")).join(", ");
    format!(
        ", late AS (
            INSERT INTO rollup_late_days (rollup, day)
            SELECT c.name, d.day
            FROM (SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, min(occurred_at) AS first FROM {stored} GROUP BY 1) d
            JOIN rollup_coverage c ON c.name IN ({rollups}) AND d.first < c.covered_until
         )"
    )
}

/// The event stored earlier under the user's client id.
/// Which of `users` are accounts: the users a server's events may name.
pub async fn existing_users(conn: &Conn, users: &[Uuid]) -> Result<std::collections::HashSet<Uuid>> {
    let rows = conn.query("SELECT id FROM users WHERE id = ANY($1)", &[&users]).await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

pub async fn by_client_id(conn: &Conn, user: Uuid, client_id: &str) -> Result<Option<Event>> {
    let row = conn
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM events WHERE user_id = $1
                   AND (id, occurred_at) = (SELECT id, occurred_at FROM event_dedupe WHERE user_id = $1 AND event_id = $2)"
            ),
            &[&user, &client_id],
        )
        .await?;
    Ok(row.as_ref().map(Event::from_row))
}

/// Which of a user's events a list or the stats cover.
#[derive(Clone, Debug)]
pub struct Filter {
    pub user: Uuid,
    pub name: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

const FILTER: &str = "user_id = $1 AND ($2::text IS NULL OR event_name = $2)
     AND ($3::timestamptz IS NULL OR occurred_at >= $3) AND ($4::timestamptz IS NULL OR occurred_at < $4)";

/// A page of events, newest first: after `before` (a keyset position) or at `offset`.
#[tracing::instrument(skip_all, fields(user_id = %filter.user))]
pub async fn page(
    conn: &Conn,
    filter: &Filter,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Event>> {
    let (at, id) = before.unzip();
    let rows = conn
        .query(
            &format!(
                "SELECT {COLUMNS} FROM events WHERE {FILTER}
                   AND ($5::timestamptz IS NULL OR (occurred_at, id) < ($5, $6::uuid))
                 ORDER BY occurred_at DESC, id DESC LIMIT $7 OFFSET $8"
            ),
            &[&filter.user, &filter.name, &filter.from, &filter.to, &at, &id, &limit, &offset],
        )
        .await?;
    Ok(rows.iter().map(Event::from_row).collect())
}

/// How many events the filter covers (the offset pages' total).
pub async fn count(conn: &Conn, filter: &Filter) -> Result<i64> {
    let row = conn
        .query_one(
            &format!("SELECT count(*) AS total FROM events WHERE {FILTER}"),
            &[&filter.user, &filter.name, &filter.from, &filter.to],
        )
        .await?;
    Ok(row.get("total"))
}

/// What a set of events adds up to.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EventStats)]
pub struct Stats {
    pub total: i64,
    /// Distinct UTC days with an event.
    pub unique_days: i64,
    /// Null when there are none.
    pub first_occurrence: Option<DateTime<Utc>>,
    pub last_occurrence: Option<DateTime<Utc>>,
}

/// The count, the distinct UTC days, and the really first and last times of the filter's
/// events: one aggregate statement.
pub async fn stats(conn: &Conn, filter: &Filter) -> Result<Stats> {
    let row = conn
        .query_one(
            &format!(
                "SELECT count(*) AS total, count(DISTINCT (occurred_at AT TIME ZONE 'UTC')::date) AS unique_days,
                        min(occurred_at) AS first_occurrence, max(occurred_at) AS last_occurrence
                 FROM events WHERE {FILTER}"
            ),
            &[&filter.user, &filter.name, &filter.from, &filter.to],
        )
        .await?;
    Ok(Stats {
        total: row.get("total"),
        unique_days: row.get("unique_days"),
        first_occurrence: row.get("first_occurrence"),
        last_occurrence: row.get("last_occurrence"),
    })
}

/// The CTEs that pick what rollup `name` (a constant) counts again: `since`, the day its last
/// run left incomplete (at the latest yesterday, for events that arrive late), or on its first
/// run `first_day` (an SQL expression), or today; the late days before that which events
/// arrived for since (taken from `rollup_late_days`: only those of transactions older than
/// every one still running, whose events this statement therefore sees); and `spans`, the
/// time ranges `[from_t, to_t)` to count: from `since` to now, and each late day whole.
pub(crate) fn recount(name: &str, first_day: &str) -> String {
    debug_assert!(ROLLUPS.contains(&name));
    format!(
        "since AS (
             SELECT coalesce(
                 (SELECT least(complete_before, (now() AT TIME ZONE 'UTC')::date - 1)
                  FROM rollup_coverage WHERE name = '{name}'),
                 {first_day},
                 (now() AT TIME ZONE 'UTC')::date
             ) AS day
         ), taken AS (
             DELETE FROM rollup_late_days
             WHERE rollup = '{name}' AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
             RETURNING day
         ), spans AS (
             SELECT (day::timestamp AT TIME ZONE 'UTC') AS from_t, now() AS to_t FROM since
             UNION ALL
             SELECT (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC')
             FROM (SELECT DISTINCT day FROM taken WHERE day < (SELECT day FROM since)) late
         )"
    )
}

/// The `covered` CTE of a rollup's statement: moves the mark of rollup `name` (a constant) to
/// now, the end of what the statement counted, and the day before which it is complete to
/// today.
pub(crate) fn covered(name: &str) -> String {
    format!(
        "covered AS (
             INSERT INTO rollup_coverage (name, complete_before, covered_until)
             VALUES ('{name}', (now() AT TIME ZONE 'UTC')::date, now())
             ON CONFLICT (name) DO UPDATE
                SET complete_before = EXCLUDED.complete_before, covered_until = EXCLUDED.covered_until, updated_at = now()
         )"
    )
}

/// Recounts `event_counts_daily` from the day the last run left incomplete (at the latest
/// yesterday; on the first run, the oldest event's day) up to now, and every earlier day that
/// late events arrived for, and moves the mark analytics reads `events` from to now. Returns
/// the rows written.
pub async fn rollup(conn: &Conn) -> Result<u64> {
    let row = conn
        .query_one(
            &format!(
                "WITH {recount}, counted AS (
                     INSERT INTO event_counts_daily (day, event_name, events, users)
                     SELECT (e.occurred_at AT TIME ZONE 'UTC')::date, e.event_name, count(*), count(DISTINCT e.user_id)
                     FROM spans s JOIN events e ON e.occurred_at >= s.from_t AND e.occurred_at < s.to_t
                     GROUP BY 1, 2
                     ON CONFLICT (day, event_name) DO UPDATE
                        SET events = EXCLUDED.events, users = EXCLUDED.users, updated_at = now()
                     RETURNING 1
                 ), {covered}
                 SELECT count(*) AS written FROM counted",
                recount = recount("events", "(SELECT (min(occurred_at) AT TIME ZONE 'UTC')::date FROM events)"),
                covered = covered("events"),
            ),
            &[],
        )
        .await?;
    Ok(row.get::<_, i64>("written") as u64)
}

/// The next `limit` events after `after` in export order, from transactions older than any
/// still running (a later commit can only add events after them).
pub async fn export_page(conn: &Conn, after: (i64, Uuid), limit: i64) -> Result<Vec<(i64, Event)>> {
    let rows = conn
        .query(
            &format!(
                "SELECT tx, {COLUMNS} FROM events
                 WHERE (tx, id) > ($1, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
                 ORDER BY tx, id LIMIT $3"
            ),
            &[&after.0, &after.1, &limit],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get("tx"), Event::from_row(r))).collect())
}

/// How long the first event after `after` in export order has waited since it arrived, in
/// seconds; 0 when there is none.
pub async fn export_lag(conn: &Conn, after: (i64, Uuid)) -> Result<f64> {
    let row = conn
        .query_one(
            "SELECT COALESCE((SELECT extract(epoch FROM now() - received_at)::float8 FROM events
                              WHERE (tx, id) > ($1, $2) ORDER BY tx, id LIMIT 1), 0) AS lag",
            &[&after.0, &after.1],
        )
        .await?;
    Ok(row.get::<_, f64>("lag").max(0.0))
}

pub async fn watermark(conn: &Conn, name: &str) -> Result<(i64, Uuid)> {
    let row = conn.query_opt("SELECT tx, id FROM export_watermarks WHERE name = $1", &[&name]).await?;
    Ok(row.map_or((0, Uuid::nil()), |r| (r.get("tx"), r.get("id"))))
}

pub async fn save_watermark(conn: &Conn, name: &str, at: (i64, Uuid)) -> Result<()> {
    conn.execute(
        "INSERT INTO export_watermarks (name, tx, id) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET tx = EXCLUDED.tx, id = EXCLUDED.id, updated_at = now()",
        &[&name, &at.0, &at.1],
    )
    .await?;
    Ok(())
}

/// Forgets client ids older than any timestamp a client may still send with them, so the
/// dedupe table does not grow forever.
/// Removes the client's address and agent (`metadata.ip`, `metadata.userAgent`) from events
/// that occurred more than `days` ago: from the stored mark (or the oldest event) up to the
/// cutoff, a day per transaction, moving the mark with each day done. The mark is exact
/// because no event is stored dated more than 7 days back (`types::occurred_at`), and
/// `days` is at least 8 (`PII_RETENTION_DAYS`). Answers how many events it changed.
pub async fn scrub_client_info(conn: &Conn, days: i64) -> Result<u64> {
    const MARK: &str = "events.client_info";
    let row = conn
        .query_one(
            "SELECT now() - make_interval(days => $2::int) AS cutoff,
                    coalesce((SELECT scrubbed_before FROM pii_scrub_marks WHERE name = $1),
                             (SELECT min(occurred_at) FROM events)) AS mark",
            &[&MARK, &(days as i32)],
        )
        .await?;
    let cutoff: DateTime<Utc> = row.get("cutoff");
    let Some(mut from) = row.get::<_, Option<DateTime<Utc>>>("mark") else { return Ok(0) };
    let mut changed = 0;
    while from < cutoff {
        let to = (from + chrono::Duration::days(1)).min(cutoff);
        changed += conn
            .atomically(async |conn| {
                let n = conn
                    .execute(
                        "UPDATE events SET metadata = metadata - 'ip' - 'userAgent'
                         WHERE occurred_at >= $1 AND occurred_at < $2 AND (metadata ? 'ip' OR metadata ? 'userAgent')",
                        &[&from, &to],
                    )
                    .await?;
                conn.execute(
                    "INSERT INTO pii_scrub_marks (name, scrubbed_before) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET scrubbed_before = greatest(pii_scrub_marks.scrubbed_before, $2)",
                    &[&MARK, &to],
                )
                .await?;
                Ok(n)
            })
            .await?;
        from = to;
    }
    Ok(changed)
}

pub async fn purge_dedupe(conn: &Conn, older_than_days: i64) -> Result<u64> {
    conn.execute(
        "DELETE FROM event_dedupe WHERE created_at < now() - make_interval(days => $1::int)",
        &[&(older_than_days as i32)],
    )
    .await
}
