//! Every analytics statement. Postgres counts; Rust only arranges the counts it gets back
//! (a handful of rows per answer: steps, statuses, periods), so memory stays bounded
//! whatever the size of the tables. Money stays `numeric` and leaves as text.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;
use crate::http::Bounds;

/// How many users are at each onboarding step now, among those who signed up in the range,
/// and how many of them have not yet verified their address (who have not finished the first
/// step, `email`, though they start on it).
pub async fn users_by_step(conn: &Conn, (from, to): Bounds) -> Result<(Vec<(String, i64)>, i64)> {
    let rows = conn
        .query(
            "SELECT onboarding_step, count(*) AS total,
                    count(*) FILTER (WHERE email_verified_at IS NULL) AS unverified
             FROM users
             WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
             GROUP BY 1",
            &[&from, &to],
        )
        .await?;
    let unverified = rows
        .iter()
        .filter(|r| r.get::<_, &str>("onboarding_step") == "email")
        .map(|r| r.get::<_, i64>("unverified"))
        .sum();
    Ok((rows.iter().map(|r| (r.get("onboarding_step"), r.get("total"))).collect(), unverified))
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
            "SELECT count(*) AS total,
                    count(*) FILTER (WHERE status = 'pending') AS pending,
                    count(*) FILTER (WHERE status = 'completed') AS completed,
                    count(*) FILTER (WHERE status = 'failed') AS failed,
                    count(*) FILTER (WHERE status = 'rewarded') AS rewarded,
                    count(*) FILTER (WHERE fraud_score >= $3) AS suspected_fraud
             FROM referrals
             WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)",
            &[&from, &to, &fraud_threshold],
        )
        .await?;
    Ok(ReferralCounts {
        total: row.get("total"),
        pending: row.get("pending"),
        completed: row.get("completed"),
        failed: row.get("failed"),
        rewarded: row.get("rewarded"),
        suspected_fraud: row.get("suspected_fraud"),
    })
}

/// Rewards written in the range and not voided, summed per currency as `numeric`.
pub async fn reward_totals(conn: &Conn, (from, to): Bounds) -> Result<Vec<(String, String)>> {
    let rows = conn
        .query(
            "SELECT currency::text AS currency, sum(amount)::text AS total FROM rewards
             WHERE status <> 'voided'
               AND ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
             GROUP BY 1 ORDER BY 1",
            &[&from, &to],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get("currency"), r.get("total"))).collect())
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
            "SELECT r.referrer_id, u.first_name || ' ' || u.last_name AS name, r.referrals, r.rewarded
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
        .map(|r| TopReferrer {
            user_id: r.get("referrer_id"),
            name: r.get("name"),
            referrals: r.get("referrals"),
            rewarded: r.get("rewarded"),
        })
        .collect())
}

/// Events per period and name over whole UTC days `[from, to)`: what the rollup counted in
/// `event_counts_daily` (today's row up to its mark), and from `events` what occurred from
/// the mark on and the whole of each day that late events arrived for since the rollup last
/// counted it. `unit` is `day` or `week`.
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
                 SELECT coalesce(max(covered_until), '-infinity'::timestamptz) AS mark
                 FROM rollup_coverage WHERE name = 'events'
             ), late AS (
                 SELECT DISTINCT day FROM rollup_late_days WHERE rollup = 'events' AND day >= $1::date AND day < $2::date
             ), per_day AS (
                 SELECT d.day, d.event_name, d.events
                 FROM event_counts_daily d
                 WHERE d.day >= $1::date AND d.day < $2::date AND ($4::text IS NULL OR d.event_name = $4)
                   AND (d.day::timestamp AT TIME ZONE 'UTC') < (SELECT mark FROM cover)
                   AND d.day NOT IN (SELECT day FROM late)
                 UNION ALL
                 SELECT (e.occurred_at AT TIME ZONE 'UTC')::date, e.event_name, count(*)
                 FROM events e
                 WHERE e.occurred_at >= greatest($1::date::timestamp AT TIME ZONE 'UTC', (SELECT mark FROM cover))
                   AND e.occurred_at < ($2::date::timestamp AT TIME ZONE 'UTC')
                   AND ($4::text IS NULL OR e.event_name = $4)
                   AND (e.occurred_at AT TIME ZONE 'UTC')::date NOT IN (SELECT day FROM late)
                 GROUP BY 1, 2
                 UNION ALL
                 -- A day that late events arrived for since the last run: whole, from `events`.
                 SELECT l.day, e.event_name, count(*)
                 FROM late l
                 JOIN events e ON e.occurred_at >= (l.day::timestamp AT TIME ZONE 'UTC')
                              AND e.occurred_at < ((l.day + 1)::timestamp AT TIME ZONE 'UTC')
                 WHERE $4::text IS NULL OR e.event_name = $4
                 GROUP BY 1, 2
             )
             SELECT date_trunc($3, day)::date AS period, event_name, sum(events)::bigint AS events
             FROM per_day GROUP BY 1, 2",
            &[&from, &to, &unit, &name],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get("period"), r.get("event_name"), r.get("events"))).collect())
}

