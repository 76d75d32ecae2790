//! All of the experiments' SQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::types::Json;
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use super::types::{Metric, MetricSource, Reference, Status, Targeting, Variant, Variants};
use crate::db::Conn;
use crate::error::{unique_violation, Error, Result};
use crate::events::lifecycle;

/// An experiment as staff see it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Experiment {
    pub id: Uuid,
    /// What apps name it by.
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// Staff see it, so that a warehouse can recompute the split: a user's bucket is the
    /// first 8 bytes of SHA-256(`seed:userId`), big-endian, modulo 10,000.
    pub seed: String,
    // Inline: the users' account status is the document's `Status`.
    #[schema(inline)]
    pub status: Status,
    /// The first is the control.
    #[schema(value_type = Vec<Variant>, min_items = 2, max_items = 10)]
    pub variants: Variants,
    pub metric: Metric,
    pub targeting: Targeting,
    /// When it starts assigning users; `null`: as soon as it is active.
    pub start_date: Option<DateTime<Utc>>,
    /// When it stops assigning users; `null`: never by itself.
    pub end_date: Option<DateTime<Utc>>,
    /// Who created it; `null` once that account is gone.
    pub created_by: Option<Uuid>,
    /// When it first became active.
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, key, name, description, seed, status, variants, metric_event, metric_window_hours,
     metric_source, targeting, start_date, end_date, created_by, started_at, completed_at, created_at, updated_at";

