//! The archive export: every event, in insertion order from a watermark kept in Postgres,
//! to Amazon Data Firehose (which lands them in S3 for Athena). The watermark moves only
//! past what Firehose accepted, so nothing is lost or skipped when a run dies; a record may
//! go twice (a run that died after sending), and carries the event's id to deduplicate by.

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use serde_json::json;

use super::repo::{self, Event};
use crate::db::Db;
use crate::uses::{record, Resource};

/// Firehose's PutRecordBatch limits: 500 records and 4 MiB a call.
pub const MAX_RECORDS: usize = 500;
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// The most one record carries: Firehose takes up to 1,000 KiB a record and bills each in
/// 5 KB steps, so an event (~300 bytes) alone in a record was billed as 5 KB. Records are
/// packed with whole lines up to this; S3 gets the same newline-delimited lines either way.
pub const MAX_RECORD_BYTES: usize = 1000 * 1024;
/// Sends of the records a call refused before the run gives up (and the next run retries).
const ATTEMPTS: usize = 3;
pub const WATERMARK: &str = "events-firehose";

/// Where records go: one PutRecordBatch, answering which records were accepted.
pub trait Sink: Send + Sync {
    fn put(&self, records: Vec<Vec<u8>>) -> impl std::future::Future<Output = anyhow::Result<Vec<bool>>> + Send;
}

/// Amazon Data Firehose.
#[derive(Clone)]
pub struct Firehose {
    pub client: aws_sdk_firehose::Client,
    pub stream: String,
}

impl Sink for Firehose {
    async fn put(&self, records: Vec<Vec<u8>>) -> anyhow::Result<Vec<bool>> {
        record(Resource::EventsStream);
        let count = records.len();
        let records: Vec<Record> =
            records.into_iter().map(|r| Record::builder().data(Blob::new(r)).build()).collect::<Result<_, _>>()?;
        let output = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.stream)
            .set_records(Some(records))
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("Firehose PutRecordBatch: {e}"))?;
        let answers = output.request_responses();
        if answers.len() != count {
            anyhow::bail!("Firehose answered {} of {count} records", answers.len());
        }
        Ok(answers.iter().map(|r| r.error_code().is_none()).collect())
    }
}

/// One event as a line of the archive (JSON, newline-terminated: Firehose concatenates).
pub fn line(event: &Event) -> Vec<u8> {
    let mut line = json!({
        "id": event.id,
        "userId": event.user_id,
        "eventName": event.event_name,
        "properties": event.properties,
        "metadata": event.metadata,
        "occurredAt": event.occurred_at,
        "receivedAt": event.received_at,
    })
    .to_string()
    .into_bytes();
    line.push(b'\n');
    line
}

/// Packs `lines` into records of whole lines, in order, each at most `limit` bytes (a longer
/// line alone): the ranges of lines each record holds.
pub fn packs(lines: &[Vec<u8>], limit: usize) -> Vec<std::ops::Range<usize>> {
    let mut packs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, line) in lines.iter().enumerate() {
        if i > start && bytes + line.len() > limit {
            packs.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += line.len();
    }
    if start < lines.len() {
        packs.push(start..lines.len());
    }
    packs
}

/// Cuts `lines` into calls within Firehose's limits, in order.
pub fn calls(lines: &[Vec<u8>]) -> Vec<std::ops::Range<usize>> {
    let mut calls = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, line) in lines.iter().enumerate() {
        if i > start && (i - start == MAX_RECORDS || bytes + line.len() > MAX_BYTES) {
            calls.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += line.len();
    }
    if start < lines.len() {
        calls.push(start..lines.len());
    }
    calls
}

#[derive(Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    /// Events sent.
    pub sent: usize,
    /// The records they went in (Firehose bills by record).
    pub records: usize,
    /// Records Firehose still refused after the retries; the next run starts with them.
    pub refused: usize,
    /// How long the first event the export has not passed has waited, after the run; 0 when
    /// it has passed them all.
    pub lag_seconds: f64,
}

