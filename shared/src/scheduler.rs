//! The scheduler, run by EventBridge schedules in AWS and by timers in the server:
//! dispatches scheduled notifications when they fall due, sends the daily nudges, and keeps
//! house. Each task runs on its own schedule, and the nudges resume from a stored cursor,
//! so a run cut short neither starves another task nor starts again from the oldest users.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::db::Db;
use crate::events::{self, export::Exporter, export::Firehose};
use crate::jobs::NotificationJob;
use crate::notifications::{self, nudge_job, NudgeKind};
use crate::queue::Queue;

/// Due notifications claimed per statement, and users looked at per page for the nudges.
const PAGE: i64 = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Every minute: notifications whose `scheduledFor` has passed.
    DueNotifications,
    /// Daily: the inactivity nudge.
    InactivityNudges,
    /// Daily: the KYC reminder.
    KycReminders,
    /// Daily: dropping refresh tokens a day past their expiry.
    Housekeeping,
    /// Every few minutes: events since the watermark to the archive (Firehose).
    EventsExport,
    /// Every quarter hour: the daily event counts, and the user bitmaps analytics counts
    /// distinct users with, of yesterday and today.
    EventsRollup,
    /// Daily: the events partitions of the months ahead.
    EventsPartitions,
    /// Daily: dropping events partitions past the retention.
    EventsRetention,
    /// Every minute: outbox rows their producers could not send (and pruning sent ones).
    OutboxRelay,
    /// Every minute: webhook deliveries due another attempt; endpoints failing for 3 days
    /// disabled, and the admins told.
    WebhookRetries,
    /// Every quarter hour, while an erasure waits: the archive's erasure list, and a slice of
    /// the rewrite of its objects without the erased accounts (privacy/archive.rs).
    ArchiveErasures,
    /// Every minute: people's full exports asked for, written to S3 and their links mailed
    /// (privacy/exports.rs).
    UserExports,
}

impl Task {
    pub const ALL: [Task; 12] = [
        Task::DueNotifications,
        Task::InactivityNudges,
        Task::KycReminders,
        Task::Housekeeping,
        Task::EventsExport,
        Task::EventsRollup,
        Task::EventsPartitions,
        Task::EventsRetention,
        Task::OutboxRelay,
        Task::WebhookRetries,
        Task::ArchiveErasures,
        Task::UserExports,
    ];

    /// The tasks a schedule's payload names: `{"task": …}` (the schedule's input) or an
    /// EventBridge event with the task in its `detail`. With neither, every task runs;
    /// `daily-nudges` (the earlier single daily schedule) runs the daily ones.
    pub fn from_event(event: &Value) -> anyhow::Result<Vec<Task>> {
        let task = event.get("task").or_else(|| event.get("detail").and_then(|d| d.get("task")));
        match task {
            None => Ok(Task::ALL.to_vec()),
            Some(t) if t == "daily-nudges" => Ok(vec![Task::InactivityNudges, Task::KycReminders, Task::Housekeeping]),
            Some(t) => Ok(vec![serde_json::from_value(t.clone()).context("unknown scheduler task")?]),
        }
    }

