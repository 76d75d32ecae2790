//! `GET /api/analytics/{onboarding,referrals,events,notifications,users,retention}` and
//! `POST /api/analytics/funnels`, for the staff who read analytics.

use std::collections::BTreeMap;
use std::future::Future;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::repo::{self, FunnelStep};
use crate::auth::AnalyticsReader;
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::events::EventName;
use crate::http::{envelope_bytes, json_bytes, Bounds, DateRange, JsonBody, QueryParams};
use crate::openapi::{self, Ok};
use crate::state::AppState;
use crate::users::{OnboardingStep, Role, Status};
use crate::uses::Resource;

const USES: &[Resource] = &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret];

pub const ONBOARDING: Endpoint = Endpoint {
    function: "analytics-onboarding",
    method: Method::GET,
    path: "/api/analytics/onboarding",
    route: || get(onboarding),
    doc: openapi::describe::<__path_onboarding>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const REFERRALS: Endpoint = Endpoint {
    function: "analytics-referrals",
    method: Method::GET,
    path: "/api/analytics/referrals",
    route: || get(referrals),
    doc: openapi::describe::<__path_referrals>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const EVENTS: Endpoint = Endpoint {
    function: "analytics-events",
    method: Method::GET,
    path: "/api/analytics/events",
    route: || get(events),
    doc: openapi::describe::<__path_events>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const NOTIFICATIONS: Endpoint = Endpoint {
    function: "analytics-notifications",
    method: Method::GET,
    path: "/api/analytics/notifications",
    route: || get(notifications),
    doc: openapi::describe::<__path_notifications>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const USERS: Endpoint = Endpoint {
    function: "analytics-users",
    method: Method::GET,
    path: "/api/analytics/users",
    route: || get(users),
    doc: openapi::describe::<__path_users>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const RETENTION: Endpoint = Endpoint {
    function: "analytics-retention",
    method: Method::GET,
    path: "/api/analytics/retention",
    route: || get(retention),
    doc: openapi::describe::<__path_retention>,
    tier: Tier::Standard,
    key_scope: None,
    uses: USES,
};
pub const FUNNELS: Endpoint = Endpoint {
    function: "analytics-funnels",
    method: Method::POST,
    path: "/api/analytics/funnels",
    route: || post(funnels),
    doc: openapi::describe::<__path_funnels>,
    tier: Tier::Standard,
    key_scope: None,
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
async fn cached<Q, T, F>(state: &AppState, name: &str, question: &Q, compute: F) -> Result<Response>
where
    Q: Serialize,
    T: Serialize,
    F: Future<Output = Result<T>>,
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
    let body = envelope_bytes(&serde_json::to_string(&compute.await?).map_err(anyhow::Error::from)?);
    if !ttl.is_zero() {
        state.cache.set(&key, &body, ttl).await;
    }
    Ok(json_bytes(body))
}

/// The onboarding funnel (`GET /api/analytics/onboarding`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OnboardingFunnel {
    /// Users who signed up in the range.
    total_users: i64,
    /// Every step, in onboarding order.
    steps: Vec<OnboardingStepCount>,
    /// The share of those users who completed KYC, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    conversion_rate: f64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OnboardingStepCount {
    step: OnboardingStep,
    /// Users at this step now.
    current: i64,
    /// Users at this step or past it; for `email`, where everyone starts, those who verified
    /// their address or moved past it.
    reached: i64,
    /// Users who reached the step before but not this one (for the first step, of all users).
    drop_off_from_previous: i64,
    /// `reached` over the step before's, 0 to 1 (0 when none reached that one).
    #[schema(minimum = 0, maximum = 1)]
    conversion_from_previous: f64,
}

#[utoipa::path(get, path = "/api/analytics/onboarding", security(("bearer" = ["admin", "analyst", "marketer"])),
    params(DateRange),
    responses((status = 200, description = "How far the users who signed up in the range got.", body = Ok<OnboardingFunnel>)))]
/// The onboarding funnel: how many users who signed up in the range reached each step.
///
/// Answers are cached per range, so they may be up to a minute old.
#[tracing::instrument(skip_all)]
async fn onboarding(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DateRange>,
) -> Result<Response> {
    let range = q.past()?;
    cached(&state, "onboarding", &range, async {
        let (counts, unverified) = repo::users_by_step(&state.db.reader().await?, range).await?;
        let at = |step: OnboardingStep| counts.iter().find(|(s, _)| s == step.as_str()).map_or(0, |(_, n)| *n);
        let total: i64 = counts.iter().map(|(_, n)| n).sum();
        // Steps only move forward, so a user at step k has reached every step before it; but
        // everyone starts on `email`, which a user has reached once their address is verified.
        let mut previous = total;
        let mut steps = Vec::new();
        for (i, step) in OnboardingStep::ALL.iter().enumerate() {
            let mut reached: i64 = OnboardingStep::ALL[i..].iter().map(|s| at(*s)).sum();
            if *step == OnboardingStep::Email {
                reached -= unverified;
            }
            steps.push(OnboardingStepCount {
                step: *step,
                current: at(*step),
                reached,
                drop_off_from_previous: previous - reached,
                conversion_from_previous: ratio(reached, previous),
            });
            previous = reached;
        }
        Ok(OnboardingFunnel {
            total_users: total,
            steps,
            conversion_rate: ratio(at(OnboardingStep::KycComplete), total),
        })
    })
    .await
}

/// Referrals and rewards (`GET /api/analytics/referrals`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReferralAnalytics {
    /// Referrals made in the range.
    total_referrals: i64,
    status_counts: ReferralStatusCounts,
    /// Rewards written in the range and not voided, summed per currency code, as decimal
    /// strings: `{"NGN": "1500.00"}`.
    total_rewards: BTreeMap<String, String>,
    /// The share of referrals completed or rewarded, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    completion_rate: f64,
    /// The share of referrals scored at or above the fraud threshold, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    fraud_rate: f64,
    /// The ten users who referred most in the range, most first.
    #[schema(max_items = 10)]
    top_referrers: Vec<ReferrerCount>,
}

/// Referrals made in the range, by status now.
#[derive(Serialize, ToSchema)]
struct ReferralStatusCounts {
    pending: i64,
    completed: i64,
    failed: i64,
    rewarded: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReferrerCount {
    user_id: Uuid,
    /// First and last name.
    name: String,
    /// Referrals they made in the range.
    referrals: i64,
    /// Of those, the ones rewarded.
    rewarded: i64,
}

#[utoipa::path(get, path = "/api/analytics/referrals", security(("bearer" = ["admin", "analyst", "marketer"])),
    params(DateRange),
    responses((status = 200, description = "Referrals made in the range and the rewards written.", body = Ok<ReferralAnalytics>)))]
