//! `GET /api/analytics/{onboarding,referrals,events,notifications,users,retention}` and
//! `POST /api/analytics/funnels`, for the staff who read analytics.

use std::future::Future;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::repo::{self, FunnelStep};
use crate::app::{AppState, Endpoint};
use crate::auth::AnalyticsReader;
use crate::error::{Error, Result};
use crate::events::EventName;
use crate::http::{envelope_bytes, json_bytes, Bounds, DateRange, JsonBody, QueryParams};
use crate::users::{OnboardingStep, Role, Status};
use crate::uses::Resource;

const USES: &[Resource] = &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret];

pub const ONBOARDING: Endpoint = Endpoint {
    function: "analytics-onboarding",
    method: Method::GET,
    path: "/api/analytics/onboarding",
    route: || get(onboarding),
    uses: USES,
};
pub const REFERRALS: Endpoint = Endpoint {
    function: "analytics-referrals",
    method: Method::GET,
    path: "/api/analytics/referrals",
    route: || get(referrals),
    uses: USES,
};
pub const EVENTS: Endpoint = Endpoint {
    function: "analytics-events",
    method: Method::GET,
    path: "/api/analytics/events",
    route: || get(events),
    uses: USES,
};
pub const NOTIFICATIONS: Endpoint = Endpoint {
    function: "analytics-notifications",
    method: Method::GET,
    path: "/api/analytics/notifications",
    route: || get(notifications),
    uses: USES,
};
pub const USERS: Endpoint = Endpoint {
    function: "analytics-users",
    method: Method::GET,
    path: "/api/analytics/users",
    route: || get(users),
    uses: USES,
};
pub const RETENTION: Endpoint = Endpoint {
    function: "analytics-retention",
    method: Method::GET,
    path: "/api/analytics/retention",
    route: || get(retention),
    uses: USES,
};
pub const FUNNELS: Endpoint = Endpoint {
    function: "analytics-funnels",
    method: Method::POST,
    path: "/api/analytics/funnels",
    route: || post(funnels),
    uses: USES,
};

/// `n / d`, and 0 for an empty denominator (an empty range answers zeros, not errors).
fn ratio(n: i64, d: i64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Answers from Redis when a fresh answer to the same normalized question is there; else
/// computes it on the reader and keeps it for `ANALYTICS_CACHE_SECONDS`. Fails open: with
/// Redis down every request computes. Errors are never cached.
async fn cached<Q, F>(state: &AppState, name: &str, question: &Q, compute: F) -> Result<Response>
where
    Q: Serialize,
    F: Future<Output = Result<Value>>,
{
    let ttl = state.config.analytics_cache_ttl;
    let key =
        state.cache.key(&format!("analytics:{name}:{}", serde_json::to_string(question).map_err(anyhow::Error::from)?));
    if !ttl.is_zero() {
        let hit = state.cache.get(&key).await;
        state.metrics.cache_lookup(name, hit.is_some());
        if let Some(body) = hit {
            return Ok(json_bytes(body.into()));
        }
    }
    let body = envelope_bytes(&compute.await?.to_string());
    if !ttl.is_zero() {
        state.cache.set(&key, &body, ttl).await;
    }
    Ok(json_bytes(body))
}

#[tracing::instrument(skip_all)]
async fn onboarding(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DateRange>,
) -> Result<Response> {
    let range = q.bounds()?;
    cached(&state, "onboarding", &range, async {
        let counts = repo::users_by_step(&state.db.reader().await?, range).await?;
        let at = |step: OnboardingStep| counts.iter().find(|(s, _)| s == step.as_str()).map_or(0, |(_, n)| *n);
        let total: i64 = counts.iter().map(|(_, n)| n).sum();
        // Steps only move forward, so a user at step k has reached every step before it.
        let mut previous = total;
        let mut steps = Vec::new();
        for (i, step) in OnboardingStep::ALL.iter().enumerate() {
            let reached: i64 = OnboardingStep::ALL[i..].iter().map(|s| at(*s)).sum();
            steps.push(json!({
                "step": step.as_str(),
                "current": at(*step),
                "reached": reached,
                "dropOffFromPrevious": previous - reached,
                "conversionFromPrevious": ratio(reached, previous),
            }));
            previous = reached;
        }
        Ok(json!({
            "totalUsers": total,
            "steps": steps,
            "conversionRate": ratio(at(OnboardingStep::KycComplete), total),
        }))
    })
    .await
}

#[tracing::instrument(skip_all)]
async fn referrals(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DateRange>,
) -> Result<Response> {
    let range = q.bounds()?;
    cached(&state, "referrals", &range, async {
        let conn = state.db.reader().await?;
        let counts = repo::referral_counts(&conn, range, state.config.fraud_score_threshold).await?;
        let rewards: Map<String, Value> =
            repo::reward_totals(&conn, range).await?.into_iter().map(|(c, sum)| (c, Value::String(sum))).collect();
        let top: Vec<Value> = repo::top_referrers(&conn, range)
            .await?
            .into_iter()
            .map(|t| json!({ "userId": t.user_id, "name": t.name, "referrals": t.referrals, "rewarded": t.rewarded }))
            .collect();
        Ok(json!({
            "totalReferrals": counts.total,
            "statusCounts": {
                "pending": counts.pending,
                "completed": counts.completed,
                "failed": counts.failed,
                "rewarded": counts.rewarded,
            },
            "totalRewards": rewards,
            "completionRate": ratio(counts.completed + counts.rewarded, counts.total),
            "fraudRate": ratio(counts.suspected_fraud, counts.total),
            "topReferrers": top,
        }))
    })
    .await
}

#[derive(Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Interval {
    Day,
    Week,
}