    /// How often the functions' schedules run it (the template's `Schedule` events; a test
    /// holds the two together). A runner that claims a task's tick asks that most of this
    /// period has passed since the last run began.
    pub fn period(self) -> Duration {
        const MINUTE: u64 = 60;
        Duration::from_secs(match self {
            Task::DueNotifications | Task::OutboxRelay | Task::WebhookRetries | Task::UserExports => MINUTE,
            Task::EventsExport => 5 * MINUTE,
            Task::EventsRollup | Task::ArchiveErasures => 15 * MINUTE,
            Task::InactivityNudges
            | Task::KycReminders
            | Task::Housekeeping
            | Task::EventsPartitions
            | Task::EventsRetention => 24 * 60 * MINUTE,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Task::DueNotifications => "due-notifications",
            Task::InactivityNudges => "inactivity-nudges",
            Task::KycReminders => "kyc-reminders",
            Task::Housekeeping => "housekeeping",
            Task::EventsExport => "events-export",
            Task::EventsRollup => "events-rollup",
            Task::EventsPartitions => "events-partitions",
            Task::EventsRetention => "events-retention",
            Task::OutboxRelay => "outbox-relay",
            Task::WebhookRetries => "webhook-retries",
            Task::ArchiveErasures => "archive-erasures",
            Task::UserExports => "user-exports",
        }
    }
}

#[derive(Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dispatched: usize,
    pub inactivity_nudges: usize,
    pub kyc_reminders: usize,
    /// Jobs that could not be enqueued; they are left for the next run.
    pub requeued: usize,
    /// Scheduled notifications given up as failed after their last dispatch attempt.
    pub given_up: u64,
    pub expired_sessions_purged: u64,
    /// Events whose client address and agent were removed (`PII_RETENTION_DAYS`).
    pub client_info_scrubbed: u64,
    /// Events sent to the archive, and records it refused (resent by the next run).
    pub events_exported: usize,
    pub events_export_refused: usize,
    pub events_export_lag_seconds: f64,
    pub rollup_rows: u64,
    pub bitmaps_written: u64,
    pub partitions_ensured: usize,
    pub partitions_dropped: Vec<String>,
    /// Past retention, but holding events the archive export has not passed.
    pub partitions_kept_unexported: Vec<String>,
    pub outbox: crate::outbox::Relayed,
    /// Rewards announced as available (`reward.available`).
    pub rewards_announced: usize,
    /// Webhook deliveries enqueued for another attempt, and endpoints disabled.
    pub webhooks_retried: usize,
    pub webhooks_disabled: usize,
    /// Erasures applied to the S3 archive (`archive-erasures`).
    pub archive: crate::privacy::Rewritten,
    /// Full exports written and mailed, or given up (`user-exports`).
    pub exports: crate::privacy::Written,
    /// Tasks whose tick another runner had already claimed (`run_ticks`), so not run here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Task>,
}

/// A run that has not finished within this long is taken to have died with its runner (the
/// longest a Lambda function may run), and the next tick may start the task again.
const STALE_RUN: Duration = Duration::from_secs(15 * 60);

/// Of a tick's period, the share that must have passed since the last run began: the slack
/// lets a timer that fires a little early still take the next tick.
const TICK_SHARE: f64 = 0.9;

/// How long one run of `archive-erasures` rewrites the archive, or of `user-exports` writes
/// exports, for (at least one object or export).
const SLICE: Duration = Duration::from_secs(40);

#[derive(Clone)]
pub struct Scheduler {
    pub db: Db,
    pub outbox: crate::outbox::Relay,
    pub notification_queue: Queue,
    pub webhook_queue: Queue,
    /// `None` when no delivery stream is configured: the export is off.
    pub events_export: Option<Exporter<Firehose>>,
    /// `None` when no archive bucket is configured: erasures stop at Postgres.
    pub archive: Option<crate::privacy::Archive>,
    /// `None` when no exports bucket is configured: no full exports are asked for.
    pub exports: Option<crate::privacy::Exports>,
    pub events_retention_days: i64,
    /// Days events keep the client's address and agent.
    pub pii_retention_days: i64,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// Whether the "export is off" notice has been logged (once per process).
static EXPORT_OFF_SAID: AtomicBool = AtomicBool::new(false);

impl Scheduler {
    /// Runs each task whose tick this runner wins. The functions' schedules and every
    /// always-on server fire the same tasks; the leader of each task's tick is chosen in
    /// Postgres: the first runner to claim it, once `every` (less a little slack) has passed
    /// since the last run began and that run has finished. The others skip the tick, so each
    /// task runs once per tick however many runners there are, and never twice at once.
    /// `runner` names this one in `scheduler_claims`, where operators see who ran what last.
    pub async fn run_ticks(&self, ticks: &[(Task, Duration)], runner: &str) -> anyhow::Result<Report> {
        let mut report = Report::default();
        for &(task, every) in ticks {
            let Some(started) = self.claim(task, every, runner).await? else {
                report.skipped.push(task);
                continue;
            };
            let ran = self.run_one(task, &mut report).await;
            let outcome = match &ran {
                Ok(()) => "ok".to_owned(),
                Err(e) => format!("{e:#}"),
            };
            // Finished either way, so a failed run does not hold the next tick back.
            self.db
                .writer()
                .await?
                .execute(
                    "UPDATE scheduler_claims SET finished_at = now(), outcome = $3
                     WHERE task = $1 AND started_at = $2",
                    &[&task.name(), &started, &outcome],
                )
                .await
                .context("record the end of a scheduled run")?;
            ran?;
        }
        tracing::info!(?report, "scheduler run");
        Ok(report)
    }

