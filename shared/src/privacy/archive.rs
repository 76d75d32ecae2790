//! Erasure in the S3 events archive, in two steps: at once, the erased account goes on the
//! erasure list (`erasures/<id>.json`), which the Athena view `events_live` applies to every
//! query; within 30 days, a rewrite of the archive's objects without the account's records.
//!
//! The rewrite is a pass over every object under `events/`, in key order, a slice per run of
//! the scheduler's `archive-erasures` task (every 15 minutes, while any erasure waits): each
//! object holding a record of an erased account is written again without it, and the version
//! it replaces deleted (the bucket is versioned). Where the pass stands is kept in Postgres, so
//! a run cut short resumes at the next object. An erasure made before the pass began (less the
//! time Firehose may still hold a record) is purged once the pass reaches the end.
//!
//! Why not Apache Iceberg tables, with Athena's `DELETE`: docs/privacy.md weighs the two.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{Conn, Db};
use crate::uses::{record, Resource};

/// The S3 calls the rewrite makes: what its IAM statement grants, and all it grants
/// (tests/it/consistency.rs).
pub const ARCHIVE_ACTIONS: [&str; 4] = ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObjectVersion"];

/// Where the erasure list lives in the archive bucket (the Glue table `erasures`).
pub const ERASURES_PREFIX: &str = "erasures/";
/// Where Firehose writes the events (the Glue table `events`).
pub const EVENTS_PREFIX: &str = "events/";

#[derive(Clone)]
pub struct Archive {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    /// How long after an erasure a record of the account may still reach the archive: the
    /// export's period and Firehose's buffer (5 minutes each), with room to spare. A pass
    /// purges the erasures made at least this long before it began.
    pub in_flight: Duration,
    /// Objects a listing call returns (S3's most is 1,000).
    pub page: i32,
}

/// What a run of the task did.
#[derive(Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rewritten {
    /// Erasures put on the archive's list.
    pub listed: usize,
    pub objects_read: u64,
    pub objects_rewritten: u64,
    pub records_removed: u64,
    /// Erasures whose records are now gone from every archived object.
    pub purged: u64,
    /// Whether the pass reached the end of the archive in this run.
    pub pass_finished: bool,
    /// How many days the oldest erasure still in the archive's files has waited (0 for none).
    pub backlog_days: f64,
}

/// One line of the erasure list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    user_id: Uuid,
    erased_at: DateTime<Utc>,
}

/// The one field of an archived record the rewrite needs.
#[derive(serde::Deserialize)]
struct Owner<'a> {
    #[serde(rename = "userId", borrow)]
    user_id: Option<&'a str>,
}

impl Archive {
    /// Puts every erasure not on the archive's list yet there (one object each, so a retry
    /// writes the same object again). Returns how many.
    pub async fn list_erasures(&self, conn: &Conn) -> anyhow::Result<usize> {
        let rows = conn
            .query("SELECT user_id, erased_at FROM erasures WHERE listed_at IS NULL ORDER BY erased_at LIMIT 1000", &[])
            .await?;
        for row in &rows {
            let listed = Listed { user_id: row.get("user_id"), erased_at: row.get("erased_at") };
            let mut line = serde_json::to_vec(&listed)?;
            line.push(b'\n');
            record(Resource::ErasureList);
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(format!("{ERASURES_PREFIX}{}.json", listed.user_id))
                .content_type("application/json")
                .body(ByteStream::from(line))
                .send()
                .await
                .context("put an erasure on the archive's list")?;
            conn.execute("UPDATE erasures SET listed_at = now() WHERE user_id = $1", &[&listed.user_id]).await?;
        }
        Ok(rows.len())
    }

