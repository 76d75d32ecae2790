//! Every analytics statement. Postgres counts; Rust only arranges the counts it gets back
//! (a handful of rows per answer: steps, statuses, periods), so memory stays bounded
//! whatever the size of the tables. Money stays `numeric` and leaves as text.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;
use crate::http::Bounds;

/// How many users are at each onboarding step now, among those who signed up in the range.
pub async fn users_by_step(conn: &Conn, (from, to): Bounds) -> Result<Vec<(String, i64)>> {
    let rows = conn
        .query(
            "SELECT onboarding_step, count(*) FROM users
             WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
             GROUP BY 1",
            &[&from, &to],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub struct ReferralCounts {
    pub total: i64,
    pub pending: i64,
    pub completed: i64,
    pub failed: i64,
    pub rewarded: i64,
    pub suspected_fraud: i64,
}

/// Referrals made in the range, by status, and how many scored at or above the fraud
/// threshold.
pub async fn referral_counts(conn: &Conn, (from, to): Bounds, fraud_threshold: i32) -> Result<ReferralCounts> {
    let row = conn
        .query_one(
            "SELECT count(*),
                    count(*) FILTER (WHERE status = 'pending'),
                    count(*) FILTER (WHERE status = 'completed'),
                    count(*) FILTER (WHERE status = 'failed'),
                    count(*) FILTER (WHERE status = 'rewarded'),
                    count(*) FILTER (WHERE fraud_score >= $3)
             FROM referrals
             WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)",
            &[&from, &to, &fraud_threshold],
        )
        .await?;
    Ok(ReferralCounts {
        total: row.get(0),
        pending: row.get(1),
        completed: row.get(2),
        failed: row.get(3),
        rewarded: row.get(4),
        suspected_fraud: row.get(5),
    })
}

/// Rewards written in the range and not voided, summed per currency as `numeric`.
pub async fn reward_totals(conn: &Conn, (from, to): Bounds) -> Result<Vec<(String, String)>> {
    let rows = conn
        .query(
            "SELECT currency::text, sum(amount)::text FROM rewards
             WHERE status <> 'voided'
               AND ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
             GROUP BY 1 ORDER BY 1",
            &[&from, &to],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub struct TopReferrer {
    pub user_id: Uuid,
    pub name: String,
    pub referrals: i64,
    pub rewarded: i64,
}

/// The ten users who referred most in the range (ties: more rewarded first, then by id).
pub async fn top_referrers(conn: &Conn, (from, to): Bounds) -> Result<Vec<TopReferrer>> {
    let rows = conn
        .query(
            "SELECT r.referrer_id, u.first_name || ' ' || u.last_name, r.referrals, r.rewarded
             FROM (SELECT referrer_id, count(*) AS referrals, count(*) FILTER (WHERE status = 'rewarded') AS rewarded
                   FROM referrals
                   WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
                   GROUP BY referrer_id
                   ORDER BY referrals DESC, rewarded DESC, referrer_id
                   LIMIT 10) r
             JOIN users u ON u.id = r.referrer_id
             ORDER BY r.referrals DESC, r.rewarded DESC, r.referrer_id",
            &[&from, &to],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TopReferrer { user_id: r.get(0), name: r.get(1), referrals: r.get(2), rewarded: r.get(3) })
        .collect())
}

/// Events per period and name over whole UTC days `[from, to)`: the days the rollup has
/// completed come from `event_counts_daily`, the rest (today, and whatever the scheduler has
/// not reached) from `events`. `unit` is `day` or `week`.
pub async fn event_counts(
    conn: &Conn,
    from: NaiveDate,
    to: NaiveDate,
    unit: &str,
    name: Option<&str>,
) -> Result<Vec<(NaiveDate, String, i64)>> {
    let rows = conn
        .query(
            "WITH cover AS (
                 SELECT coalesce(max(complete_before), '-infinity'::date) AS day
                 FROM rollup_coverage WHERE name = 'events'
             ), per_day AS (
                 SELECT d.day, d.event_name, d.events
                 FROM event_counts_daily d, cover
                 WHERE d.day >= $1::date AND d.day < least($2::date, cover.day) AND ($4::text IS NULL OR d.event_name = $4)
                 UNION ALL
                 SELECT (e.occurred_at AT TIME ZONE 'UTC')::date, e.event_name, count(*)
                 FROM events e, cover
                 WHERE e.occurred_at >= (greatest($1::date, cover.day)::timestamp AT TIME ZONE 'UTC')
                   AND e.occurred_at < ($2::date::timestamp AT TIME ZONE 'UTC')
                   AND ($4::text IS NULL OR e.event_name = $4)
                 GROUP BY 1, 2
             )
             SELECT date_trunc($3, day)::date, event_name, sum(events)::bigint
             FROM per_day GROUP BY 1, 2",
            &[&from, &to, &unit, &name],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// Distinct users per period, and over the whole range (the row with no period). Distinct
/// counts do not add up across days, so these come from `events` itself.
pub async fn event_users(
    conn: &Conn,
    from: NaiveDate,
    to: NaiveDate,
    unit: &str,
    name: Option<&str>,
) -> Result<Vec<(Option<NaiveDate>, i64)>> {
    let rows = conn
        .query(
            "SELECT date_trunc($3, occurred_at AT TIME ZONE 'UTC')::date, count(DISTINCT user_id)
             FROM events
             WHERE occurred_at >= ($1::date::timestamp AT TIME ZONE 'UTC') AND occurred_at < ($2::date::timestamp AT TIME ZONE 'UTC')
               AND ($4::text IS NULL OR event_name = $4)
             GROUP BY GROUPING SETS ((1), ())",
            &[&from, &to, &unit, &name],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub struct NotificationCount {
    pub kind: String,
    pub channel: String,
    pub status: String,
    pub count: i64,
    pub read: i64,
}

/// Notifications created in the range, by type, channel and status (at most 100 rows).
pub async fn notification_counts(conn: &Conn, (from, to): Bounds) -> Result<Vec<NotificationCount>> {
    let rows = conn
        .query(
            "SELECT type, channel, status, count(*), count(*) FILTER (WHERE read)
             FROM notifications
             WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
             GROUP BY 1, 2, 3",
            &[&from, &to],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| NotificationCount {
            kind: r.get(0),
            channel: r.get(1),
            status: r.get(2),
            count: r.get(3),
            read: r.get(4),
        })
        .collect())
}

pub struct UserCount {
    pub role: String,
    pub status: String,
    pub blocked: bool,
    pub count: i64,
    pub active: i64,
    pub new: i64,
}

/// Users who existed by the end of the range, by role, status and block state, with how
/// many were active in the last 30 days and how many signed up in the range.
pub async fn user_counts(conn: &Conn, (from, to): Bounds) -> Result<Vec<UserCount>> {
    let rows = conn
        .query(
            "SELECT role, status, blocked, count(*),
                    count(*) FILTER (WHERE last_active_at >= now() - interval '30 days'),
                    count(*) FILTER (WHERE $1::timestamptz IS NULL OR created_at >= $1)
             FROM users
             WHERE $2::timestamptz IS NULL OR created_at < $2
             GROUP BY 1, 2, 3",
            &[&from, &to],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| UserCount {
            role: r.get(0),
            status: r.get(1),
            blocked: r.get(2),
            count: r.get(3),
            active: r.get(4),
            new: r.get(5),
        })
        .collect())
}

pub struct Retention {
    pub total: i64,
    pub active: i64,
    /// For 7, 30 and 90 days: (users who signed up at least that long ago, those of them
    /// who came back that long after signing up or later).
    pub rates: [(i64, i64); 3],
}

/// N-day retention of the users who signed up in the range: of those who signed up at
/// least N days ago, the share with a return event N days or more after signing up.
pub async fn retention(conn: &Conn, (from, to): Bounds, return_event: Option<&str>) -> Result<Retention> {
    let row = conn
        .query_one(
            "WITH cohort AS (
                 SELECT u.created_at, u.last_active_at,
                        (SELECT max(e.occurred_at) FROM events e
                         WHERE e.user_id = u.id AND e.occurred_at >= u.created_at
                           AND ($3::text IS NULL OR e.event_name = $3)) AS last_seen
                 FROM users u
                 WHERE ($1::timestamptz IS NULL OR u.created_at >= $1) AND ($2::timestamptz IS NULL OR u.created_at < $2)
             )
             SELECT count(*),
                    count(*) FILTER (WHERE last_active_at >= now() - interval '30 days'),
                    count(*) FILTER (WHERE created_at <= now() - interval '7 days'),
                    count(*) FILTER (WHERE created_at <= now() - interval '7 days' AND last_seen >= created_at + interval '7 days'),
                    count(*) FILTER (WHERE created_at <= now() - interval '30 days'),
                    count(*) FILTER (WHERE created_at <= now() - interval '30 days' AND last_seen >= created_at + interval '30 days'),
                    count(*) FILTER (WHERE created_at <= now() - interval '90 days'),
                    count(*) FILTER (WHERE created_at <= now() - interval '90 days' AND last_seen >= created_at + interval '90 days')
             FROM cohort",
            &[&from, &to, &return_event],
        )
        .await?;
    Ok(Retention {
        total: row.get(0),
        active: row.get(1),
        rates: [(row.get(2), row.get(3)), (row.get(4), row.get(5)), (row.get(6), row.get(7))],
    })
}

/// The cohort triangle: for users who signed up in `[from, to)`, grouped by the `unit`
/// (week or month) they signed up in, the cohort's size and how many of them did the return
/// event in each later period (offset 1, 2, … up to `periods - 1`). Rows are
/// (cohort start, offset, users); offset 0 carries the size.
pub async fn cohorts(
    conn: &Conn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    unit: &str,
    periods: i32,
    return_event: Option<&str>,
) -> Result<Vec<(NaiveDate, i32, i64)>> {
    let rows = conn
        .query(
            "WITH cohort AS (
                 SELECT id, date_trunc($3, created_at AT TIME ZONE 'UTC')::date AS start
                 FROM users WHERE created_at >= $1 AND created_at < $2
             ), returned AS (
                 SELECT DISTINCT c.id, c.start,
                        CASE $3 WHEN 'week' THEN (date_trunc('week', e.occurred_at AT TIME ZONE 'UTC')::date - c.start) / 7
                             ELSE ((extract(year FROM e.occurred_at AT TIME ZONE 'UTC') - extract(year FROM c.start)) * 12
                                   + extract(month FROM e.occurred_at AT TIME ZONE 'UTC') - extract(month FROM c.start))::int
                        END AS k
                 FROM cohort c
                 JOIN events e ON e.user_id = c.id
                 WHERE e.occurred_at >= $1
                   AND e.occurred_at < $2::timestamptz + $4::int * ('1 ' || $3)::interval
                   AND ($5::text IS NULL OR e.event_name = $5)
             )
             SELECT start, 0, count(*) FROM cohort GROUP BY start
             UNION ALL
             SELECT start, k, count(*) FROM returned WHERE k BETWEEN 1 AND $4 - 1 GROUP BY start, k",
            &[&from, &to, &unit, &periods, &return_event],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
}

/// One step of a funnel as counted: how many users reached it, and the median hours from
/// the step before (none for the first).
pub struct FunnelStep {
    pub users: i64,
    pub median_hours: Option<f64>,
}

/// An ordered funnel of events: a user is at step 1 from their first `steps[0]` event in
/// `[from, to)`, and at step k when they did `steps[k-1]` after reaching step k-1 and within
/// `window_hours` of step 1. Split by whether the user was referred when `by_referred`;
/// the keys are then `Some(true)` and `Some(false)`, else `None`.
pub async fn funnel(
    conn: &Conn,
    steps: &[String],
    window_hours: i32,
    (from, to): Bounds,
    by_referred: bool,
) -> Result<Vec<(Option<bool>, Vec<FunnelStep>)>> {
    // One correlated lookup per step, each the earliest matching event after the step
    // before: an index probe on (user_id, event_name, occurred_at) per user and step.
    let mut sql = String::from(
        "WITH s1 AS (
             SELECT user_id, min(occurred_at) AS t1 FROM events
             WHERE event_name = $1
               AND ($2::timestamptz IS NULL OR occurred_at >= $2) AND ($3::timestamptz IS NULL OR occurred_at < $3)
             GROUP BY user_id
         )",
    );
    // $1 is the first step, $2 and $3 the range, $4 the window, and step k ≥ 2 is ${k + 3}.
    for k in 2..=steps.len() {
        sql.push_str(&format!(
            ", s{k} AS (
                SELECT s.*, (SELECT min(e.occurred_at) FROM events e
                             WHERE e.user_id = s.user_id AND e.event_name = ${p}
                               AND e.occurred_at > s.t{prev}
                               AND e.occurred_at <= s.t1 + make_interval(hours => $4)) AS t{k}
                FROM s{prev} s
            )",
            p = k + 3,
            prev = k - 1,
        ));
    }
    let last = steps.len();
    let group = if by_referred { "u.referred_by IS NOT NULL" } else { "NULL::boolean" };
    let mut select = format!("SELECT {group} AS grp, count(*)");
    for k in 2..=last {
        select.push_str(&format!(
            ", count(f.t{k}), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.t{k} - f.t{prev}) / 3600) FILTER (WHERE f.t{k} IS NOT NULL)",
            prev = k - 1
        ));
    }
    sql.push_str(&format!(" {select} FROM s{last} f JOIN users u ON u.id = f.user_id GROUP BY 1 ORDER BY 1"));

    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&steps[0], &from, &to, &window_hours];
    for step in &steps[1..] {
        params.push(step);
    }
    let rows = conn.query(&sql, &params).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut out = vec![FunnelStep { users: r.get(1), median_hours: None }];
            for k in 2..=last {
                let column = 2 + (k - 2) * 2;
                out.push(FunnelStep { users: r.get(column), median_hours: r.get(column + 1) });
            }
            (r.get(0), out)
        })
        .collect())
}