/// Referral counts by status, rewards per currency and the top referrers.
///
/// Answers are cached per range, so they may be up to a minute old.
#[tracing::instrument(skip_all)]
async fn referrals(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DateRange>,
) -> Result<Response> {
    let range = q.past()?;
    cached(&state, "referrals", &range, async {
        let conn = state.db.reader().await?;
        let counts = repo::referral_counts(&conn, range, state.config.fraud_score_threshold).await?;
        let total_rewards: BTreeMap<String, String> = repo::reward_totals(&conn, range).await?.into_iter().collect();
        let top_referrers = repo::top_referrers(&conn, range)
            .await?
            .into_iter()
            .map(|t| ReferrerCount { user_id: t.user_id, name: t.name, referrals: t.referrals, rewarded: t.rewarded })
            .collect();
        Ok(ReferralAnalytics {
            total_referrals: counts.total,
            status_counts: ReferralStatusCounts {
                pending: counts.pending,
                completed: counts.completed,
                failed: counts.failed,
                rewarded: counts.rewarded,
            },
            total_rewards,
            completion_rate: ratio(counts.completed + counts.rewarded, counts.total),
            fraud_rate: ratio(counts.suspected_fraud, counts.total),
            top_referrers,
        })
    })
    .await
}

/// The period of a series: days, or weeks from Monday (as ISO weeks).
#[derive(Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// A day (`2026-11-01`, from its start, UTC) or an RFC 3339 time; from 1970, not after today. By
    /// default 30 days before the end; the range covers at most 400 whole UTC days.
    #[param(example = "2026-11-01")]
    start_date: Option<String>,
    /// A day (`2026-11-30`, included) or an RFC 3339 time (excluded); not before `startDate`.
    /// By default today is the last day.
    #[param(example = "2026-11-30")]
    end_date: Option<String>,
    /// Only this event (empty: every event).
    #[param(max_length = 64, pattern = "^[A-Za-z0-9_.:$-]*$", example = "signup")]
    event_name: Option<String>,
    #[param(inline, default = "day")]
    interval: Option<Interval>,
}