impl Interval {
    fn unit(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
        }
    }

    /// The start of the period `day` falls in (weeks start on Monday, as ISO weeks do).
    fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Interval::Day => day,
            Interval::Week => day - Duration::days(day.weekday().num_days_from_monday().into()),
        }
    }

    fn step(self) -> Duration {
        match self {
            Interval::Day => Duration::days(1),
            Interval::Week => Duration::days(7),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventsQuery {
    start_date: Option<String>,
    end_date: Option<String>,
    event_name: Option<String>,
    interval: Option<Interval>,
}

/// The longest range the events series covers, in days.
const MAX_EVENT_DAYS: i64 = 400;

/// Whole UTC days `[from, to)`: by default the 30 days up to and including today.
fn whole_days(range: Bounds, now: DateTime<Utc>) -> Result<(NaiveDate, NaiveDate)> {
    let to = match range.1 {
        // The first day not covered: the day of the last instant inside the range, plus one.
        Some(to) => (to - Duration::nanoseconds(1)).date_naive() + Duration::days(1),
        None => now.date_naive() + Duration::days(1),
    };
    let from = range.0.map_or(to - Duration::days(30), |from| from.date_naive());
    if (to - from).num_days() > MAX_EVENT_DAYS {
        return Err(Error::invalid_field("startDate", format!("the range may cover at most {MAX_EVENT_DAYS} days")));
    }
    Ok((from, to))
}

#[derive(Serialize)]
struct EventsQuestion<'a> {
    from: NaiveDate,
    to: NaiveDate,
    name: Option<&'a str>,
    interval: &'static str,
}

#[tracing::instrument(skip_all)]
async fn events(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<EventsQuery>,
) -> Result<Response> {
    let range = DateRange { start_date: q.start_date, end_date: q.end_date }.bounds()?;
    let (from, to) = whole_days(range, Utc::now())?;
    let name = q.event_name.filter(|n| !n.is_empty()).map(|n| EventName::parse(&n)).transpose()?;
    let name = name.as_ref().map(EventName::as_str);
    let interval = q.interval.unwrap_or(Interval::Day);
    let question = EventsQuestion { from, to, name, interval: interval.unit() };
    cached(&state, "events", &question, async {
        let conn = state.db.reader().await?;
        let counts = repo::event_counts(&conn, from, to, interval.unit(), name).await?;
        let users = repo::event_users(&conn, from, to, interval.unit(), name).await?;
        let by_name = counted(&[], counts.iter().map(|(_, event, n)| (event.as_str(), *n)));
        let mut series = Vec::new();
        let mut period = interval.start(from);
        while period < to {
            let events: i64 = counts.iter().filter(|(p, _, _)| *p == period).map(|(_, _, n)| n).sum();
            let users = users.iter().find(|(p, _)| *p == Some(period)).map_or(0, |(_, n)| *n);
            series.push(json!({ "period": period, "events": events, "users": users }));
            period += interval.step();
        }
        Ok(json!({
            "totalEvents": counts.iter().map(|(_, _, n)| n).sum::<i64>(),
            "uniqueUsers": users.iter().find(|(p, _)| p.is_none()).map_or(0, |(_, n)| *n),
            "eventCounts": by_name,
            "timeSeries": series,
        }))
    })
    .await
}

/// Counts of every known value (zeros included), in the order given.
fn counted<'a>(known: &[&'a str], pairs: impl Iterator<Item = (&'a str, i64)>) -> Map<String, Value> {
    let mut map: Map<String, Value> = known.iter().map(|k| ((*k).to_owned(), json!(0))).collect();
    for (key, n) in pairs {
        let total = map.get(key).and_then(Value::as_i64).unwrap_or(0) + n;
        map.insert(key.to_owned(), json!(total));
    }
    map
}

