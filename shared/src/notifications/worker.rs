//! The notification worker: stores each notification (pending → sent / failed) and, for the
//! email channel, passes an email job on to the email queue.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use super::repo;
use crate::db::Db;
use crate::idempotency::Idempotency;
use crate::jobs::{decode, Channel, EmailJob, JobError, NotificationJob};
use crate::queue::Queue;
use crate::worker::{process_batch, SqsWorker};

#[derive(Clone)]
pub struct NotificationWorker {
    pub db: Db,
    pub email_queue: Queue,
    pub idempotency: Idempotency,
    pub concurrency: usize,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// The reason recorded for channels this deployment cannot deliver on.
pub const CHANNEL_NOT_CONFIGURED: &str = "channel not configured";

impl SqsWorker for NotificationWorker {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, self.concurrency, "notification", &self.metrics, |body| async move {
            self.process(&body).await
        })
        .await
    }
}

impl NotificationWorker {
    #[tracing::instrument(skip_all, fields(notification_id))]
    async fn process(&self, body: &str) -> Result<(), JobError> {
        let job: NotificationJob = decode(body)?;
        tracing::Span::current().record("notification_id", tracing::field::display(job.id));
        self.idempotency
            .once(&format!("notification#{}", job.id), async { self.deliver(&job).await.map(|()| None) })
            .await
    }

    async fn deliver(&self, job: &NotificationJob) -> Result<(), JobError> {
        let conn = self.db.writer().await?;
        let Some(recipient) = repo::store(&conn, job, None).await? else {
            // The user is gone (the inbox row went with them): nothing to deliver, ever.
            tracing::warn!(user_id = %job.user, "notification for a user who no longer exists dropped");
            return Ok(());
        };
        match job.channel {
            Channel::Email => {
                let mail = job.mail(&recipient.first_name).map_err(|e| {
                    JobError::Poison(format!("the notification's variables do not fit its template: {e}"))
                })?;
                // The email job shares the notification's id, so a redelivered notification
                // (or a retry after a crash) still sends one email.
                let email = EmailJob { id: job.id, to: recipient.email, mail };
                self.email_queue.send(&email).await?;
                repo::mark_sent(&conn, job.id).await?;
            }
            Channel::Sms | Channel::Whatsapp | Channel::Push => {
                repo::mark_failed(&conn, job.id, CHANNEL_NOT_CONFIGURED).await?;
                tracing::warn!(channel = job.channel.as_str(), "notification failed: channel not configured");
            }
        }
        Ok(())
    }
}