/// The first day anything can have happened: a default range that would start earlier starts
/// here.
const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a real day");

/// The longest range the events series covers, in days.
const MAX_EVENT_DAYS: i64 = 400;

/// Whole UTC days `[from, to)`: by default the 30 days up to and including today.
fn whole_days(range: Bounds, now: DateTime<Utc>) -> Result<(NaiveDate, NaiveDate)> {
    let to = match range.1 {
        // The first day not covered: the day of the last instant inside the range, plus one.
        Some(to) => (to - Duration::nanoseconds(1)).date_naive() + Duration::days(1),
        None => now.date_naive() + Duration::days(1),
    };
    let from = range.0.map_or((to - Duration::days(30)).max(EPOCH), |from| from.date_naive());
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

/// Events over time (`GET /api/analytics/events`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventAnalytics {
    /// Events in the range.
    total_events: i64,
    /// Distinct users who did them; without `eventName`, the users with any activity (what a
    /// user did, not mail or nudges we sent them).
    unique_users: i64,
    /// Events in the range per event name.
    event_counts: BTreeMap<String, i64>,
    /// Every period the range touches, oldest first, empty ones included.
    time_series: Vec<EventPeriod>,
}

#[derive(Serialize, ToSchema)]
struct EventPeriod {
    /// The period's first day (a Monday for weeks; it may start before the range).
    period: NaiveDate,
    /// Events in the period, within the range.
    events: i64,
    /// Distinct users who did them (without `eventName`: with any activity).
    users: i64,
}

#[utoipa::path(get, path = "/api/analytics/events", security(("bearer" = ["admin", "analyst", "marketer"])),
    params(EventsQuery),
    responses((status = 200, description = "Events and distinct users over whole UTC days, in total and per period.", body = Ok<EventAnalytics>)))]
/// Events and the users who did them, per day or week.
///
/// The range is whole UTC days: by default the 30 days up to today, at most 400. Answers are
/// cached per question, so they may be up to a minute old.
#[tracing::instrument(skip_all)]
async fn events(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<EventsQuery>,
) -> Result<Response> {
    let range = DateRange { start_date: q.start_date, end_date: q.end_date }.past()?;
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
            series.push(EventPeriod { period, events, users });
            period += interval.step();
        }
        Ok(EventAnalytics {
            total_events: counts.iter().map(|(_, _, n)| n).sum::<i64>(),
            unique_users: users.iter().find(|(p, _)| p.is_none()).map_or(0, |(_, n)| *n),
            event_counts: by_name,
            time_series: series,
        })
    })
    .await
}

/// Counts of every known value (zeros included) and of any other found, by key: an object
/// whose keys are in sorted order, as they always were.
fn counted<'a>(known: &[&'a str], pairs: impl Iterator<Item = (&'a str, i64)>) -> BTreeMap<String, i64> {
    let mut map: BTreeMap<String, i64> = known.iter().map(|k| ((*k).to_owned(), 0)).collect();
    for (key, n) in pairs {
        *map.entry(key.to_owned()).or_insert(0) += n;
    }
    map
}

