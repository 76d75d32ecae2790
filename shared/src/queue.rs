//! The producer side of SQS: typed jobs in, messages out. Batches go through
//! SendMessageBatch, ten entries a call, a few calls at a time; entries SQS refuses are
//! retried, and whatever still fails is returned to the caller, never dropped silently.

use std::time::Duration;

use anyhow::{anyhow, Context};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use futures::stream::{self, StreamExt};
use uuid::Uuid;

use crate::jobs::{encode, Job};
use crate::uses::{record, Resource};

/// SQS takes at most ten entries per SendMessageBatch.
const BATCH: usize = 10;
/// SendMessageBatch calls in flight at once.
const CONCURRENCY: usize = 4;
/// Tries of each entry before it is reported failed.
pub const ATTEMPTS: usize = 3;

#[derive(Clone)]
pub struct Queue {
    client: Client,
    url: Option<String>,
    /// Which queue it is, for the record of what each function uses.
    resource: Resource,
}

/// What a batch send did.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub sent: usize,
    /// SendMessageBatch calls made, retries included.
    pub calls: usize,
    /// Jobs that could not be enqueued, with the last reason.
    pub failed: Vec<(Uuid, String)>,
}

impl Queue {
    /// A queue at `url`; with no URL configured every send fails with a clear error.
    pub fn new(client: Client, url: Option<String>, resource: Resource) -> Self {
        Queue { client, url, resource }
    }

    pub fn url(&self) -> anyhow::Result<&str> {
        self.url.as_deref().ok_or_else(|| anyhow!("queue URL not configured"))
    }

    pub async fn send<J: Job>(&self, job: &J) -> anyhow::Result<()> {
        record(self.resource);
        self.client
            .send_message()
            .queue_url(self.url()?)
            .message_body(encode(job))
            .send()
            .await
            .with_context(|| format!("enqueue {} job {}", J::KIND, job.id()))?;
        Ok(())
    }

    /// Enqueues every job; see [`BatchReport`] for what happened to each.
    pub async fn send_batch<J: Job>(&self, jobs: &[J]) -> BatchReport {
        self.send_encoded(J::KIND, jobs.iter().map(|j| (j.id(), encode(j))).collect(), ATTEMPTS).await
    }

    /// Enqueues jobs already encoded (as the outbox holds them), `(id, body)` each, trying
    /// each entry up to `attempts` times.
    pub async fn send_encoded(&self, kind: &'static str, entries: Vec<(Uuid, String)>, attempts: usize) -> BatchReport {
        record(self.resource);
        let url = match self.url() {
            Ok(url) => url,
            Err(e) => {
                return BatchReport {
                    failed: entries.iter().map(|(id, _)| (*id, e.to_string())).collect(),
                    ..Default::default()
                }
            }
        };
        let chunks: Vec<Vec<(Uuid, String)>> = entries.chunks(BATCH).map(<[_]>::to_vec).collect();
        let reports: Vec<BatchReport> = stream::iter(chunks)
            .map(|chunk| self.send_chunk(url, kind, chunk, attempts))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        reports.into_iter().fold(BatchReport::default(), |mut total, r| {
            total.sent += r.sent;
            total.calls += r.calls;
            total.failed.extend(r.failed);
            total
        })
    }

    /// Sends up to ten encoded jobs, retrying the entries that fail.
    async fn send_chunk(
        &self,
        url: &str,
        kind: &'static str,
        mut pending: Vec<(Uuid, String)>,
        attempts: usize,
    ) -> BatchReport {
        let mut report = BatchReport::default();
        let mut last_error: Vec<(Uuid, String)> = Vec::new();
        for attempt in 0..attempts {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            let entries: Vec<SendMessageBatchRequestEntry> = pending
                .iter()
                .filter_map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder().id(id.simple().to_string()).message_body(body).build().ok()
                })
                .collect();
            report.calls += 1;
            match self.client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await {
                Ok(output) => {
                    let failed: Vec<(String, String)> = output
                        .failed()
                        .iter()
                        .map(|f| (f.id().to_owned(), f.message().unwrap_or(f.code()).to_owned()))
                        .collect();
                    report.sent += pending.len() - failed.len();
                    last_error = Vec::new();
                    pending.retain(|(id, _)| match failed.iter().find(|(f, _)| *f == id.simple().to_string()) {
                        Some((_, reason)) => {
                            last_error.push((*id, reason.clone()));
                            true
                        }
                        None => false,
                    });
                }
                Err(e) => {
                    let reason = format!("{:#}", anyhow::Error::new(e));
                    last_error = pending.iter().map(|(id, _)| (*id, reason.clone())).collect();
                }
            }
        }
        if !pending.is_empty() {
            // The caller decides what a refusal means (a 503, a row left for the relay).
            tracing::warn!(kind, failed = pending.len(), "jobs could not be enqueued");
            report.failed = last_error;
        }
        report
    }
}