impl Experiment {
    fn from_row(row: &Row) -> Result<Self> {
        let status: String = row.get("status");
        let Json(variants): Json<Variants> = row.try_get("variants").map_err(anyhow::Error::from)?;
        let Json(targeting): Json<Targeting> = row.try_get("targeting").map_err(anyhow::Error::from)?;
        Ok(Experiment {
            id: row.get("id"),
            key: row.get("key"),
            name: row.get("name"),
            description: row.get("description"),
            seed: row.get("seed"),
            status: Status::parse(&status).ok_or_else(|| anyhow::anyhow!("unknown experiment status {status}"))?,
            variants,
            metric: Metric {
                event_name: row.get("metric_event"),
                window_hours: row.get("metric_window_hours"),
                source: {
                    let source: String = row.get("metric_source");
                    MetricSource::parse(&source).ok_or_else(|| anyhow::anyhow!("unknown metric source {source}"))?
                },
            },
            targeting,
            start_date: row.get("start_date"),
            end_date: row.get("end_date"),
            created_by: row.get("created_by"),
            started_at: row.get("started_at"),
            completed_at: row.get("completed_at"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        })
    }

    /// Whether it assigns users at `now`: active, and within its dates.
    pub fn running_at(&self, now: DateTime<Utc>) -> Result<()> {
        if self.status != Status::Active {
            return Err(Error::Conflict("the experiment is not active"));
        }
        if self.start_date.is_some_and(|start| now < start) {
            return Err(Error::Conflict("the experiment has not started yet"));
        }
        if self.end_date.is_some_and(|end| now >= end) {
            return Err(Error::Conflict("the experiment has ended"));
        }
        Ok(())
    }
}

fn many(rows: Vec<Row>) -> Result<Vec<Experiment>> {
    rows.iter().map(Experiment::from_row).collect()
}

fn key_taken(e: tokio_postgres::Error) -> Error {
    match unique_violation(&e) {
        Some("experiments_key_key") => Error::ConflictDetail {
            message: "an experiment with this key exists".to_owned(),
            details: serde_json::json!({ "field": "key" }),
        },
        _ => e.into(),
    }
}

/// Everything an experiment is made with; the API has checked each part.
pub struct NewExperiment {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub variants: Variants,
    pub metric: Metric,
    pub targeting: Targeting,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub created_by: Uuid,
}

pub async fn create(conn: &Conn, new: &NewExperiment) -> Result<Experiment> {
    let row = conn
        .try_query_opt(
            &format!(
                "INSERT INTO experiments (id, key, name, description, seed, variants, metric_event, metric_window_hours,
                                          targeting, start_date, end_date, created_by, metric_source)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 RETURNING {COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &new.key,
                &new.name,
                &new.description,
                &super::types::new_seed(),
                &Json(&new.variants),
                &new.metric.event_name,
                &new.metric.window_hours,
                &Json(&new.targeting),
                &new.start_date,
                &new.end_date,
                &new.created_by,
                &new.metric.source.as_str(),
            ],
        )
        .await?
        .map_err(key_taken)?;
    Experiment::from_row(&row.ok_or_else(|| anyhow::anyhow!("INSERT … RETURNING gave no row"))?)
}

pub async fn find(conn: &Conn, reference: &Reference) -> Result<Option<Experiment>> {
    let row = match reference {
        Reference::Id(id) => conn.query_opt(&format!("SELECT {COLUMNS} FROM experiments WHERE id = $1"), &[id]).await?,
        Reference::Key(key) => {
            conn.query_opt(&format!("SELECT {COLUMNS} FROM experiments WHERE key = $1"), &[&key.as_str()]).await?
        }
    };
    row.as_ref().map(Experiment::from_row).transpose()
}

/// A page of experiments, newest first, in `status` if given; and how many there are.
pub async fn page(conn: &Conn, status: Option<Status>, limit: i64, offset: i64) -> Result<(Vec<Experiment>, i64)> {
    let status = status.map(Status::as_str);
    let rows = conn
        .query(
            &format!(
                "SELECT {COLUMNS}, count(*) OVER () AS total FROM experiments
                 WHERE $1::text IS NULL OR status = $1
                 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
            ),
            &[&status, &limit, &offset],
        )
        .await?;
    let total = match rows.first() {
        Some(row) => row.get("total"),
        // Past the last page the window count is gone; count on its own.
        None => conn
            .query_one("SELECT count(*) AS total FROM experiments WHERE $1::text IS NULL OR status = $1", &[&status])
            .await?
            .get("total"),
    };
    Ok((many(rows)?, total))
}

/// Writes `next` over `current` unless someone changed the experiment since `current` was
/// read (then `None`: the caller answers 409 and the client reads again).
pub async fn replace(conn: &Conn, current: &Experiment, next: &Experiment) -> Result<Option<Experiment>> {
    let row = conn
        .try_query_opt(
            &format!(
                "UPDATE experiments SET name = $3, description = $4, status = $5, variants = $6, metric_event = $7,
                        metric_window_hours = $8, targeting = $9, start_date = $10, end_date = $11,
                        metric_source = $12,
                        started_at = CASE WHEN $5 = 'active' THEN coalesce(started_at, now()) ELSE started_at END,
                        completed_at = CASE WHEN $5 = 'completed' THEN coalesce(completed_at, now()) END,
                        updated_at = clock_timestamp()
                 WHERE id = $1 AND updated_at = $2
                 RETURNING {COLUMNS}"
            ),
            &[
                &current.id,
                &current.updated_at,
                &next.name,
                &next.description,
                &next.status.as_str(),
                &Json(&next.variants),
                &next.metric.event_name,
                &next.metric.window_hours,
                &Json(&next.targeting),
                &next.start_date,
                &next.end_date,
                &next.metric.source.as_str(),
            ],
        )
        .await?
        .map_err(Error::from)?;
    row.as_ref().map(Experiment::from_row).transpose()
}

/// What the assignment statement found.
pub struct Exposure {
    /// The user's row passes the targeting that needs it (onboarding step, referred), or the
    /// user was exposed before: a participant stays in, whatever changes since.
    pub targeted: bool,
    /// This call recorded the user's first exposure (and its event).
    pub first: bool,
}

/// Records the user's exposure to `variant` once, with its `experiment_exposure` event, if
/// the user's row passes the targeting: one statement, and nothing written when the user
/// was exposed before.
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn expose(conn: &Conn, experiment: &Experiment, user: Uuid, variant: &str) -> Result<Exposure> {
    let steps = experiment.targeting.steps();
    let referred = experiment.targeting.referred;
    // Only targeting by onboarding step or referral reads the user's row.
    let target = if steps.is_none() && referred.is_none() {
        "SELECT $2::uuid AS id WHERE $4::text[] IS NULL AND $5::boolean IS NULL"
    } else {
        "SELECT id FROM users
         WHERE id = $2 AND ($4::text[] IS NULL OR onboarding_step = ANY ($4))
           AND ($5::boolean IS NULL OR (referred_by IS NOT NULL) = $5)"
    };
    let row = conn
        .try_query_opt(
            &format!(
                "WITH target AS ({target}), exposed AS (
                    INSERT INTO experiment_exposures (experiment_id, user_id, variant)
                    SELECT $1, id, $3 FROM target
                    ON CONFLICT DO NOTHING
                    RETURNING user_id, exposed_at
                 ), logged AS (
                    INSERT INTO events (id, user_id, event_name, properties, occurred_at, source, activity)
                    SELECT $6, user_id, '{exposure}',
                           jsonb_build_object('experimentId', $1::uuid, 'key', $7::text, 'variant', $3::text), exposed_at,
                           'system', {activity}
                    FROM exposed
                 )
                 SELECT EXISTS (SELECT 1 FROM target)
                        OR EXISTS (SELECT 1 FROM experiment_exposures WHERE experiment_id = $1 AND user_id = $2)
                        AS targeted,
                        EXISTS (SELECT 1 FROM exposed) AS first",
                exposure = lifecycle::EXPERIMENT_EXPOSURE.name,
                activity = lifecycle::is_activity(lifecycle::Source::System, Some(lifecycle::EXPERIMENT_EXPOSURE)),
            ),
            &[&experiment.id, &user, &variant, &steps, &referred, &Uuid::now_v7(), &experiment.key],
        )
        .await?
        .map_err(|e| match e.code() {
            // A token outliving its account.
            Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => Error::Unauthorized("account not found"),
            _ => e.into(),
        })?
        .ok_or_else(|| anyhow::anyhow!("the assignment statement gave no row"))?;
    Ok(Exposure { targeted: row.get("targeted"), first: row.get("first") })
}