/// Notifications (`GET /api/analytics/notifications`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NotificationAnalytics {
    /// Notifications created in the range.
    total_notifications: i64,
    /// Per type: every type (`welcome`, `referral_reward`, `kyc_reminder`, `inactivity`,
    /// `custom`) is there, 0 when none.
    type_counts: BTreeMap<String, i64>,
    /// Per channel: every channel (`email`, `sms`, `whatsapp`, `push`) is there, 0 when none.
    channel_counts: BTreeMap<String, i64>,
    /// Per status: every status (`pending`, `sent`, `delivered`, `read`, `failed`) is there,
    /// 0 when none.
    status_counts: BTreeMap<String, i64>,
    /// The share read, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    read_rate: f64,
    /// Emails sent, delivered or read.
    emails_sent: i64,
}

#[utoipa::path(get, path = "/api/analytics/notifications", security(("bearer" = ["admin", "analyst", "marketer"])),
    params(DateRange),
    responses((status = 200, description = "Notifications created in the range, by type, channel and status.", body = Ok<NotificationAnalytics>)))]
/// Notification counts by type, channel and status, and how many were read.
///
/// Answers are cached per range, so they may be up to a minute old.
#[tracing::instrument(skip_all)]
async fn notifications(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DateRange>,
) -> Result<Response> {
    let range = q.past()?;
    cached(&state, "notifications", &range, async {
        let rows = repo::notification_counts(&state.db.reader().await?, range).await?;
        let total: i64 = rows.iter().map(|r| r.count).sum();
        let read: i64 = rows.iter().map(|r| r.read).sum();
        let emails_sent: i64 = rows
            .iter()
            .filter(|r| r.channel == "email" && matches!(r.status.as_str(), "sent" | "delivered" | "read"))
            .map(|r| r.count)
            .sum();
        Ok(NotificationAnalytics {
            total_notifications: total,
            type_counts: counted(
                &["welcome", "referral_reward", "kyc_reminder", "inactivity", "custom"],
                rows.iter().map(|r| (r.kind.as_str(), r.count)),
            ),
            channel_counts: counted(
                &["email", "sms", "whatsapp", "push"],
                rows.iter().map(|r| (r.channel.as_str(), r.count)),
            ),
            status_counts: counted(
                &["pending", "sent", "delivered", "read", "failed"],
                rows.iter().map(|r| (r.status.as_str(), r.count)),
            ),
            read_rate: ratio(read, total),
            emails_sent,
        })
    })
    .await
}

/// Users (`GET /api/analytics/users`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UserAnalytics {
    /// Users who existed by the end of the range.
    total_users: i64,
    /// Of those, the ones active in the last 30 days.
    active_users: i64,
    /// Of those, the ones who signed up in the range.
    new_users: i64,
    /// Per role: every role is there, 0 when none.
    users_by_role: BTreeMap<String, i64>,
    /// Per account status: every status is there, 0 when none.
    users_by_status: BTreeMap<String, i64>,
    /// Of the users, the blocked ones.
    blocked_users: i64,
}

#[utoipa::path(get, path = "/api/analytics/users", security(("bearer" = ["admin", "analyst", "marketer"])),
    params(DateRange),
    responses((status = 200, description = "The users who existed by the end of the range.", body = Ok<UserAnalytics>)))]
/// User counts: active, new, blocked, by role and by status.
///
/// Answers are cached per range, so they may be up to a minute old.
#[tracing::instrument(skip_all)]
async fn users(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DateRange>,
) -> Result<Response> {
    let range = q.past()?;
    cached(&state, "users", &range, async {
        let rows = repo::user_counts(&state.db.reader().await?, range).await?;
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        Ok(UserAnalytics {
            total_users: rows.iter().map(|r| r.count).sum::<i64>(),
            active_users: rows.iter().map(|r| r.active).sum::<i64>(),
            new_users: rows.iter().map(|r| r.new).sum::<i64>(),
            users_by_role: counted(&roles, rows.iter().map(|r| (r.role.as_str(), r.count))),
            users_by_status: counted(&statuses, rows.iter().map(|r| (r.status.as_str(), r.count))),
            blocked_users: rows.iter().filter(|r| r.blocked).map(|r| r.count).sum::<i64>(),
        })
    })
    .await
}

