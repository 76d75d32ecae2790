//! The consumer side of SQS, shared by the Lambda workers and the always-on server.
//!
//! [`process_batch`] is what an SQS-triggered Lambda does with its event: every message
//! concurrently (bounded), and a `batchItemFailures` list naming only the messages that
//! failed, so SQS redelivers just those (and dead-letters them after maxReceiveCount).
//! [`poll_once`] plays the part of Lambda's event source mapping on a server: it long-polls
//! the queue, hands the batch to the same handler, and deletes only the messages the
//! handler reports done.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use futures::stream::{self, StreamExt};

use crate::jobs::JobError;
use crate::metrics::Metrics;

/// A queue's consumer: what both SQS-triggered Lambdas and the server's pollers call.
pub trait SqsWorker: Clone + Send + Sync + 'static {
    fn handle(&self, event: SqsEvent) -> impl Future<Output = SqsBatchResponse> + Send;
}

/// Runs `handle` on every message body, at most `concurrency` at once. The same body twice
/// in one batch (a redelivery beside its original) is handled once, and its copies share the
/// outcome: they would otherwise race each other for the idempotency claim.
pub async fn process_batch<F, Fut>(
    event: SqsEvent,
    concurrency: usize,
    queue: &'static str,
    metrics: &Metrics,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    let started = std::time::Instant::now();
    let total = event.records.len();
    let mut distinct: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for record in event.records {
        let (id, body) = (record.message_id.unwrap_or_default(), record.body.unwrap_or_default());
        match index.get(&body) {
            Some(&i) => distinct[i].1.push(id),
            None => {
                index.insert(body.clone(), distinct.len());
                distinct.push((body, vec![id]));
            }
        }
    }
    let outcomes: Vec<(Vec<String>, Result<(), JobError>)> = stream::iter(distinct)
        .map(|(body, ids)| {
            let fut = handle(body);
            async move { (ids, fut.await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (ids, outcome) in outcomes {
        let message_id = ids.join(",");
        match outcome {
            Ok(()) => tracing::debug!(queue, message_id, "message processed"),
            Err(JobError::Poison(reason)) => {
                tracing::error!(queue, message_id, reason, "poison message; it will reach the DLQ");
                ids.into_iter().for_each(|id| response.add_failure(id));
            }
            Err(JobError::Transient(e)) => {
                tracing::warn!(queue, message_id, error = format!("{e:#}"), "message failed; it will be retried");
                ids.into_iter().for_each(|id| response.add_failure(id));
            }
        }
    }
    let failed = response.batch_item_failures.len();
    metrics.batch(queue, total - failed, failed, started.elapsed().as_secs_f64() * 1000.0);
    response
}

/// Receives one batch (waiting up to `wait` for messages), runs `handler` on it as Lambda
/// would, and deletes the messages it did not report failed. Returns how many it received.
pub async fn poll_once<H, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait: Duration,
    handler: H,
) -> anyhow::Result<usize>
where
    H: FnOnce(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait.as_secs().min(20) as i32)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .context("receive messages")?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let count = messages.len();
    let mut receipts = Vec::with_capacity(count);
    let mut event = SqsEvent::default();
    for m in messages {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body;
        record.md5_of_body = m.md5_of_body;
        record.attributes =
            m.attributes.unwrap_or_default().into_iter().map(|(k, v)| (k.as_str().to_owned(), v)).collect();
        record.event_source = Some("aws:sqs".to_owned());
        receipts.push((m.message_id.unwrap_or_default(), m.receipt_handle.unwrap_or_default()));
        event.records.push(record);
    }
    let response = handler(event).await;
    let failed: HashSet<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    let done: Vec<DeleteMessageBatchRequestEntry> = receipts
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| !failed.contains(id))
        .filter_map(|(i, (_, receipt))| {
            DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(receipt).build().ok()
        })
        .collect();
    if !done.is_empty() {
        let out = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(done))
            .send()
            .await
            .context("delete processed messages")?;
        if !out.failed().is_empty() {
            // The work is done and idempotent: a redelivery of these is harmless.
            tracing::warn!(failed = out.failed().len(), "could not delete some processed messages");
        }
    }
    Ok(count)
}

/// Polls a queue until the process ends, backing off while the queue is unreachable.
pub async fn consume<H, Fut>(sqs: aws_sdk_sqs::Client, queue_url: String, wait: Duration, handler: H)
where
    H: Fn(SqsEvent) -> Fut,
    Fut: Future<Output = SqsBatchResponse>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        match poll_once(&sqs, &queue_url, wait, &handler).await {
            Ok(_) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(queue_url, error = format!("{e:#}"), "polling failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_lambda_events::sqs::SqsMessage;

    use super::*;

    fn event(bodies: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for (i, body) in bodies.iter().enumerate() {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some((*body).to_owned());
            event.records.push(m);
        }
        event
    }

    /// A message delivered twice in one batch is handled once, whatever the idempotency
    /// store does with two claims at the same instant; its copies share the outcome.
    #[tokio::test]
    async fn copies_in_one_batch_are_handled_once_and_share_the_outcome() {
        let metrics = Metrics::with_sink("Test", Arc::new(|_| {}));
        let calls = Arc::new(AtomicUsize::new(0));
        let handle = |body: String| {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                match body.as_str() {
                    "bad" => Err(JobError::Poison("bad".into())),
                    _ => Ok(()),
                }
            }
        };
        let response = process_batch(event(&["a", "a", "b", "bad", "a", "bad"]), 10, "test", &metrics, handle).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let mut failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        failed.sort();
        assert_eq!(failed, ["m3", "m5"]);
    }
}