/// One variant's counts: participants exposed to it alone, and those of them who did the
/// metric event after their first exposure and within the window.
pub struct VariantCounts {
    pub variant: String,
    pub participants: i64,
    pub conversions: i64,
}

/// The counts per variant, and the users exposed to more than one (left out of every count).
#[tracing::instrument(skip_all, fields(experiment_id = %experiment.id))]
pub async fn counts(conn: &Conn, experiment: &Experiment) -> Result<(Vec<VariantCounts>, i64)> {
    let rows = conn
        .query(
            "WITH exposed AS (
                SELECT user_id, min(variant) AS variant, min(exposed_at) AS exposed_at,
                       count(DISTINCT variant) AS variants
                FROM experiment_exposures WHERE experiment_id = $1
                GROUP BY user_id
             )
             SELECT x.variant, count(*) AS participants,
                    count(*) FILTER (WHERE EXISTS (
                        SELECT 1 FROM events e
                        WHERE e.user_id = x.user_id AND e.event_name = $2
                          AND ($4 = 'any' OR e.source = 'server')
                          AND e.occurred_at >= x.exposed_at
                          AND e.occurred_at <= x.exposed_at + make_interval(hours => $3))) AS conversions
             FROM exposed x WHERE x.variants = 1
             GROUP BY x.variant
             UNION ALL
             SELECT NULL, count(*), 0 FROM exposed WHERE variants > 1",
            &[
                &experiment.id,
                &experiment.metric.event_name,
                &experiment.metric.window_hours,
                &experiment.metric.source.as_str(),
            ],
        )
        .await?;
    let mut excluded = 0;
    let mut counts = Vec::new();
    for row in rows {
        match row.get::<_, Option<String>>("variant") {
            Some(variant) => counts.push(VariantCounts {
                variant,
                participants: row.get("participants"),
                conversions: row.get("conversions"),
            }),
            None => excluded = row.get("participants"),
        }
    }
    Ok((counts, excluded))
}