/// What a cohort spans: the users who signed up in one ISO week (from Monday) or one
/// calendar month, UTC.
#[derive(Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct RetentionQuery {
    /// A day (`2026-11-01`, from its start, UTC) or an RFC 3339 time; from 1970, not after today.
    /// The cohorts start with the one this falls in (by default, `periods` cohorts back from
    /// the last); at most 26 cohorts.
    #[param(example = "2026-11-01")]
    start_date: Option<String>,
    /// A day (`2026-11-30`, included) or an RFC 3339 time (excluded); not before `startDate`.
    /// By default now.
    #[param(example = "2026-11-30")]
    end_date: Option<String>,
    #[param(inline, default = "week")]
    cohort: Option<CohortUnit>,
    /// Periods followed per cohort (the first is the sign-up period), and the number of
    /// cohorts when `startDate` is left out.
    #[param(minimum = 1, maximum = 26, default = 8)]
    periods: Option<i32>,
    /// What counts as coming back: this event (empty or left out: any event).
    #[param(max_length = 64, pattern = "^[A-Za-z0-9_.:$-]*$", example = "session_start")]
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

/// Retention (`GET /api/analytics/retention`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RetentionAnalytics {
    /// Users who signed up in the range (whole UTC days).
    total_users: i64,
    /// Of those, the ones active in the last 30 days.
    active_users: i64,
    retention_rates: RetentionRates,
    cohort_unit: CohortUnit,
    /// The cohorts, oldest first.
    #[schema(max_items = 26)]
    cohorts: Vec<RetentionCohort>,
}

/// N-day retention of the users who signed up in the range: of those who signed up N days
/// ago or earlier, the share who came back N days after their sign-up day or later, 0 to 1.
#[derive(Serialize, ToSchema)]
struct RetentionRates {
    #[serde(rename = "7d")]
    #[schema(minimum = 0, maximum = 1)]
    d7: f64,
    #[serde(rename = "30d")]
    #[schema(minimum = 0, maximum = 1)]
    d30: f64,
    #[serde(rename = "90d")]
    #[schema(minimum = 0, maximum = 1)]
    d90: f64,
}

#[derive(Serialize, ToSchema)]
struct RetentionCohort {
    /// `2026-W45` for a week (ISO), `2026-11` for a month.
    #[schema(example = "2026-W45")]
    cohort: String,
    /// Its first day.
    start: NaiveDate,
    /// Users who signed up in it.
    size: i64,
    /// Per period from the sign-up one (which holds `size`), the users who came back in it:
    /// only the periods that have begun.
    #[schema(max_items = 26)]
    retained: Vec<i64>,
}

#[utoipa::path(get, path = "/api/analytics/retention", security(("bearer" = ["admin", "analyst", "marketer"])),
    params(RetentionQuery),
    responses((status = 200, description = "7-, 30- and 90-day retention and the cohort triangle.", body = Ok<RetentionAnalytics>)))]
/// N-day retention and the cohort triangle of the users who signed up in the range.
///
/// Answers are cached per question, so they may be up to a minute old.
#[tracing::instrument(skip_all)]
async fn retention(
    _: AnalyticsReader,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<RetentionQuery>,
) -> Result<Response> {
    let range = DateRange { start_date: q.start_date, end_date: q.end_date }.past()?;
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
        None => unit.back(last, periods as u32 - 1).max(unit.start(EPOCH)),
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
    let summary_from = range.0.map_or(EPOCH, |t| t.date_naive());
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
            cohorts.push(RetentionCohort { cohort: unit.label(start), start, size, retained });
        }
        let [d7, d30, d90] = summary.rates;
        Ok(RetentionAnalytics {
            total_users: summary.total,
            active_users: summary.active,
            retention_rates: RetentionRates {
                d7: ratio(d7.1, d7.0),
                d30: ratio(d30.1, d30.0),
                d90: ratio(d90.1, d90.0),
            },
            cohort_unit: unit,
            cohorts,
        })
    })
    .await
}