#[tracing::instrument(skip_all)]
async fn notifications(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DateRange>,
) -> Result<Response> {
    let range = q.bounds()?;
    cached(&state, "notifications", &range, async {
        let rows = repo::notification_counts(&state.db.reader().await?, range).await?;
        let total: i64 = rows.iter().map(|r| r.count).sum();
        let read: i64 = rows.iter().map(|r| r.read).sum();
        let emails_sent: i64 = rows
            .iter()
            .filter(|r| r.channel == "email" && matches!(r.status.as_str(), "sent" | "delivered" | "read"))
            .map(|r| r.count)
            .sum();
        Ok(json!({
            "totalNotifications": total,
            "typeCounts": counted(&["welcome", "referral_reward", "kyc_reminder", "inactivity", "custom"],
                rows.iter().map(|r| (r.kind.as_str(), r.count))),
            "channelCounts": counted(&["email", "sms", "whatsapp", "push"], rows.iter().map(|r| (r.channel.as_str(), r.count))),
            "statusCounts": counted(&["pending", "sent", "delivered", "read", "failed"],
                rows.iter().map(|r| (r.status.as_str(), r.count))),
            "readRate": ratio(read, total),
            "emailsSent": emails_sent,
        }))
    })
    .await
}

#[tracing::instrument(skip_all)]
async fn users(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DateRange>,
) -> Result<Response> {
    let range = q.bounds()?;
    cached(&state, "users", &range, async {
        let rows = repo::user_counts(&state.db.reader().await?, range).await?;
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        Ok(json!({
            "totalUsers": rows.iter().map(|r| r.count).sum::<i64>(),
            "activeUsers": rows.iter().map(|r| r.active).sum::<i64>(),
            "newUsers": rows.iter().map(|r| r.new).sum::<i64>(),
            "usersByRole": counted(&roles, rows.iter().map(|r| (r.role.as_str(), r.count))),
            "usersByStatus": counted(&statuses, rows.iter().map(|r| (r.status.as_str(), r.count))),
            "blockedUsers": rows.iter().filter(|r| r.blocked).map(|r| r.count).sum::<i64>(),
        }))
    })
    .await
}

#[derive(Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum CohortUnit {
    Week,
    Month,
}