/// Distinct users per period, and over the whole range (the row with no period): an OR of
/// the days' user bitmaps and a popcount, since distinct counts do not add up across days.
pub async fn event_users(
    conn: &Conn,
    from: NaiveDate,
    to: NaiveDate,
    unit: &str,
    name: Option<&str>,
) -> Result<Vec<(Option<NaiveDate>, i64)>> {
    let rows = conn
        .query(
            "WITH days AS MATERIALIZED (
                 SELECT day, chunk, users FROM growstack_user_bitmaps('event', $4, $1, $2)
             )
             SELECT period, sum(bit_count(users))::bigint AS users
             FROM (SELECT date_trunc($3, day::timestamp)::date AS period, chunk, bit_or(users) AS users
                   FROM days GROUP BY 1, 2) p
             GROUP BY period
             UNION ALL
             SELECT NULL, coalesce(sum(bit_count(users)), 0)::bigint
             FROM (SELECT chunk, bit_or(users) AS users FROM days GROUP BY chunk) t",
            &[&from, &to, &unit, &name],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get("period"), r.get("users"))).collect())
}

/// Rebuilds the user bitmaps (sign-ups, and users per event name and for any activity) from
/// the day the last run left incomplete (at the latest yesterday; on the first run, the first
/// day anything happened) up to now, and every earlier day that late events arrived for, and
/// moves the mark `growstack_user_bitmaps` reads from to now. Returns the bitmaps written.
pub async fn rollup(conn: &Conn) -> Result<u64> {
    let row = conn
        .query_one(
            &format!(
                "WITH {recount}, marked AS (
                     SELECT (e.occurred_at AT TIME ZONE 'UTC')::date AS day, e.event_name, e.activity, u.seq
                     FROM spans s
                     JOIN events e ON e.occurred_at >= s.from_t AND e.occurred_at < s.to_t
                     JOIN users u ON u.id = e.user_id
                 ), built AS (
                     SELECT 'event' AS kind, n.event_name, m.day, (m.seq >> 16)::integer AS chunk,
                            growstack_bitmap(array_agg(DISTINCT (m.seq & 65535)::integer)) AS users
                     FROM marked m
                     -- '' is the user's activity: not every event is.
                     CROSS JOIN LATERAL (VALUES (CASE WHEN m.activity THEN '' END), (m.event_name)) n(event_name)
                     WHERE n.event_name IS NOT NULL
                     GROUP BY 2, 3, 4
                     UNION ALL
                     SELECT 'signup', '', (created_at AT TIME ZONE 'UTC')::date, (seq >> 16)::integer,
                            growstack_bitmap(array_agg((seq & 65535)::integer))
                     FROM users
                     WHERE created_at >= ((SELECT day FROM since)::timestamp AT TIME ZONE 'UTC') AND created_at < now()
                     GROUP BY 3, 4
                 ), written AS (
                     INSERT INTO user_bitmaps (kind, event_name, day, chunk, users)
                     SELECT kind, event_name, day, chunk, users FROM built
                     ON CONFLICT (kind, event_name, day, chunk) DO UPDATE SET users = EXCLUDED.users, updated_at = now()
                     RETURNING 1
                 ), {covered}
                 SELECT count(*) AS bitmaps FROM written",
                recount = crate::events::recount(
                    "user_bitmaps",
                    "(least((SELECT min(occurred_at) FROM events), (SELECT min(created_at) FROM users)) AT TIME ZONE 'UTC')::date",
                ),
                covered = crate::events::covered("user_bitmaps"),
            ),
            &[],
        )
        .await?;
    Ok(row.get::<_, i64>("bitmaps") as u64)
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
            "SELECT type, channel, status, count(*) AS total, count(*) FILTER (WHERE read) AS read
             FROM notifications
             WHERE ($1::timestamptz IS NULL OR created_at >= $1) AND ($2::timestamptz IS NULL OR created_at < $2)
             GROUP BY 1, 2, 3",
            &[&from, &to],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| NotificationCount {
            kind: r.get("type"),
            channel: r.get("channel"),
            status: r.get("status"),
            count: r.get("total"),
            read: r.get("read"),
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
            "SELECT role, status, blocked, count(*) AS total,
                    count(*) FILTER (WHERE last_active_at >= now() - interval '30 days') AS active,
                    count(*) FILTER (WHERE $1::timestamptz IS NULL OR created_at >= $1) AS signed_up
             FROM users
             WHERE $2::timestamptz IS NULL OR created_at < $2
             GROUP BY 1, 2, 3",
            &[&from, &to],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| UserCount {
            role: r.get("role"),
            status: r.get("status"),
            blocked: r.get("blocked"),
            count: r.get("total"),
            active: r.get("active"),
            new: r.get("signed_up"),
        })
        .collect())
}

