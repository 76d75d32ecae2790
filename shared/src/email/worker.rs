//! The email worker: SQS email jobs → SES v2 SendEmail (Simple content), each job sent once.

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};

use super::routes::unsubscribe_url;
use super::sends;
use super::suppressions;
use super::templates::{category, render, Links};
use crate::db::Db;
use crate::events::lifecycle;
use crate::idempotency::Idempotency;
use crate::jobs::{decode, EmailJob, JobError};
use crate::users::Email;
use crate::worker::{process_batch, SqsWorker};

#[derive(Clone)]
pub struct EmailWorker {
    pub ses: aws_sdk_sesv2::Client,
    /// For the suppression list.
    pub db: Db,
    /// Its link key signs the unsubscribe links.
    pub tokens: std::sync::Arc<crate::auth::Tokens>,
    pub api_base_url: String,
    pub idempotency: Idempotency,
    pub from: String,
    pub configuration_set: Option<String>,
    pub links: Links,
    pub concurrency: usize,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub pace: SendPace,
}

/// SES's sending rate belongs to the account, not to a worker: every send takes its turn from
/// one budget per second (`SES_MAX_SEND_RATE`; 14 is SES's usual starting rate), kept in
/// Redis for every worker at once (in each process alone while Redis is away). A send that
/// finds the second spent waits for the next, a few times, and then goes back to the queue
/// rather than to SES's throttling and, three throttlings later, the dead-letter queue.
#[derive(Clone)]
pub struct SendPace {
    pub cache: crate::cache::Cache,
    pub per_second: u64,
}

impl SendPace {
    const TRIES: u32 = 8;

    pub async fn wait(&self) -> Result<(), JobError> {
        for attempt in 0..Self::TRIES {
            let spent = self.cache.take("ses-send-rate", 1, self.per_second, std::time::Duration::from_secs(1)).await;
            if spent.is_none() {
                return Ok(());
            }
            // Spread the waiters over the next second instead of all at its start.
            tokio::time::sleep(std::time::Duration::from_millis(100 + 40 * u64::from(attempt))).await;
        }
        Err(JobError::Transient(anyhow::anyhow!("the SES send rate of this second is spent; the queue retries it")))
    }
}

fn content(text: &str) -> anyhow::Result<Content> {
    Content::builder().data(text).charset("UTF-8").build().context("email content")
}

impl SqsWorker for EmailWorker {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        process_batch(event, self.concurrency, "email", &self.metrics, |body| async move { self.process(&body).await })
            .await
    }
}

impl EmailWorker {
    #[tracing::instrument(skip_all, fields(job_id))]
    async fn process(&self, body: &str) -> Result<(), JobError> {
        let job: EmailJob = decode(body)?;
        tracing::Span::current().record("job_id", tracing::field::display(job.id));
        self.idempotency
            .once(&format!("email#{}", job.id), async {
                // An attempt that died after SES took the mail, before DynamoDB heard of it.
                if let Some(message_id) = sends::sent(&self.db.writer().await?, job.id).await? {
                    tracing::info!(job_id = %job.id, "email already sent by an earlier attempt");
                    return Ok(Some(message_id));
                }
                let Some(message_id) = self.send(&job).await? else {
                    tracing::info!(job_id = %job.id, template = job.mail.template().as_str(), "email suppressed");
                    return Ok(Some("suppressed".to_owned()));
                };
                // First of all, the record that it went: a crash from here on sends nothing more.
                if let Err(e) = sends::record(&self.db.writer().await?, job.id, &message_id).await {
                    tracing::warn!(job_id = %job.id, error = %e, "email send not recorded");
                }
                self.metrics.email_sent(job.mail.template().as_str());
                tracing::info!(job_id = %job.id, template = job.mail.template().as_str(), "email sent");
                // The mail is gone either way: a missing event must not resend it.
                let properties = serde_json::json!({ "template": job.mail.template().as_str(), "jobId": job.id });
                if let Err(e) = self.record_sent(&job.to, &properties).await {
                    tracing::warn!(job_id = %job.id, error = %e, "email_sent event not recorded");
                }
                Ok(Some(message_id))
            })
            .await
    }

    async fn record_sent(&self, to: &str, properties: &serde_json::Value) -> crate::Result<()> {
        let conn = self.db.writer().await?;
        lifecycle::record_for_email(&conn, &to.trim().to_lowercase(), lifecycle::EMAIL_SENT, properties).await
    }

    /// Renders and sends; returns SES's message id, or `None` when the address must not get
    /// this mail (it bounced or complained, or opted out of this category).
    async fn send(&self, job: &EmailJob) -> Result<Option<String>, JobError> {
        let to = Email::parse(&job.to).map_err(|_| JobError::Poison("recipient is not an email address".into()))?;
        let category = category(job.mail.template());
        if suppressions::is_suppressed(&self.db.writer().await?, to.as_str(), category).await? {
            return Ok(None);
        }
        let unsubscribe = match category {
            Some(c) => {
                let keys = self.tokens.links().await.map_err(|e| JobError::Transient(anyhow::Error::new(e)))?;
                Some(unsubscribe_url(&self.api_base_url, &keys, to.as_str(), c))
            }
            None => None,
        };
        let rendered = render(&job.mail, &self.links, unsubscribe.as_deref())?;
        let mut message = Message::builder()
            .subject(content(&rendered.subject)?)
            .body(Body::builder().html(content(&rendered.html)?).text(content(&rendered.text)?).build());
        if let Some(unsubscribe) = &rendered.list_unsubscribe {
            message = message
                .headers(
                    MessageHeader::builder().name("List-Unsubscribe").value(unsubscribe).build().context("header")?,
                )
                .headers(
                    MessageHeader::builder()
                        .name("List-Unsubscribe-Post")
                        .value("List-Unsubscribe=One-Click")
                        .build()
                        .context("header")?,
                );
        }
        self.pace.wait().await?;
        crate::uses::record(crate::uses::Resource::SesSend);
        let output = self
            .ses
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(message.build()).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .context("SES SendEmail")?;
        Ok(Some(output.message_id.unwrap_or_default()))
    }
}