/// An ordered funnel of events to count.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = FunnelRequest)]
struct FunnelBody {
    /// 2 to 8 event names, in the order users must do them.
    #[schema(min_items = 2, max_items = 8, min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.:$-]+$")]
    steps: Vec<String>,
    /// How long after the first step the others count, in hours.
    #[schema(minimum = 1, maximum = 720, default = 168)]
    window_hours: Option<i32>,
    /// When the first step may be done: a day (`2026-11-01`, from its start, UTC) or an
    /// RFC 3339 time; from 1970, not after today.
    #[schema(example = "2026-11-01")]
    start_date: Option<String>,
    /// A day (`2026-11-30`, included) or an RFC 3339 time (excluded); not before `startDate`.
    #[schema(example = "2026-11-30")]
    end_date: Option<String>,
    /// `referred` also counts the referred users and the others apart, in `groups`.
    #[schema(inline)]
    group_by: Option<FunnelGroupBy>,
}

/// How a funnel's users may be split.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum FunnelGroupBy {
    Referred,
}

/// A funnel's counts (`POST /api/analytics/funnels`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FunnelAnalysis {
    /// Every step, in order, for all users.
    steps: Vec<FunnelStepCount>,
    /// The window used, in hours.
    window_hours: i32,
    /// With `groupBy`: the same steps for the referred users and for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    groups: Option<FunnelGroups>,
}

#[derive(Serialize, ToSchema)]
struct FunnelGroups {
    /// Users who signed up with a referral code.
    referred: FunnelGroup,
    /// Everyone else.
    organic: FunnelGroup,
}

#[derive(Serialize, ToSchema)]
struct FunnelGroup {
    steps: Vec<FunnelStepCount>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FunnelStepCount {
    event_name: String,
    /// Users who reached this step.
    users: i64,
    /// `users` over the step before's, 0 to 1 (0 when none reached it); `null` for the first
    /// step.
    #[schema(minimum = 0, maximum = 1)]
    conversion_from_previous: Option<f64>,
    /// The median time from the step before, in hours; `null` for the first step, or when
    /// nobody reached this one.
    median_hours_from_previous: Option<f64>,
}

fn funnel_steps(names: &[String], steps: &[FunnelStep]) -> Vec<FunnelStepCount> {
    let mut previous: Option<&FunnelStep> = None;
    names
        .iter()
        .zip(steps)
        .map(|(name, step)| {
            let answer = FunnelStepCount {
                event_name: name.clone(),
                users: step.users,
                conversion_from_previous: previous.map(|p| ratio(step.users, p.users)),
                median_hours_from_previous: step.median_hours,
            };
            previous = Some(step);
            answer
        })
        .collect()
}

#[utoipa::path(post, path = "/api/analytics/funnels", security(("bearer" = ["admin", "analyst", "marketer"])),
    request_body = FunnelBody,
    responses((status = 200, description = "How many users reached each step, and how fast.", body = Ok<FunnelAnalysis>)))]
/// Counts an ordered funnel of events, optionally split by whether users were referred.
///
/// A user is at step 1 from their first event of `steps[0]` in the range, and at step k when
/// they did `steps[k-1]` after reaching step k-1 and within `windowHours` of step 1. Answers
/// are cached per body, so they may be up to a minute old.
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
    let by_referred = body.group_by == Some(FunnelGroupBy::Referred);
    let range = DateRange { start_date: body.start_date.clone(), end_date: body.end_date.clone() }.past()?;
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
        let all = steps(None);
        let groups = by_referred.then(|| FunnelGroups {
            referred: FunnelGroup { steps: steps(Some(true)) },
            organic: FunnelGroup { steps: steps(Some(false)) },
        });
        Ok(FunnelAnalysis { steps: all, window_hours: window, groups })
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