pub struct Retention {
    pub total: i64,
    pub active: i64,
    /// For 7, 30 and 90 days: (users who signed up at least that many days before today,
    /// those of them who came back that many days after their sign-up day or later).
    pub rates: [(i64, i64); 3],
}

/// N-day retention of the users who signed up in the whole UTC days `[from, to)`: of those
/// who signed up N days ago or earlier, the share with a return event N days after their
/// sign-up day or on any day after that. Each sign-up day's bitmap is ANDed with the OR of
/// every day's returning users from that day on (a running OR, newest day first).
pub async fn retention(conn: &Conn, from: NaiveDate, to: NaiveDate, return_event: Option<&str>) -> Result<Retention> {
    let counts = conn
        .query_one(
            "SELECT count(*) AS total, count(*) FILTER (WHERE last_active_at >= now() - interval '30 days') AS active
             FROM users
             WHERE created_at >= ($1::date::timestamp AT TIME ZONE 'UTC') AND created_at < ($2::date::timestamp AT TIME ZONE 'UTC')",
            &[&from, &to],
        )
        .await?;
    let rates = conn
        .query(
            "WITH signups AS MATERIALIZED (
                 SELECT day, chunk, users FROM growstack_user_bitmaps('signup', NULL, $1, $2)
             ), later AS MATERIALIZED (
                 SELECT day, chunk, bit_or(users) OVER (PARTITION BY chunk ORDER BY day DESC) AS users
                 FROM growstack_user_bitmaps('event', $3, (SELECT min(day) + 7 FROM signups), 'infinity')
             )
             SELECT n.days, coalesce(sum(bit_count(s.users)), 0)::bigint AS signed_up,
                    coalesce(sum(bit_count(s.users & r.users)), 0)::bigint AS returned
             FROM (VALUES (7), (30), (90)) n(days)
             LEFT JOIN signups s ON s.day <= (now() AT TIME ZONE 'UTC')::date - n.days
             LEFT JOIN LATERAL (
                 SELECT l.users FROM later l WHERE l.chunk = s.chunk AND l.day >= s.day + n.days ORDER BY l.day LIMIT 1
             ) r ON true
             GROUP BY n.days ORDER BY n.days",
            &[&from, &to, &return_event],
        )
        .await?;
    let rate = |i: usize| rates.get(i).map_or((0, 0), |r| (r.get("signed_up"), r.get("returned")));
    Ok(Retention { total: counts.get("total"), active: counts.get("active"), rates: [rate(0), rate(1), rate(2)] })
}

/// The cohort triangle: for users who signed up in the whole UTC days `[from, to)` (whole
/// weeks or months), grouped by the `unit` they signed up in, the cohort's size and how many
/// of them did the return event in each later period (offset 1, 2, … up to `periods - 1`):
/// popcounts of the cohort's bitmap ANDed with each later period's. Rows are (cohort
/// start, offset, users); offset 0 carries the size.
pub async fn cohorts(
    conn: &Conn,
    from: NaiveDate,
    to: NaiveDate,
    unit: &str,
    periods: i32,
    return_event: Option<&str>,
) -> Result<Vec<(NaiveDate, i32, i64)>> {
    let rows = conn
        .query(
            "WITH cohort AS MATERIALIZED (
                 SELECT date_trunc($3, day::timestamp)::date AS start, chunk, bit_or(users) AS users
                 FROM growstack_user_bitmaps('signup', NULL, $1, $2) GROUP BY 1, 2
             ), back AS MATERIALIZED (
                 SELECT date_trunc($3, day::timestamp)::date AS start, chunk, bit_or(users) AS users
                 FROM growstack_user_bitmaps('event', $5, $1, ($2::timestamp + $4::int * ('1 ' || $3)::interval)::date)
                 GROUP BY 1, 2
             ), returned AS (
                 SELECT c.start,
                        CASE $3 WHEN 'week' THEN (b.start - c.start) / 7
                             ELSE ((extract(year FROM b.start) - extract(year FROM c.start)) * 12
                                   + extract(month FROM b.start) - extract(month FROM c.start))::int
                        END AS k,
                        bit_count(c.users & b.users) AS users
                 FROM cohort c JOIN back b ON b.chunk = c.chunk AND b.start > c.start
             )
             SELECT start, 0 AS k, sum(bit_count(users))::bigint AS users FROM cohort GROUP BY start
             UNION ALL
             SELECT start, k, sum(users)::bigint FROM returned WHERE k BETWEEN 1 AND $4 - 1 GROUP BY start, k",
            &[&from, &to, &unit, &periods, &return_event],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get("start"), r.get("k"), r.get("users"))).collect())
}

