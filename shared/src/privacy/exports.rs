//! Full exports: when a person's export document would leave events out (it carries the
//! newest 10,000), the whole of it is written to the exports bucket by the scheduler's
//! `user-exports` task, and whoever asked (the person, or staff answering them) is mailed a
//! link that works for 24 hours. The link is ours (`GET /api/exports/{id}?token=…`, the token
//! random and stored hashed), and answers with a presigned S3 URL valid for minutes: a URL
//! presigned by a function's role lasts no longer than the role's session, well under a day.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::db::{Conn, Db};
use crate::error::Result;
use crate::jobs::{DataExport, EmailJob, Mail};
use crate::outbox::{self, Destination, Staged};
use crate::uses::{record, Resource};

/// How long a download link works.
pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long the S3 URL the link answers with works: long enough to start the download.
const PRESIGNED_TTL: Duration = Duration::from_secs(300);
/// Attempts at writing an export before it is given up as failed.
const ATTEMPTS: i32 = 5;
/// Events read a query while writing the file.
const PAGE: i64 = 5000;

/// What the export document says about a full export asked for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requested {
    pub id: Uuid,
    /// `pending` until the file is written and the link mailed, then `ready`.
    pub status: String,
}

/// Asks for a full export of `user` for `requester`; one already waiting for the pair is
/// answered instead of a second (asking again while it is made changes nothing).
pub async fn request(conn: &Conn, user: Uuid, requester: Uuid) -> Result<Requested> {
    let row = conn
        .query_one(
            "WITH made AS (
                INSERT INTO user_exports (id, user_id, requested_by) VALUES ($1, $2, $3)
                ON CONFLICT (user_id, requested_by) WHERE status = 'pending' DO NOTHING
                RETURNING id, status
             )
             SELECT id, status FROM made
             UNION ALL
             SELECT id, status FROM user_exports
             WHERE user_id = $2 AND requested_by = $3 AND status = 'pending' AND NOT EXISTS (SELECT 1 FROM made)
             LIMIT 1",
            &[&Uuid::now_v7(), &user, &requester],
        )
        .await?;
    Ok(Requested { id: row.get("id"), status: row.get("status") })
}

#[derive(Clone)]
pub struct Exports {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    /// Where the download links point: the API.
    pub api_base_url: String,
}

/// What a run of the task did.
#[derive(Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    pub ready: usize,
    pub failed: usize,
}

fn key(id: Uuid) -> String {
    format!("exports/{id}.json.gz")
}