    /// Claims `task`'s tick for `runner`, returning when the run began; `None` when another
    /// runner holds it. One conditional upsert: a concurrent claim waits for the row lock and
    /// then finds the tick taken.
    async fn claim(&self, task: Task, every: Duration, runner: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
        let gap = every.mul_f64(TICK_SHARE).as_secs_f64();
        let row = self
            .db
            .writer()
            .await?
            .query_opt(
                "INSERT INTO scheduler_claims AS c (task, runner, started_at) VALUES ($1, $2, now())
                 ON CONFLICT (task) DO UPDATE
                    SET runner = excluded.runner, started_at = excluded.started_at,
                        finished_at = NULL, outcome = NULL, runs = c.runs + 1
                  WHERE c.started_at <= now() - make_interval(secs => $3)
                    AND (c.finished_at IS NOT NULL OR c.started_at <= now() - make_interval(secs => $4))
                 RETURNING started_at",
                &[&task.name(), &runner, &gap, &STALE_RUN.as_secs_f64()],
            )
            .await
            .context("claim a scheduled task's tick")?;
        Ok(row.map(|r| r.get("started_at")))
    }

    /// Whether this runner is set up for `task`: a server without the archive's stream or
    /// bucket must not take those tasks' ticks from the functions that have them.
    pub fn can_run(&self, task: Task) -> bool {
        match task {
            Task::EventsExport => self.events_export.is_some(),
            Task::ArchiveErasures => self.archive.is_some(),
            Task::UserExports => self.exports.is_some(),
            _ => true,
        }
    }

    /// Runs `tasks` now, whoever else may be running them: the operator's `run-task`.
    pub async fn run(&self, tasks: &[Task]) -> anyhow::Result<Report> {
        let mut report = Report::default();
        for &task in tasks {
            self.run_one(task, &mut report).await?;
        }
        tracing::info!(?report, "scheduler run");
        Ok(report)
    }

