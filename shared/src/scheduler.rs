//! The scheduler, run by EventBridge schedules in AWS and by a timer in the server:
//! dispatches scheduled notifications when they fall due, and sends the daily nudges.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::db::Db;
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
    /// Daily: the inactivity nudge and the KYC reminder, and dropping refresh tokens that
    /// expired.
    DailyNudges,
}

impl Task {
    /// The task a schedule's payload names: `{"task": …}` (the schedule's input) or an
    /// EventBridge event with the task in its `detail`. With neither, every task runs.
    pub fn from_event(event: &Value) -> anyhow::Result<Vec<Task>> {
        let task = event.get("task").or_else(|| event.get("detail").and_then(|d| d.get("task")));
        match task {
            None => Ok(vec![Task::DueNotifications, Task::DailyNudges]),
            Some(t) => Ok(vec![serde_json::from_value(t.clone()).context("unknown scheduler task")?]),
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dispatched: usize,
    pub inactivity_nudges: usize,
    pub kyc_reminders: usize,
    /// Jobs that could not be enqueued; they are left for the next run.
    pub requeued: usize,
    pub expired_sessions_purged: u64,
}

#[derive(Clone)]
pub struct Scheduler {
    pub db: Db,
    pub notification_queue: Queue,
}

impl Scheduler {
    pub async fn run(&self, tasks: &[Task]) -> anyhow::Result<Report> {
        let mut report = Report::default();
        for task in tasks {
            match task {
                Task::DueNotifications => self.due_notifications(&mut report).await?,
                Task::DailyNudges => {
                    report.inactivity_nudges = self.nudges(NudgeKind::Inactivity, &mut report.requeued).await?;
                    report.kyc_reminders = self.nudges(NudgeKind::KycReminder, &mut report.requeued).await?;
                    report.expired_sessions_purged = crate::auth::purge_expired(&self.db.writer().await?).await?;
                }
            }
        }
        tracing::info!(?report, "scheduler run");
        Ok(report)
    }

    async fn due_notifications(&self, report: &mut Report) -> anyhow::Result<()> {
        let conn = self.db.writer().await?;
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

    async fn nudges(&self, kind: NudgeKind, requeued: &mut usize) -> anyhow::Result<usize> {
        let conn = self.db.writer().await?;
        let mut after = Uuid::nil();
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
                Some(last) => after = last,
                None => return Ok(sent),
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
            Task::from_event(&json!({"detail-type": "Scheduled Event", "detail": {"task": "daily-nudges"}})).unwrap(),
            vec![Task::DailyNudges]
        );
        assert_eq!(Task::from_event(&json!({})).unwrap().len(), 2);
        assert!(Task::from_event(&json!({"task": "reboot"})).is_err());
    }
}
