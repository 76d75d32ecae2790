//! The transactional outbox: a job a request produces is written to `outbox` in the same
//! transaction as the change that causes it, so an accepted write never loses its promised
//! side effect to a queue that said no. Right after the commit the producer sends its rows
//! (best effort, so the usual path pays one more statement); whatever it could not send, or
//! a producer that died first, the relay sends once the row's lease lapses — a scheduler
//! task every minute in AWS, a timer in the server. Delivery is at least once, under the
//! job's own id, which the workers deduplicate.

use std::time::Duration;

use uuid::Uuid;

use crate::db::{Conn, Db};
use crate::error::Result;
use crate::jobs::{encode, Job};
use crate::macros::text_enum;
use crate::queue::Queue;

text_enum!(Destination { Email => "email", Notification => "notification", Webhook => "webhook" });

/// How long a row staged or claimed is left to its sender before the relay takes it.
pub const LEASE: Duration = Duration::from_secs(30);
/// Rows the relay claims per statement.
const PAGE: i64 = 500;

/// A job written to the outbox, to send once its transaction commits.
#[derive(Clone, Debug)]
pub struct Staged {
    pub id: Uuid,
    pub destination: Destination,
    pub body: String,
}

/// Writes `jobs` for `destination` to the outbox on `conn` (inside the caller's
/// transaction), leased to this caller for [`LEASE`]. A job id staged before is not staged
/// again.
pub async fn stage<J: Job>(conn: &Conn, destination: Destination, jobs: &[J]) -> Result<Vec<Staged>> {
    let staged: Vec<Staged> = jobs.iter().map(|job| Staged { id: job.id(), destination, body: encode(job) }).collect();
    let ids: Vec<Uuid> = staged.iter().map(|s| s.id).collect();
    let bodies: Vec<&str> = staged.iter().map(|s| s.body.as_str()).collect();
    conn.execute(
        "INSERT INTO outbox (id, destination, body, available_at)
         SELECT id, $2, body, now() + make_interval(secs => $4) FROM unnest($1::uuid[], $3::text[]) AS t(id, body)
         ON CONFLICT (id) DO NOTHING",
        &[&ids, &destination.as_str(), &bodies, &(LEASE.as_secs_f64())],
    )
    .await?;
    Ok(staged)
}

/// Sends outbox rows to their queues and marks them sent.
#[derive(Clone)]
pub struct Relay {
    pub db: Db,
    pub email: Queue,
    pub notification: Queue,
    pub webhook: Queue,
}

/// What a relay run did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Relayed {
    pub sent: usize,
    /// Left for a later run (their lease makes them due again).
    pub failed: usize,
    pub pruned: u64,
    /// Rows still unsent after the run, and the age of the oldest in seconds.
    pub pending: i64,
    pub oldest_pending_seconds: i64,
}

impl Relay {
    /// Sends rows this process has just committed, in one attempt: the request is waiting.
    /// Never fails the caller: what is not sent now is sent by the relay.
    pub async fn send_now(&self, staged: &[Staged]) {
        if let Err(e) = self.send(staged, true).await {
            tracing::warn!(error = format!("{e:#}"), jobs = staged.len(), "outbox rows left for the relay");
        }
    }

    /// Sends `staged` and marks what went. From a request (`release`): one attempt, and this
    /// sender's lease on the rest given up, so that the relay's next run takes them; from
    /// the relay, a few attempts, and the rest keep their lease until a later run.
    async fn send(&self, staged: &[Staged], release: bool) -> Result<Relayed> {
        let attempts = if release { 1 } else { crate::queue::ATTEMPTS };
        let mut sent = Vec::new();
        let mut failed: Vec<Uuid> = Vec::new();
        for (destination, queue) in [
            (Destination::Email, &self.email),
            (Destination::Notification, &self.notification),
            (Destination::Webhook, &self.webhook),
        ] {
            let entries: Vec<(Uuid, String)> =
                staged.iter().filter(|s| s.destination == destination).map(|s| (s.id, s.body.clone())).collect();
            if entries.is_empty() {
                continue;
            }
            let ids: Vec<Uuid> = entries.iter().map(|(id, _)| *id).collect();
            let report = queue.send_encoded(destination.as_str(), entries, attempts).await;
            let refused: std::collections::HashSet<Uuid> = report.failed.iter().map(|(id, _)| *id).collect();
            sent.extend(ids.into_iter().filter(|id| !refused.contains(id)));
            failed.extend(refused);
        }
        let released: &[Uuid] = if release { &failed } else { &[] };
        if !sent.is_empty() || !released.is_empty() {
            self.db
                .writer()
                .await?
                .execute(
                    "UPDATE outbox SET sent_at = CASE WHEN id = ANY ($1) THEN now() END,
                            available_at = CASE WHEN id = ANY ($2) THEN now() ELSE available_at END, updated_at = now()
                     WHERE id = ANY ($1) OR id = ANY ($2)",
                    &[&sent, &released],
                )
                .await?;
        }
        Ok(Relayed { sent: sent.len(), failed: failed.len(), ..Relayed::default() })
    }

    /// Sends every due row: claimed a page at a time with `FOR UPDATE SKIP LOCKED` and a
    /// lease, so two relays never send the same row at once; then prunes rows sent more than
    /// a day ago.
    pub async fn run(&self) -> Result<Relayed> {
        let mut total = Relayed::default();
        loop {
            let rows = self
                .db
                .writer()
                .await?
                .query(
                    "UPDATE outbox o SET available_at = now() + make_interval(secs => $2), attempts = o.attempts + 1,
                            updated_at = now()
                     FROM (SELECT id FROM outbox WHERE sent_at IS NULL AND available_at <= now()
                           ORDER BY available_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
                     WHERE o.id = due.id
                     RETURNING o.id, o.destination, o.body",
                    &[&PAGE, &(LEASE.as_secs_f64())],
                )
                .await?;
            let staged: Vec<Staged> = rows
                .iter()
                .filter_map(|row| {
                    let destination = Destination::parse(row.get("destination"))?;
                    Some(Staged { id: row.get("id"), destination, body: row.get("body") })
                })
                .collect();
            let relayed = self.send(&staged, false).await?;
            total.sent += relayed.sent;
            total.failed += relayed.failed;
            // A short page is the last; a queue refusing work waits for the next run.
            if rows.len() < PAGE as usize || relayed.failed > 0 {
                break;
            }
        }
        let conn = self.db.writer().await?;
        total.pruned = conn.execute("DELETE FROM outbox WHERE sent_at < now() - interval '1 day'", &[]).await?;
        let backlog = conn
            .query_one(
                "SELECT count(*) AS pending,
                        coalesce(extract(epoch FROM now() - min(created_at))::bigint, 0) AS oldest_pending_seconds
                 FROM outbox WHERE sent_at IS NULL",
                &[],
            )
            .await?;
        (total.pending, total.oldest_pending_seconds) = (backlog.get("pending"), backlog.get("oldest_pending_seconds"));
        if total.sent > 0 || total.failed > 0 {
            tracing::info!(sent = total.sent, failed = total.failed, "outbox relayed");
        }
        Ok(total)
    }
}