impl Exports {
    /// Writes waiting exports, one after another, for at most `budget` (at least one); the
    /// mails to send once committed go into `staged`.
    pub async fn run(&self, db: &Db, budget: Duration, staged: &mut Vec<Staged>) -> anyhow::Result<Written> {
        let started = Instant::now();
        let conn = db.writer().await?;
        let mut written = Written::default();
        loop {
            // Held for ten minutes: a runner that dies lets the next one take it over.
            let Some(claim) = conn
                .query_opt(
                    "UPDATE user_exports SET leased_until = now() + interval '10 minutes', attempts = attempts + 1,
                        updated_at = now()
                     WHERE id = (SELECT id FROM user_exports
                                 WHERE status = 'pending' AND (leased_until IS NULL OR leased_until < now())
                                 ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                     RETURNING id, user_id, requested_by, attempts",
                    &[],
                )
                .await?
            else {
                return Ok(written);
            };
            let (id, user): (Uuid, Uuid) = (claim.get("id"), claim.get("user_id"));
            match self.write(&conn, id, user).await {
                Ok((events, bytes)) => {
                    let token = crate::signing::random_text::<32>();
                    let link = format!("{}/api/exports/{id}?token={token}", self.api_base_url.trim_end_matches('/'));
                    let mails = conn
                        .atomically(async |conn| {
                            let to = conn
                                .query_one(
                                    "UPDATE user_exports x SET status = 'ready', token_hash = $2, events = $3, bytes = $4,
                                        ready_at = now(), expires_at = now() + make_interval(secs => $5),
                                        leased_until = NULL, updated_at = now()
                                     FROM users u WHERE x.id = $1 AND u.id = x.requested_by
                                     RETURNING u.email, u.first_name",
                                    &[&id, &crate::signing::sha256(token.as_bytes()), &events, &bytes, &LINK_TTL.as_secs_f64()],
                                )
                                .await?;
                            let job = EmailJob {
                                id: Uuid::now_v7(),
                                to: to.get("email"),
                                mail: Mail::DataExport(DataExport {
                                    first_name: Some(to.get("first_name")),
                                    download_link: link.clone(),
                                }),
                            };
                            outbox::stage(conn, Destination::Email, &[job]).await
                        })
                        .await?;
                    staged.extend(mails);
                    written.ready += 1;
                }
                Err(e) => {
                    let gave_up = claim.get::<_, i32>("attempts") >= ATTEMPTS;
                    tracing::warn!(export_id = %id, error = format!("{e:#}"), gave_up, "user export not written");
                    conn.execute(
                        "UPDATE user_exports SET status = CASE WHEN $2 THEN 'failed' ELSE status END, error = $3,
                            leased_until = now() + interval '1 minute', updated_at = now()
                         WHERE id = $1",
                        &[&id, &gave_up, &format!("{e:#}")],
                    )
                    .await?;
                    written.failed += usize::from(gave_up);
                }
            }
            if started.elapsed() >= budget {
                return Ok(written);
            }
        }
    }

    /// Writes the whole export of `user` as one gzipped JSON file: the document, with every
    /// event Postgres holds, newest first. Returns the events and bytes written.
    async fn write(&self, conn: &Conn, id: Uuid, user: Uuid) -> anyhow::Result<(i64, i64)> {
        let Some(mut document) = super::repo::export_with(conn, user, 0).await? else {
            anyhow::bail!("the user is gone");
        };
        if let Value::Object(map) = &mut document {
            map.remove("events");
        }
        let mut head = serde_json::to_vec(&document)?;
        head.pop(); // its closing brace: the events follow
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&head)?;
        gz.write_all(br#","events":["#)?;
        let mut after: Option<(DateTime<Utc>, Uuid)> = None;
        let mut events = 0i64;
        loop {
            let rows = conn
                .query(
                    "SELECT id, occurred_at, jsonb_build_object('id', id, 'event_name', event_name,
                        'properties', properties, 'metadata', metadata, 'occurred_at', occurred_at,
                        'received_at', received_at, 'source', source)::text AS line
                     FROM events
                     WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (occurred_at, id) < ($2, $3))
                     ORDER BY occurred_at DESC, id DESC LIMIT $4",
                    &[&user, &after.map(|a| a.0), &after.map(|a| a.1), &PAGE],
                )
                .await?;
            for row in &rows {
                if events > 0 {
                    gz.write_all(b",")?;
                }
                gz.write_all(row.get::<_, &str>("line").as_bytes())?;
                events += 1;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == PAGE => after = Some((last.get("occurred_at"), last.get("id"))),
                _ => break,
            }
        }
        gz.write_all(b"]}")?;
        let body = gz.finish()?;
        let bytes = body.len() as i64;
        record(Resource::ExportsWrite);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key(id))
            .content_type("application/gzip")
            .content_disposition(format!("attachment; filename=\"growstack-data-{}.json.gz\"", Utc::now().date_naive()))
            .body(ByteStream::from(body))
            .send()
            .await
            .context("put the export's file")?;
        Ok((events, bytes))
    }

    /// The S3 URL a valid link answers with, or why there is none.
    pub async fn download(&self, conn: &Conn, id: Uuid, token: &str) -> Result<String> {
        use crate::error::Error;
        let row = conn
            .query_opt("SELECT status, token_hash, expires_at > now() AS live FROM user_exports WHERE id = $1", &[&id])
            .await?
            .ok_or(Error::NotFound("no such export"))?;
        let stored: Option<Vec<u8>> = row.get("token_hash");
        let given = crate::signing::sha256(token.as_bytes());
        let matches = stored.is_some_and(|s| crate::signing::same_secret(&s, &given));
        if !matches {
            return Err(Error::NotFound("no such export"));
        }
        if row.get::<_, String>("status") != "ready" || !row.get::<_, Option<bool>>("live").unwrap_or(false) {
            return Err(Error::Gone("the link has expired; ask for a new export"));
        }
        record(Resource::ExportsRead);
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key(id))
            .presigned(PresigningConfig::expires_in(PRESIGNED_TTL).map_err(anyhow::Error::new)?)
            .await
            .map_err(anyhow::Error::new)?;
        Ok(presigned.uri().to_owned())
    }
}