#[derive(Clone)]
pub struct Exporter<S> {
    pub db: Db,
    pub sink: S,
    /// Events read per statement.
    pub page: i64,
    /// The most one record carries ([`MAX_RECORD_BYTES`]).
    pub record_bytes: usize,
}

impl<S: Sink> Exporter<S> {
    /// Exports everything committed since the watermark, and measures what is left.
    pub async fn run(&self) -> anyhow::Result<Exported> {
        let mut report = self.export().await?;
        let conn = self.db.writer().await?;
        report.lag_seconds = repo::export_lag(&conn, repo::watermark(&conn, WATERMARK).await?).await?;
        Ok(report)
    }

    async fn export(&self) -> anyhow::Result<Exported> {
        let conn = self.db.writer().await?;
        let mut at = repo::watermark(&conn, WATERMARK).await?;
        let mut report = Exported::default();
        loop {
            let page = repo::export_page(&conn, at, self.page).await?;
            if page.is_empty() {
                return Ok(report);
            }
            let lines: Vec<Vec<u8>> = page.iter().map(|(_, e)| line(e)).collect();
            let packs = packs(&lines, self.record_bytes);
            let records: Vec<Vec<u8>> = packs.iter().map(|pack| lines[pack.clone()].concat()).collect();
            for call in calls(&records) {
                let accepted = self.send(&records[call.clone()]).await?;
                // The watermark moves past the accepted records up to the first refused one.
                let through = accepted.iter().take_while(|a| **a).count();
                report.records += accepted.iter().filter(|a| **a).count();
                report.sent += (call.start..call.end)
                    .zip(&accepted)
                    .filter(|(_, ok)| **ok)
                    .map(|(record, _)| packs[record].len())
                    .sum::<usize>();
                if through > 0 {
                    let (tx, event) = &page[packs[call.start + through - 1].end - 1];
                    at = (*tx, event.id);
                    repo::save_watermark(&conn, WATERMARK, at).await?;
                }
                if through < accepted.len() {
                    report.refused = accepted.len() - accepted.iter().filter(|a| **a).count();
                    tracing::warn!(refused = report.refused, "Firehose refused records; the next run resends them");
                    return Ok(report);
                }
            }
            if (page.len() as i64) < self.page {
                return Ok(report);
            }
        }
    }

    /// Sends one call's records, resending those refused; which were accepted in the end.
    async fn send(&self, lines: &[Vec<u8>]) -> anyhow::Result<Vec<bool>> {
        let mut accepted = vec![false; lines.len()];
        for _ in 0..ATTEMPTS {
            let pending: Vec<usize> = (0..lines.len()).filter(|i| !accepted[*i]).collect();
            if pending.is_empty() {
                break;
            }
            let answers = self.sink.put(pending.iter().map(|i| lines[*i].clone()).collect()).await?;
            for (i, ok) in pending.into_iter().zip(answers) {
                accepted[i] = ok;
            }
        }
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_pack_whole_lines_up_to_the_limit() {
        let lines = vec![vec![b'x'; 300]; 10];
        assert_eq!(packs(&lines, 1000), vec![0..3, 3..6, 6..9, 9..10]);
        assert_eq!(packs(&lines, MAX_RECORD_BYTES), vec![0..10], "a page of events, one record");
        let long = vec![vec![b'x'; 10], vec![b'y'; 5000], vec![b'z'; 10]];
        assert_eq!(packs(&long, 1000), vec![0..1, 1..2, 2..3], "a longer line goes alone");
        assert!(packs(&[], 1000).is_empty());
    }

    #[test]
    fn calls_keep_to_firehoses_limits() {
        let small = vec![vec![b'x'; 100]; 1200];
        assert_eq!(calls(&small), vec![0..500, 500..1000, 1000..1200]);
        let big = vec![vec![b'x'; 1024 * 1024]; 9];
        assert_eq!(calls(&big), vec![0..4, 4..8, 8..9], "4 MiB a call");
        assert!(calls(&[]).is_empty());
    }
}