    /// Lists what waits, then advances the rewrite for at most `budget`.
    pub async fn run(&self, db: &Db, budget: Duration) -> anyhow::Result<Rewritten> {
        let started = Instant::now();
        let conn = db.writer().await?;
        let listed = self.list_erasures(&conn).await?;
        let pending: HashSet<String> = conn
            .query("SELECT user_id::text FROM erasures WHERE archive_purged_at IS NULL", &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut done = Rewritten { listed, ..Rewritten::default() };
        if pending.is_empty() {
            conn.execute("DELETE FROM archive_rewrite", &[]).await?;
            return Ok(done);
        }
        let pass = conn
            .query_one(
                "INSERT INTO archive_rewrite DEFAULT VALUES
                 ON CONFLICT (one) DO UPDATE SET updated_at = now()
                 RETURNING started_at, after_key",
                &[],
            )
            .await?;
        let pass_started: DateTime<Utc> = pass.get("started_at");
        let mut after: String = pass.get("after_key");
        // At least one object a run, however small the budget: every run moves the pass on.
        loop {
            record(Resource::EventsArchive);
            let mut list = self.client.list_objects_v2().bucket(&self.bucket).prefix(EVENTS_PREFIX).max_keys(self.page);
            if !after.is_empty() {
                list = list.start_after(&after);
            }
            let listing = list.send().await.context("list the archive")?;
            let keys: Vec<String> = listing.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
            for key in &keys {
                let removed = self.rewrite_object(key, &pending).await?;
                done.objects_read += 1;
                if removed > 0 {
                    done.objects_rewritten += 1;
                    done.records_removed += removed;
                }
                after.clone_from(key);
                conn.execute(
                    "UPDATE archive_rewrite SET after_key = $1, objects = objects + 1,
                        rewritten = rewritten + $2, updated_at = now()",
                    &[&after, &i64::from(removed > 0)],
                )
                .await?;
                if started.elapsed() >= budget {
                    return Ok(done);
                }
            }
            if keys.is_empty() || !listing.is_truncated().unwrap_or(false) {
                break;
            }
        }
        // The end of the archive: every erasure made before the pass began, less what may
        // still have been in flight then, is out of every object.
        let in_flight = self.in_flight.as_secs_f64();
        done.purged = conn
            .execute(
                "UPDATE erasures SET archive_purged_at = now()
                 WHERE archive_purged_at IS NULL AND erased_at <= $1::timestamptz - make_interval(secs => $2)",
                &[&pass_started, &in_flight],
            )
            .await?;
        conn.execute("DELETE FROM archive_rewrite", &[]).await?;
        done.pass_finished = true;
        tracing::info!(?done, "archive rewrite pass finished");
        Ok(done)
    }

    /// Days the oldest erasure not yet purged from the archive has waited; 0 when none waits.
    pub async fn backlog_days(&self, db: &Db) -> anyhow::Result<f64> {
        let row = db
            .writer()
            .await?
            .query_one(
                "SELECT coalesce(extract(epoch FROM now() - min(erased_at)) / 86400, 0)::float8 AS days
                 FROM erasures WHERE archive_purged_at IS NULL",
                &[],
            )
            .await?;
        Ok(row.get("days"))
    }

    /// Writes `key` again without the records of `erased` accounts, deleting the version it
    /// replaces; returns how many records went (nothing is written when none did).
    async fn rewrite_object(&self, key: &str, erased: &HashSet<String>) -> anyhow::Result<u64> {
        let got =
            self.client.get_object().bucket(&self.bucket).key(key).send().await.context("read an archived object")?;
        let version = got.version_id().map(str::to_owned);
        let stored = got.body.collect().await.context("read an archived object")?.into_bytes();
        // Firehose compresses (GZIP); moto's does not. Gzip starts 1f 8b, JSON never does.
        let gzipped = stored.starts_with(&[0x1f, 0x8b]);
        let text = if gzipped {
            let mut text = Vec::with_capacity(stored.len() * 8);
            flate2::read::MultiGzDecoder::new(&stored[..])
                .read_to_end(&mut text)
                .context("gunzip an archived object")?;
            text
        } else {
            stored.to_vec()
        };
        let mut kept = Vec::with_capacity(text.len());
        let mut removed = 0;
        for line in text.split_inclusive(|b| *b == b'\n') {
            let owner = serde_json::from_slice::<Owner>(line.trim_ascii()).ok().and_then(|o| o.user_id);
            if owner.is_some_and(|id| erased.contains(id)) {
                removed += 1;
            } else {
                kept.extend_from_slice(line);
            }
        }
        if removed == 0 {
            return Ok(0);
        }
        let body = if gzipped {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&kept)?;
            encoder.finish()?
        } else {
            kept
        };
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .context("write an archived object again")?;
        // In a versioned bucket the old version would keep the records: delete it. (In one
        // without versions, the put replaced it, and its version id is "null".)
        if let Some(old) = version.filter(|v| v != "null" && Some(v.as_str()) != put.version_id()) {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .version_id(old)
                .send()
                .await
                .context("delete the replaced version of an archived object")?;
        }
        Ok(removed)
    }
}