impl CohortUnit {
    fn unit(self) -> &'static str {
        match self {
            CohortUnit::Week => "week",
            CohortUnit::Month => "month",
        }
    }

    fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            CohortUnit::Week => Interval::Week.start(day),
            CohortUnit::Month => day.with_day(1).unwrap_or(day),
        }
    }

    fn add(self, day: NaiveDate, n: u32) -> NaiveDate {
        match self {
            CohortUnit::Week => day + Duration::days(7 * i64::from(n)),
            CohortUnit::Month => day.checked_add_months(Months::new(n)).unwrap_or(day),
        }
    }

    fn back(self, day: NaiveDate, n: u32) -> NaiveDate {
        match self {
            CohortUnit::Week => day - Duration::days(7 * i64::from(n)),
            CohortUnit::Month => day.checked_sub_months(Months::new(n)).unwrap_or(day),
        }
    }

    fn label(self, start: NaiveDate) -> String {
        match self {
            CohortUnit::Week => format!("{}-W{:02}", start.iso_week().year(), start.iso_week().week()),
            CohortUnit::Month => start.format("%Y-%m").to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RetentionQuery {
    start_date: Option<String>,
    end_date: Option<String>,
    cohort: Option<CohortUnit>,
    periods: Option<i32>,
    return_event: Option<String>,
}

#[derive(Serialize)]
struct RetentionQuestion<'a> {
    summary: (NaiveDate, NaiveDate),
    cohort_from: NaiveDate,
    cohort_to: NaiveDate,
    unit: &'static str,
    periods: i32,
    return_event: Option<&'a str>,
}

/// The most cohorts (and periods per cohort) one answer holds.
const MAX_PERIODS: i32 = 26;

#[tracing::instrument(skip_all)]
async fn retention(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<RetentionQuery>,
) -> Result<Response> {
    let range = DateRange { start_date: q.start_date, end_date: q.end_date }.bounds()?;
    let unit = q.cohort.unwrap_or(CohortUnit::Week);
    let periods = q.periods.unwrap_or(8);
    if !(1..=MAX_PERIODS).contains(&periods) {
        return Err(Error::invalid_field("periods", format!("periods must be between 1 and {MAX_PERIODS}")));
    }
    let return_event = q.return_event.filter(|n| !n.is_empty()).map(|n| EventName::parse(&n)).transpose()?;
    let return_event = return_event.as_ref().map(EventName::as_str);
    let now = Utc::now();
    // The cohorts: the sign-up periods from the range's start (by default, the last
    // `periods` periods) to its end (by default, now).
    let last = unit.start(range.1.map_or(now, |t| t - Duration::nanoseconds(1)).date_naive());
    let first = match range.0 {
        Some(t) => unit.start(t.date_naive()),
        None => unit.back(last, periods as u32 - 1),
    };
    let cohort_to = unit.add(last, 1);
    let mut count = 0;
    while unit.add(first, count) < cohort_to {
        count += 1;
        if count > MAX_PERIODS as u32 {
            return Err(Error::invalid_field("startDate", format!("the range may hold at most {MAX_PERIODS} cohorts")));
        }
    }
    // N-day retention counts in whole UTC days: an instant stands for its day.
    let summary_from = range.0.map_or(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(), |t| t.date_naive());
    let summary_to = range.1.map_or(now, |t| t - Duration::nanoseconds(1)).date_naive() + Duration::days(1);
    let question = RetentionQuestion {
        summary: (summary_from, summary_to),
        cohort_from: first,
        cohort_to,
        unit: unit.unit(),
        periods,
        return_event,
    };
    cached(&state, "retention", &question, async {
        let conn = state.db.reader().await?;
        let summary = repo::retention(&conn, summary_from, summary_to, return_event).await?;
        let rows = repo::cohorts(&conn, first, cohort_to, unit.unit(), periods, return_event).await?;
        let current = unit.start(now.date_naive());
        let mut cohorts = Vec::new();
        for i in 0..count {
            let start = unit.add(first, i);
            let size = rows.iter().find(|(c, k, _)| *c == start && *k == 0).map_or(0, |(_, _, n)| *n);
            // Only the periods that have begun: the triangle.
            let retained: Vec<i64> = (0..periods)
                .take_while(|k| unit.add(start, *k as u32) <= current)
                .map(|k| {
                    if k == 0 {
                        size
                    } else {
                        rows.iter().find(|(c, kk, _)| *c == start && *kk == k).map_or(0, |(_, _, n)| *n)
                    }
                })
                .collect();
            cohorts.push(json!({ "cohort": unit.label(start), "start": start, "size": size, "retained": retained }));
        }
        let [d7, d30, d90] = summary.rates;
        Ok(json!({
            "totalUsers": summary.total,
            "activeUsers": summary.active,
            "retentionRates": {
                "7d": ratio(d7.1, d7.0),
                "30d": ratio(d30.1, d30.0),
                "90d": ratio(d90.1, d90.0),
            },
            "cohortUnit": unit.unit(),
            "cohorts": cohorts,
        }))
    })
    .await
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FunnelBody {
    steps: Vec<String>,
    window_hours: Option<i32>,
    start_date: Option<String>,
    end_date: Option<String>,
    group_by: Option<String>,
}

fn funnel_steps(names: &[String], steps: &[FunnelStep]) -> Vec<Value> {
    let mut previous: Option<&FunnelStep> = None;
    names
        .iter()
        .zip(steps)
        .map(|(name, step)| {
            let answer = json!({
                "eventName": name,
                "users": step.users,
                "conversionFromPrevious": previous.map(|p| ratio(step.users, p.users)),
                "medianHoursFromPrevious": step.median_hours,
            });
            previous = Some(step);
            answer
        })
        .collect()
}

#[tracing::instrument(skip_all)]
async fn funnels(
    _: AnalyticsReader,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<FunnelBody>,
) -> Result<Response> {
    if !(2..=8).contains(&body.steps.len()) {
        return Err(Error::invalid_field("steps", "a funnel has 2 to 8 steps"));
    }
    for step in &body.steps {
        EventName::parse(step).map_err(|_| Error::invalid_field("steps", format!("{step:?} is not an event name")))?;
    }
    let window = body.window_hours.unwrap_or(168);
    if !(1..=720).contains(&window) {
        return Err(Error::invalid_field("windowHours", "windowHours must be between 1 and 720"));
    }
    let by_referred = match body.group_by.as_deref() {
        None => false,
        Some("referred") => true,
        Some(_) => return Err(Error::invalid_field("groupBy", "groupBy may only be \"referred\"")),
    };
    let range = DateRange { start_date: body.start_date.clone(), end_date: body.end_date.clone() }.bounds()?;
    // Open ends as instants, so that the bounds prune the events' months: nothing predates
    // the epoch or follows the last year a date may name.
    let range = (
        range.0.unwrap_or(DateTime::UNIX_EPOCH),
        range.1.unwrap_or_else(|| {
            NaiveDate::from_ymd_opt(10000, 1, 1).unwrap_or_default().and_time(NaiveTime::MIN).and_utc()
        }),
    );
    cached(&state, "funnels", &body, async {
        let mut rows = repo::funnel(&state.db.reader().await?, &body.steps, window, range, by_referred).await?;
        let mut steps = |key: Option<bool>| {
            let steps = rows.iter().position(|(g, _)| *g == key).map(|i| rows.remove(i).1);
            let steps = steps
                .unwrap_or_else(|| body.steps.iter().map(|_| FunnelStep { users: 0, median_hours: None }).collect());
            funnel_steps(&body.steps, &steps)
        };
        let mut answer = json!({ "steps": steps(None), "windowHours": window });
        if by_referred {
            answer["groups"] = json!({
                "referred": { "steps": steps(Some(true)) },
                "organic": { "steps": steps(Some(false)) },
            });
        }
        Ok(answer)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_labels() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap(); // a Thursday
        assert_eq!(Interval::Week.start(day), NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        assert_eq!(CohortUnit::Week.label(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()), "2026-W45");
        assert_eq!(CohortUnit::Month.label(CohortUnit::Month.start(day)), "2026-11");
        // ISO weeks: 2027-01-01 is a Friday of 2026's week 53.
        let new_year = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(CohortUnit::Week.label(CohortUnit::Week.start(new_year)), "2026-W53");
    }

    #[test]
    fn whole_days_default_and_limit() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z").unwrap().with_timezone(&Utc);
        let (from, to) = whole_days((None, None), now).unwrap();
        assert_eq!((from.to_string(), to.to_string()), ("2026-10-31".into(), "2026-11-30".into()));
        let end = DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(whole_days((None, Some(end)), now).unwrap().1.to_string(), "2026-11-02");
        let long_ago = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert!(whole_days((Some(long_ago), None), now).is_err());
    }
}
