//! All of onboarding's SQL.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;
use crate::events::lifecycle;
use crate::users::OnboardingStep;

/// The steps in order, as SQL ranks them (`array_position` over this array).
fn steps() -> Vec<&'static str> {
    OnboardingStep::ALL.iter().map(|s| s.as_str()).collect()
}

/// What recording a step did.
pub enum Moved {
    /// The user moved on.
    Forward {
        kyc_status: String,
    },
    /// Not forward of the user's current step (or the user is blocked): nothing changed.
    Refused {
        current: OnboardingStep,
        blocked: bool,
    },
    NoSuchUser,
}

/// Moves the user to `step` if it lies ahead of their current one and records the step
/// with its time and the client's metadata: one statement, so both happen or neither. The
/// steps a client may report stop short of `kyc_complete`, which only the KYC provider's
/// callback sets (see [`crate::kyc`]).
#[tracing::instrument(skip_all, fields(user_id = %user, step = step.as_str()))]
pub async fn advance(conn: &Conn, user: Uuid, step: OnboardingStep, metadata: &serde_json::Value) -> Result<Moved> {
    let sql = format!(
        "WITH current AS (
                SELECT onboarding_step, blocked OR status <> 'active' AS blocked FROM users WHERE id = $1
             ), moved AS (
                UPDATE users SET onboarding_step = $2, last_active_at = now(), updated_at = now()
                WHERE id = $1 AND NOT blocked AND status = 'active'
                  AND array_position($3::text[], onboarding_step) < array_position($3::text[], $2::text)
                RETURNING id, kyc_status
             ), recorded AS (
                INSERT INTO onboarding_events (id, user_id, step, metadata) SELECT $4, id, $2, $5 FROM moved
                ON CONFLICT (user_id, step) DO NOTHING
             ), {completed}
             SELECT (SELECT onboarding_step FROM current) AS current_step, (SELECT blocked FROM current) AS blocked,
                    (SELECT kyc_status FROM moved) AS kyc_status",
        completed = lifecycle::Record {
            name: "completed",
            event: lifecycle::ONBOARDING_STEP_COMPLETED,
            from: "moved",
            user: "id",
            properties: "jsonb_build_object('step', $2::text, 'previousStep', (SELECT onboarding_step FROM current))"
        }
        .cte(),
    );
    let row = conn.query_one(&sql, &[&user, &step.as_str(), &steps(), &Uuid::now_v7(), metadata]).await?;
    let current: Option<String> = row.get("current_step");
    let Some(current) = current.as_deref().and_then(OnboardingStep::parse) else { return Ok(Moved::NoSuchUser) };
    let kyc_status: Option<String> = row.get("kyc_status");
    Ok(match kyc_status {
        Some(kyc_status) => Moved::Forward { kyc_status },
        None => Moved::Refused { current, blocked: row.get::<_, Option<bool>>("blocked").unwrap_or(false) },
    })
}

/// One step of the funnel.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OnboardingStepStats)]
pub struct StepCount {
    #[schema(value_type = OnboardingStep)]
    pub step: String,
    /// Users whose current step this is.
    pub users: i64,
    /// Users who got at least this far; for `email`, those who verified their address (or
    /// moved past it), since everyone starts on it.
    pub reached: i64,
    /// Share of those who reached the previous step and did not reach this one, in percent
    /// (two decimals); `null` for the first step, or when nobody reached the previous one.
    pub drop_off_percent: Option<f64>,
}

/// The funnel of users (role `user`) who signed up in [from, to).
#[tracing::instrument(skip_all)]
pub async fn funnel(conn: &Conn, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Vec<StepCount>> {
    let rows = conn
        .query(
            "WITH cohort AS (
                -- Everyone starts on `email`; it is reached once the address is verified.
                SELECT array_position($1::text[], onboarding_step) AS rank,
                       CASE WHEN onboarding_step = 'email' AND email_verified_at IS NULL THEN 0
                            ELSE array_position($1::text[], onboarding_step) END AS done
                FROM users
                WHERE role = 'user' AND ($2::timestamptz IS NULL OR created_at >= $2)
                  AND ($3::timestamptz IS NULL OR created_at < $3)
             ), counts AS (
                SELECT s.step, s.rank,
                       count(c.rank) FILTER (WHERE c.rank = s.rank) AS users,
                       count(c.rank) FILTER (WHERE c.done >= s.rank) AS reached
                FROM unnest($1::text[]) WITH ORDINALITY AS s(step, rank)
                LEFT JOIN cohort c ON true
                GROUP BY s.step, s.rank
             )
             SELECT step, users, reached,
                    round(100.0 * (lag(reached) OVER w - reached) / NULLIF(lag(reached) OVER w, 0), 2)::float8
                        AS drop_off_percent
             FROM counts WINDOW w AS (ORDER BY rank) ORDER BY rank",
            &[&steps(), &from, &to],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StepCount {
            step: r.get("step"),
            users: r.get("users"),
            reached: r.get("reached"),
            drop_off_percent: r.get("drop_off_percent"),
        })
        .collect())
}

/// Hours from sign-up to `kyc_complete`, rounded to two decimals.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OnboardingTimeStats)]
pub struct TimeStats {
    /// Users who reached kyc_complete.
    pub completed: i64,
    /// `null` when nobody completed.
    pub average_hours: Option<f64>,
    /// `null` when nobody completed.
    pub median_hours: Option<f64>,
}

/// Hours from sign-up to kyc_complete, from the recorded step times, for users who signed
/// up in [from, to).
#[tracing::instrument(skip_all)]
pub async fn time_to_kyc(conn: &Conn, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<TimeStats> {
    let row = conn
        .query_one(
            "SELECT count(*) AS completed, round(avg(hours), 2)::float8 AS average_hours,
                    round((percentile_cont(0.5) WITHIN GROUP (ORDER BY hours))::numeric, 2)::float8 AS median_hours
             FROM (
                SELECT extract(epoch FROM e.created_at - u.created_at) / 3600.0 AS hours
                FROM onboarding_events e JOIN users u ON u.id = e.user_id
                WHERE e.step = 'kyc_complete' AND u.role = 'user'
                  AND ($1::timestamptz IS NULL OR u.created_at >= $1) AND ($2::timestamptz IS NULL OR u.created_at < $2)
             ) t",
            &[&from, &to],
        )
        .await?;
    Ok(TimeStats {
        completed: row.get("completed"),
        average_hours: row.get("average_hours"),
        median_hours: row.get("median_hours"),
    })
}