/// One step of a funnel as counted: how many users reached it, and the median hours from
/// the step before (none for the first).
pub struct FunnelStep {
    pub users: i64,
    pub median_hours: Option<f64>,
}

/// An ordered funnel of events: a user is at step 1 from their first `steps[0]` event in
/// `[from, to)`, and at step k when they did `steps[k-1]` after reaching step k-1 and within
/// `window_hours` of step 1. The answer's first row (key `None`) counts everyone; split by
/// whether the user was referred when `by_referred`, with the rows `Some(true)` and
/// `Some(false)` after it.
pub async fn funnel(
    conn: &Conn,
    steps: &[String],
    window_hours: i32,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    by_referred: bool,
) -> Result<Vec<(Option<bool>, Vec<FunnelStep>)>> {
    // Each step is one pass over that event's rows in user order (the (event_name, user_id,
    // occurred_at) index) joined to the users who reached the step before: the earliest
    // matching event after it, per user. No lookup per user, and the time bounds prune the
    // months outside the range. $1 is the first step, $2 and $3 the range, $4 the window,
    // and step k ≥ 2 is ${k + 3}.
    let mut reached = String::from(
        "SELECT user_id, min(occurred_at) AS t1 FROM events
         WHERE event_name = $1 AND occurred_at >= $2 AND occurred_at < $3
         GROUP BY user_id",
    );
    let mut carried = String::from("s.user_id, s.t1");
    for k in 2..=steps.len() {
        // Apps stamp several events with one second: a step stamped the same instant as the
        // step before counts, unless it is the same event again (which would be that step's
        // own event counted twice).
        let after = if steps[k - 1] == steps[k - 2] { ">" } else { ">=" };
        reached = format!(
            "SELECT {carried}, min(e.occurred_at) AS t{k}
             FROM ({reached}) s
             LEFT JOIN events e ON e.user_id = s.user_id AND e.event_name = ${p}
                 AND e.occurred_at {after} s.t{prev} AND e.occurred_at <= s.t1 + make_interval(hours => $4)
                 AND e.occurred_at >= $2 AND e.occurred_at < $3 + make_interval(hours => $4)
             GROUP BY {carried}",
            p = k + 3,
            prev = k - 1,
        );
        carried.push_str(&format!(", s.t{k}"));
    }
    let (group, join, sets) = if by_referred {
        (
            "u.referred_by IS NOT NULL",
            "JOIN users u ON u.id = f.user_id",
            "GROUPING SETS ((), (u.referred_by IS NOT NULL))",
        )
    } else {
        ("NULL::boolean", "", "()")
    };
    let mut select = format!("SELECT {group} AS grp, count(*) AS users1");
    for k in 2..=steps.len() {
        select.push_str(&format!(
            ", count(f.t{k}) AS users{k}, percentile_cont(0.5) WITHIN GROUP \
             (ORDER BY extract(epoch FROM f.t{k} - f.t{prev}) / 3600) FILTER (WHERE f.t{k} IS NOT NULL) AS median{k}",
            prev = k - 1
        ));
    }
    let sql = format!("{select} FROM ({reached}) f {join} GROUP BY {sets} ORDER BY 1 NULLS FIRST");

    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&steps[0], &from, &to, &window_hours];
    for step in &steps[1..] {
        params.push(step);
    }
    let rows = conn
        .atomically(async |conn| {
            // JIT would compile this statement's many expressions for longer (100–150 ms on
            // 5 M events) than it saves; off for this transaction only.
            conn.batch_execute("SET LOCAL jit = off").await?;
            conn.query(&sql, &params).await
        })
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut out = vec![FunnelStep { users: r.get("users1"), median_hours: None }];
            for k in 2..=steps.len() {
                out.push(FunnelStep {
                    users: r.get(format!("users{k}").as_str()),
                    median_hours: r.get(format!("median{k}").as_str()),
                });
            }
            (r.get("grp"), out)
        })
        .collect())
}