    async fn run_one(&self, task: Task, report: &mut Report) -> anyhow::Result<()> {
        match task {
            Task::DueNotifications => self.due_notifications(report).await?,
            Task::InactivityNudges => {
                report.inactivity_nudges = self.nudges(task, NudgeKind::Inactivity, &mut report.requeued).await?
            }
            Task::KycReminders => {
                report.kyc_reminders = self.nudges(task, NudgeKind::KycReminder, &mut report.requeued).await?
            }
            Task::Housekeeping => {
                let conn = self.db.writer().await?;
                report.expired_sessions_purged = crate::auth::purge_expired(&conn).await?;
                report.client_info_scrubbed = events::scrub_client_info(&conn, self.pii_retention_days).await?;
                events::purge_dedupe(&conn, self.events_retention_days).await?;
                crate::email::prune_sends(&conn).await?;
            }
            Task::EventsExport => match &self.events_export {
                Some(exporter) => {
                    // Boxed: the export's future is deep, and the scheduler's would carry its layout
                    // (past the compiler's query depth in the scheduler binary).
                    let exported = Box::pin(exporter.run()).await?;
                    self.metrics.events_export_lag(exported.lag_seconds);
                    report.events_export_lag_seconds = exported.lag_seconds;
                    report.events_exported = exported.sent;
                    report.events_export_refused = exported.refused;
                }
                None => {
                    if !EXPORT_OFF_SAID.swap(true, Ordering::Relaxed) {
                        tracing::info!("EVENTS_FIREHOSE_STREAM is not set: events are not exported to the archive");
                    }
                }
            },
            Task::EventsRollup => {
                let conn = self.db.writer().await?;
                report.rollup_rows = events::rollup(&conn).await?;
                report.bitmaps_written = crate::analytics::rollup(&conn).await?;
            }
            Task::EventsPartitions => {
                report.partitions_ensured = events::partitions::ensure(&self.db.writer().await?).await?
            }
            Task::EventsRetention => {
                let export = self.events_export.as_ref().map(|_| events::export::WATERMARK);
                let done =
                    events::partitions::drop_expired(&self.db.writer().await?, self.events_retention_days, export)
                        .await?;
                report.partitions_dropped = done.dropped;
                report.partitions_kept_unexported = done.kept_unexported;
            }
            Task::WebhookRetries => self.webhook_retries(report).await?,
            Task::UserExports => {
                if let Some(exports) = &self.exports {
                    let mut staged = Vec::new();
                    report.exports = Box::pin(exports.run(&self.db, SLICE, &mut staged)).await?;
                    self.outbox.send_now(&staged).await;
                }
            }
            Task::ArchiveErasures => {
                if let Some(archive) = &self.archive {
                    // Well inside the function's minute, so a slice always records where it stopped.
                    report.archive = Box::pin(archive.run(&self.db, SLICE)).await?;
                    report.archive.backlog_days = archive.backlog_days(&self.db).await?;
                    self.metrics.erasure_archive_backlog(report.archive.backlog_days);
                }
            }
            Task::OutboxRelay => {
                report.outbox = self.outbox.run().await?;
                self.metrics.outbox_backlog(report.outbox.pending, report.outbox.oldest_pending_seconds);
            }
        }
        self.metrics.scheduler_run(task.name());
        Ok(())
    }

    /// Enqueues the webhook deliveries due another attempt (those it cannot enqueue are due
    /// again at once), then disables the endpoints that have failed every delivery for 3
    /// days and mails the admins, in one transaction so that each is told once.
    async fn webhook_retries(&self, report: &mut Report) -> anyhow::Result<()> {
        use crate::webhooks::{repo, types::DISABLE_AFTER, EventType};
        let conn = self.db.writer().await?;
        // Rewards whose hold has passed: `reward.available`, once each, in the transaction
        // that marks them announced.
        let announced = conn
            .atomically(async |conn| {
                let rewards = crate::rewards::announce_available(conn, PAGE).await?;
                let mut staged = Vec::new();
                for reward in &rewards {
                    let data = serde_json::to_value(reward).map_err(anyhow::Error::from)?;
                    staged.extend(crate::webhooks::raise(conn, EventType::RewardAvailable, &data).await?);
                }
                Ok((rewards.len(), staged))
            })
            .await?;
        report.rewards_announced = announced.0;
        self.outbox.send_now(&announced.1).await;
        let due = repo::take_due(&conn, PAGE).await?;
        if !due.is_empty() {
            let jobs: Vec<crate::jobs::WebhookJob> = due.iter().map(|d| crate::jobs::WebhookJob::new(*d)).collect();
            let refused: Vec<Uuid> =
                self.webhook_queue.send_batch(&jobs).await.failed.into_iter().map(|(id, _)| id).collect();
            let unsent: Vec<Uuid> = jobs.iter().filter(|j| refused.contains(&j.id)).map(|j| j.delivery).collect();
            repo::release(&conn, &unsent).await?;
            report.webhooks_retried = due.len() - unsent.len();
        }
        let staged = conn
            .atomically(async |conn| {
                let disabled = repo::disable_failing(conn, DISABLE_AFTER.as_secs_f64()).await?;
                if disabled.is_empty() {
                    return Ok((0, Vec::new()));
                }
                let admins = repo::admin_emails(conn).await?;
                let content = format!(
                    "Every delivery to {} failed for 3 days, so GrowStack stopped sending to it. Fix the receiver, \
                     enable the endpoint again (the console, or PATCH /api/admin/webhooks/{{id}} with \
                     {{\"enabled\": true}}), and redeliver what it missed from its deliveries.",
                    disabled.join(", ")
                );
                let mails: Vec<crate::jobs::EmailJob> = admins
                    .into_iter()
                    .map(|to| crate::jobs::EmailJob {
                        id: Uuid::now_v7(),
                        to,
                        mail: crate::jobs::Mail::Notification(crate::jobs::Note {
                            first_name: None,
                            title: "A webhook endpoint was disabled".to_owned(),
                            content: content.clone(),
                        }),
                    })
                    .collect();
                let staged = crate::outbox::stage(conn, crate::outbox::Destination::Email, &mails).await?;
                Ok((disabled.len(), staged))
            })
            .await?;
        report.webhooks_disabled = staged.0;
        self.outbox.send_now(&staged.1).await;
        Ok(())
    }

    async fn due_notifications(&self, report: &mut Report) -> anyhow::Result<()> {
        let conn = self.db.writer().await?;
        report.given_up = notifications::give_up_dispatching(&conn).await?;
        loop {
            let due = notifications::claim_due(&conn, PAGE).await?;
            if due.is_empty() {
                return Ok(());
            }
            let jobs: Vec<NotificationJob> = due.iter().filter_map(|n| n.job()).collect();
            let failed = self.enqueue(&jobs).await;
            report.dispatched += jobs.len() - failed.len();
            if !failed.is_empty() {
                // SQS is refusing work; leave the rest for the next run.
                notifications::unclaim(&conn, &failed).await?;
                report.requeued += failed.len();
                return Ok(());
            }
        }
    }

    /// Enqueues, returning the ids that could not be enqueued.
    async fn enqueue(&self, jobs: &[NotificationJob]) -> Vec<Uuid> {
        self.notification_queue.send_batch(jobs).await.failed.into_iter().map(|(id, _)| id).collect()
    }

    async fn nudges(&self, task: Task, kind: NudgeKind, requeued: &mut usize) -> anyhow::Result<usize> {
        let conn = self.db.writer().await?;
        let mut after = notifications::cursor(&conn, task.name()).await?.unwrap_or(Uuid::nil());
        let mut sent = 0;
        loop {
            let (last, users) = notifications::claim_nudges(&conn, kind, after, PAGE).await?;
            if !users.is_empty() {
                let jobs: Vec<NotificationJob> = users.iter().map(|u| nudge_job(*u, kind)).collect();
                let failed_jobs = self.enqueue(&jobs).await;
                let failed_users: Vec<Uuid> =
                    jobs.iter().filter(|j| failed_jobs.contains(&j.id)).map(|j| j.user).collect();
                if !failed_users.is_empty() {
                    notifications::unclaim_nudges(&conn, kind, &failed_users).await?;
                    *requeued += failed_users.len();
                }
                sent += jobs.len() - failed_users.len();
            }
            match last {
                Some(last) => {
                    after = last;
                    notifications::save_cursor(&conn, task.name(), Some(after)).await?;
                }
                None => {
                    // Through to the last user: the next run starts from the first again.
                    notifications::save_cursor(&conn, task.name(), None).await?;
                    return Ok(sent);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tasks_from_events() {
        assert_eq!(Task::from_event(&json!({"task": "due-notifications"})).unwrap(), vec![Task::DueNotifications]);
        assert_eq!(
            Task::from_event(&json!({"detail-type": "Scheduled Event", "detail": {"task": "kyc-reminders"}})).unwrap(),
            vec![Task::KycReminders]
        );
        assert_eq!(Task::from_event(&json!({"task": "daily-nudges"})).unwrap().len(), 3);
        assert_eq!(Task::from_event(&json!({})).unwrap().len(), Task::ALL.len());
        for task in Task::ALL {
            assert_eq!(Task::from_event(&json!({ "task": task.name() })).unwrap(), vec![task]);
        }
        assert!(Task::from_event(&json!({"task": "reboot"})).is_err());
    }
}
