//! Growth analytics against a fixture whose every expected number is worked out by hand
//! below (not recomputed by the code under test).
//!
//! The fixture is placed relative to `base`, the Monday eleven weeks before this week's, so
//! that every user is older than 30 days and younger than 90 whenever the test runs.
//!
//! Users (created at base + days, hour), onboarding step, referred by:
//! U1 +0 08h kyc_complete · U2 +1 07h kyc_complete · U3 +2 09h selfie · U4 +2 12h bvn
//! U5 +8 09h phone (U1) · U6 +9 09h email (U1, blocked) · U7 +10 09h email (inactive)
//! U8 +15 11h kyc_complete (U2) · U9 +16 11h phone (U3) · U10 +43 09h email
//! U1 and U2 were active yesterday; the others not for 40 days.
//!
//! Events (day, hour): U1 app_opened +0 10h, kyc_started +0 12h, kyc_completed +1 09h,
//! app_opened +9 09h · U2 app_opened +1 08h, kyc_completed +1 09h (before its start),
//! kyc_started +1 10h, app_opened +16 10h · U3 app_opened +2 10h, kyc_started +2 11h,
//! kyc_completed +7 11h (past a 72 h window) · U4 app_opened +24 10h · U5 app_opened +8 10h,
//! kyc_started +8 10:30, kyc_completed +8 12:30 · U6 app_opened +15 10h · U8 app_opened +15 12h.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use growstack_tests::TestApp;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

type Person = (usize, i64, u32, &'static str, Option<usize>, &'static str, bool);
type Referral = (usize, usize, Option<usize>, &'static str, i32, i64);

struct Fixture {
    app: TestApp,
    base: NaiveDate,
    users: Vec<Uuid>,
    analyst: String,
    user: String,
}

fn at(base: NaiveDate, days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    (base + Duration::days(days)).and_hms_opt(hour, minute, 0).unwrap().and_utc()
}

fn day(base: NaiveDate, days: i64) -> String {
    (base + Duration::days(days)).to_string()
}

async fn fixture(overrides: &[(&str, &str)]) -> Fixture {
    let app = TestApp::spawn_with(overrides).await;
    let today = Utc::now().date_naive();
    let base = today - Duration::days(today.weekday().num_days_from_monday() as i64) - Duration::weeks(11);
    let pg = app.pg().await;

    let users: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
    let u = |n: usize| users[n - 1];
    // (user, day, hour, step, referred by, status, blocked)
    let people: [Person; 10] = [
        (1, 0, 8, "kyc_complete", None, "active", false),
        (2, 1, 7, "kyc_complete", None, "active", false),
        (3, 2, 9, "selfie", None, "active", false),
        (4, 2, 12, "bvn", None, "active", false),
        (5, 8, 9, "phone", Some(1), "active", false),
        (6, 9, 9, "email", Some(1), "active", true),
        (7, 10, 9, "email", None, "inactive", false),
        (8, 15, 11, "kyc_complete", Some(2), "active", false),
        (9, 16, 11, "phone", Some(3), "active", false),
        (10, 43, 9, "email", None, "active", false),
    ];
    for (n, days, hour, step, referrer, status, blocked) in people {
        let active = if n <= 2 { Utc::now() - Duration::days(1) } else { Utc::now() - Duration::days(40) };
        pg.execute(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code, onboarding_step,
                                status, blocked, referred_by, created_at, last_active_at)
             VALUES ($1, $2, 'x', 'User', $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &u(n),
                &format!("u{n}@fixture.test"),
                &format!("{n}"),
                &format!("FIX{n:03}"),
                &step,
                &status,
                &blocked,
                &referrer.map(u),
                &at(base, days, hour, 0),
                &active,
            ],
        )
        .await
        .unwrap();
    }

    // Referrals: R1 U1→U5 rewarded, R2 U1→U6 completed, R3 U2→U8 rewarded, R4 U1 invited
    // an address (pending), R5 U3→U9 failed as fraud (score 80); R6 U2 pending a month on.
    let referrals: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
    let r = |n: usize| referrals[n - 1];
    // (referral, referrer, referred user, status, fraud score, day)
    let rows: [Referral; 6] = [
        (1, 1, Some(5), "rewarded", 10, 8),
        (2, 1, Some(6), "completed", 0, 9),
        (3, 2, Some(8), "rewarded", 0, 15),
        (4, 1, None, "pending", 0, 3),
        (5, 3, Some(9), "failed", 80, 16),
        (6, 2, None, "pending", 0, 28),
    ];
    for (n, referrer, referred, status, fraud, days) in rows {
        pg.execute(
            "INSERT INTO referrals (id, referrer_id, referred_user_id, referred_email, status, fraud_score, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &r(n),
                &u(referrer),
                &referred.map(u),
                &referred.is_none().then(|| format!("invitee{n}@fixture.test")),
                &status,
                &fraud,
                &at(base, days, 12, 0),
            ],
        )
        .await
        .unwrap();
    }
    // The ledger: three rewards of 500.00 NGN, one voided 500.00 NGN, one pending 7.25 USD.
    let rewards: [(usize, usize, &str, &str, &str, &str); 5] = [
        (1, 1, "referrer", "500.00", "NGN", "available"),
        (1, 5, "referred", "500.00", "NGN", "paid"),
        (3, 2, "referrer", "500.00", "NGN", "available"),
        (3, 8, "referred", "500.00", "NGN", "voided"),
        (2, 1, "referrer", "7.25", "USD", "pending"),
    ];
    for (referral, user, side, amount, currency, status) in rewards {
        pg.execute(
            "INSERT INTO rewards (id, referral_id, user_id, side, amount, currency, status, paid_at, external_ref,
                                  voided_at, void_reason, created_at)
             VALUES ($1, $2, $3, $4, $5::text::numeric, $6, $7,
                     CASE WHEN $7 = 'paid' THEN now() END, CASE WHEN $7 = 'paid' THEN 'bank-1' END,
                     CASE WHEN $7 = 'voided' THEN now() END, CASE WHEN $7 = 'voided' THEN 'duplicate device' END, $8)",
            &[&Uuid::now_v7(), &r(referral), &u(user), &side, &amount, &currency, &status, &at(base, 16, 13, 0)],
        )
        .await
        .unwrap();
    }
    // Notifications: welcome email sent, welcome email delivered, referral reward push read,
    // KYC reminder email failed, custom SMS pending.
    let notes: [(usize, &str, &str, &str, bool); 5] = [
        (1, "welcome", "email", "sent", false),
        (2, "welcome", "email", "delivered", false),
        (3, "referral_reward", "push", "read", true),
        (4, "kyc_reminder", "email", "failed", false),
        (5, "custom", "sms", "pending", false),
    ];
    for (user, kind, channel, status, read) in notes {
        pg.execute(
            "INSERT INTO notifications (id, user_id, type, channel, status, title, content, read, created_at)
             VALUES ($1, $2, $3, $4, $5, 'Title', 'Content', $6, $7)",
            &[&Uuid::now_v7(), &u(user), &kind, &channel, &status, &read, &at(base, 5, 12, 0)],
        )
        .await
        .unwrap();
    }

    // The months the events fall in, as the scheduler would have made them.
    let mut month = base.with_day(1).unwrap();
    while month <= today {
        let next = month.checked_add_months(chrono::Months::new(1)).unwrap();
        let name = growstack::events::partitions::name(month);
        pg.execute("SELECT growstack_ensure_events_partition($1, $2, $3)", &[&name, &month, &next]).await.unwrap();
        month = next;
    }
    let events: [(usize, &str, i64, u32, u32); 17] = [
        (1, "app_opened", 0, 10, 0),
        (1, "kyc_started", 0, 12, 0),
        (1, "kyc_completed", 1, 9, 0),
        (1, "app_opened", 9, 9, 0),
        (2, "app_opened", 1, 8, 0),
        (2, "kyc_completed", 1, 9, 0),
        (2, "kyc_started", 1, 10, 0),
        (2, "app_opened", 16, 10, 0),
        (3, "app_opened", 2, 10, 0),
        (3, "kyc_started", 2, 11, 0),
        (3, "kyc_completed", 7, 11, 0),
        (4, "app_opened", 24, 10, 0),
        (5, "app_opened", 8, 10, 0),
        (5, "kyc_started", 8, 10, 30),
        (5, "kyc_completed", 8, 12, 30),
        (6, "app_opened", 15, 10, 0),
        (8, "app_opened", 15, 12, 0),
    ];
    for (user, name, days, hour, minute) in events {
        pg.execute(
            "INSERT INTO events (id, user_id, event_name, occurred_at, source, activity) VALUES ($1, $2, $3, $4, 'client', true)",
            &[&Uuid::now_v7(), &u(user), &name, &at(base, days, hour, minute)],
        )
        .await
        .unwrap();
    }

    let admin = app.admin().await;
    let analyst = app.user(&app.email("analyst")).await;
    assert_eq!(app.set_role(&admin.access, &analyst.id.to_string(), "analyst").await.status, StatusCode::OK);
    let analyst = app.login(&analyst.email, &analyst.password).await.data()["accessToken"].as_str().unwrap().to_owned();
    let user = app.user(&app.email("plain")).await.access;
    Fixture { app, base, users, analyst, user }
}

impl Fixture {
    async fn get(&self, path: &str) -> Value {
        let r = self.app.call(Method::GET, path, Some(&self.analyst), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        r.data().clone()
    }

    async fn funnel(&self, body: Value) -> Value {
        let r = self.app.json(Method::POST, "/api/analytics/funnels", Some(&self.analyst), body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.data().clone()
    }

    /// The fixture's sign-up weeks: base + 0 through base + 23 days.
    fn signups(&self) -> String {
        format!("startDate={}&endDate={}", day(self.base, 0), day(self.base, 23))
    }
}

fn steps(answer: &Value) -> Vec<(String, i64, Option<f64>, Option<f64>)> {
    answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["eventName"].as_str().unwrap().to_owned(),
                s["users"].as_i64().unwrap(),
                s["conversionFromPrevious"].as_f64(),
                s["medianHoursFromPrevious"].as_f64(),
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn every_number_matches_the_hand_count() {
    let f = fixture(&[("ANALYTICS_CACHE_SECONDS", "0")]).await;
    let range = f.signups();

    // Onboarding: of 9 sign-ups, 2 at email (one of them, U6, verified), 2 at phone, 1 at
    // bvn, 1 at selfie, 3 done. Everyone starts on `email`: reaching it is verifying.
    f.app.pg().await.execute("UPDATE users SET email_verified_at = now() WHERE id = $1", &[&f.users[5]]).await.unwrap();
    let onboarding = f.get(&format!("/api/analytics/onboarding?{range}")).await;
    assert_eq!(onboarding["totalUsers"], 9);
    let expected = [
        ("email", 2, 8, 1, 8.0 / 9.0),
        ("phone", 2, 7, 1, 7.0 / 8.0),
        ("bvn", 1, 5, 2, 5.0 / 7.0),
        ("selfie", 1, 4, 1, 0.8),
        ("kyc_complete", 3, 3, 1, 0.75),
    ];
    for (step, (name, current, reached, drop, conversion)) in
        onboarding["steps"].as_array().unwrap().iter().zip(expected)
    {
        assert_eq!(step["step"], name);
        assert_eq!((step["current"].as_i64(), step["reached"].as_i64()), (Some(current), Some(reached)), "{step}");
        assert_eq!(step["dropOffFromPrevious"], drop, "{step}");
        assert!(close(step["conversionFromPrevious"].as_f64().unwrap(), conversion), "{step}");
    }
    assert!(close(onboarding["conversionRate"].as_f64().unwrap(), 3.0 / 9.0));

    // Referrals: R1–R5 in range (R6 a month on).
    let referrals = f.get(&format!("/api/analytics/referrals?{range}")).await;
    assert_eq!(referrals["totalReferrals"], 5);
    assert_eq!(referrals["statusCounts"], json!({"pending": 1, "completed": 1, "failed": 1, "rewarded": 2}));
    assert_eq!(referrals["totalRewards"], json!({"NGN": "1500.00", "USD": "7.25"}), "the voided reward is not counted");
    assert!(close(referrals["completionRate"].as_f64().unwrap(), 0.6));
    assert!(close(referrals["fraudRate"].as_f64().unwrap(), 0.2));
    let top: Vec<(String, i64, i64)> = referrals["topReferrers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["userId"].as_str().unwrap().to_owned(),
                t["referrals"].as_i64().unwrap(),
                t["rewarded"].as_i64().unwrap(),
            )
        })
        .collect();
    let id = |n: usize| f.users[n - 1].to_string();
    assert_eq!(top, vec![(id(1), 3, 1), (id(2), 1, 1), (id(3), 1, 0)]);
    assert_eq!(referrals["topReferrers"][0]["name"], "User 1");

    // Notifications.
    let notifications = f.get(&format!("/api/analytics/notifications?{range}")).await;
    assert_eq!(notifications["totalNotifications"], 5);
    assert_eq!(
        notifications["typeCounts"],
        json!({"welcome": 2, "referral_reward": 1, "kyc_reminder": 1, "inactivity": 0, "custom": 1})
    );
    assert_eq!(notifications["channelCounts"], json!({"email": 3, "sms": 1, "whatsapp": 0, "push": 1}));
    assert_eq!(notifications["statusCounts"], json!({"pending": 1, "sent": 1, "delivered": 1, "read": 1, "failed": 1}));
    assert!(close(notifications["readRate"].as_f64().unwrap(), 0.2));
    assert_eq!(notifications["emailsSent"], 2);

    // Users: 9 by the end of the range, 5 of them new since base + 8.
    let users = f.get(&format!("/api/analytics/users?startDate={}&endDate={}", day(f.base, 8), day(f.base, 23))).await;
    assert_eq!(users["totalUsers"], 9);
    assert_eq!(users["newUsers"], 5);
    assert_eq!(users["activeUsers"], 2);
    assert_eq!(users["usersByRole"], json!({"admin": 0, "marketer": 0, "analyst": 0, "user": 9}));
    assert_eq!(users["usersByStatus"], json!({"active": 8, "inactive": 1, "suspended": 0, "deleted": 0}));
    assert_eq!(users["blockedUsers"], 1);
}

#[tokio::test]
async fn events_over_time_from_the_rollup_and_today() {
    let f = fixture(&[("ANALYTICS_CACHE_SECONDS", "0")]).await;
    // Two weeks from base: U1, U2, U3 in the first (8 events), U3, U5, U1 in the second (5).
    let weeks = format!("/api/analytics/events?startDate={}&endDate={}&interval=week", day(f.base, 0), day(f.base, 13));
    let check = |answer: &Value| {
        assert_eq!(answer["totalEvents"], 13, "{answer}");
        assert_eq!(answer["uniqueUsers"], 4);
        assert_eq!(answer["eventCounts"], json!({"app_opened": 5, "kyc_started": 4, "kyc_completed": 4}));
        assert_eq!(
            answer["timeSeries"],
            json!([
                {"period": day(f.base, 0), "events": 8, "users": 3},
                {"period": day(f.base, 7), "events": 5, "users": 3},
            ])
        );
    };
    // Before any rollup everything comes from `events`; after it, whole days come from the
    // rollup: the same answer either way.
    check(&f.get(&weeks).await);
    f.app.state.scheduler().run(&[growstack::scheduler::Task::EventsRollup]).await.unwrap();
    let rolled: i64 = f.app.pg().await.query_one("SELECT count(*) FROM event_counts_daily", &[]).await.unwrap().get(0);
    assert!(rolled > 0, "the rollup ran");
    check(&f.get(&weeks).await);

    // Days, zeros included, summing to the total.
    let days = f.get(&format!("/api/analytics/events?startDate={}&endDate={}", day(f.base, 0), day(f.base, 13))).await;
    let series = days["timeSeries"].as_array().unwrap();
    assert_eq!(series.len(), 14);
    assert_eq!(series[0], json!({"period": day(f.base, 0), "events": 2, "users": 1}));
    assert_eq!(series[1], json!({"period": day(f.base, 1), "events": 4, "users": 2}));
    assert_eq!(series[3], json!({"period": day(f.base, 3), "events": 0, "users": 0}));
    assert_eq!(series.iter().map(|p| p["events"].as_i64().unwrap()).sum::<i64>(), 13);

    // One event name: app_opened by U1, U2, U3 in week one and U5, U1 in week two.
    let opened = f.get(&format!("{weeks}&eventName=app_opened")).await;
    assert_eq!((opened["totalEvents"].as_i64(), opened["uniqueUsers"].as_i64()), (Some(5), Some(4)));
    assert_eq!(opened["timeSeries"][0]["events"], 3);
    assert_eq!(opened["timeSeries"][1]["users"], 2);

    // Today, which the rollup has not completed, comes from `events`: one event now counts.
    let pg = f.app.pg().await;
    pg.execute(
        "INSERT INTO events (id, user_id, event_name, occurred_at, source, activity) VALUES ($1, $2, 'app_opened', now(), 'client', true)",
        &[&Uuid::now_v7(), &f.users[0]],
    )
    .await
    .unwrap();
    let today = Utc::now().date_naive().to_string();
    let recent = f.get(&format!("/api/analytics/events?startDate={today}&eventName=app_opened")).await;
    assert_eq!(recent["totalEvents"], 1, "{recent}");
    // (The staff accounts made today have lifecycle events of their own: one name only.)
    let all = f.get(&format!("/api/analytics/events?startDate={}&eventName=app_opened", day(f.base, 0))).await;
    assert_eq!(all["totalEvents"], 10, "9 fixture app_opened events from the rollup, and today's");

    // An empty range is zeros, not an error.
    let empty = f.get("/api/analytics/events?startDate=2020-01-01&endDate=2020-01-07").await;
    assert_eq!((empty["totalEvents"].as_i64(), empty["uniqueUsers"].as_i64()), (Some(0), Some(0)));
    assert_eq!(empty["timeSeries"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn retention_and_the_cohort_triangle() {
    let f = fixture(&[("ANALYTICS_CACHE_SECONDS", "0")]).await;
    let answer = f.get(&format!("/api/analytics/retention?{}&cohort=week&periods=4", f.signups())).await;
    // N-day retention of U1–U9: back 7 days or more after sign-up: U1, U2, U4; 30: nobody;
    // 90: nobody is old enough.
    assert_eq!(answer["totalUsers"], 9);
    assert_eq!(answer["activeUsers"], 2);
    assert!(close(answer["retentionRates"]["7d"].as_f64().unwrap(), 3.0 / 9.0), "{answer}");
    assert_eq!(answer["retentionRates"]["30d"], 0.0);
    assert_eq!(answer["retentionRates"]["90d"], 0.0);

    let label = |days: i64| {
        let week = (f.base + Duration::days(days)).iso_week();
        format!("{}-W{:02}", week.year(), week.week())
    };
    // Week 1 (U1–U4): U1 and U3 back in week 2, U2 in week 3, U4 in week 4. Week 2
    // (U5–U7): U6 back in week 3. Week 3 (U8, U9): nobody back. Week 4 has no sign-ups.
    let cohorts: Vec<(String, i64, Vec<i64>)> = answer["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let retained = c["retained"].as_array().unwrap().iter().map(|n| n.as_i64().unwrap()).collect();
            (c["cohort"].as_str().unwrap().to_owned(), c["size"].as_i64().unwrap(), retained)
        })
        .collect();
    assert_eq!(
        cohorts,
        vec![
            (label(0), 4, vec![4, 2, 1, 1]),
            (label(7), 3, vec![3, 1, 0, 0]),
            (label(14), 2, vec![2, 0, 0, 0]),
            (label(21), 0, vec![0, 0, 0, 0]),
        ]
    );

    // Only app_opened counts as coming back: U3's week-2 return was a kyc_completed.
    let path = format!("/api/analytics/retention?{}&cohort=week&periods=4&returnEvent=app_opened", f.signups());
    let opened = f.get(&path).await;
    assert_eq!(opened["cohorts"][0]["retained"], json!([4, 1, 1, 1]));

    // Everything above was read from `events` and `users`; after the rollup the same days
    // come from the bitmaps, with the same answer.
    f.app.state.scheduler().run(&[growstack::scheduler::Task::EventsRollup]).await.unwrap();
    let stored: i64 = f.app.pg().await.query_one("SELECT count(*) FROM user_bitmaps", &[]).await.unwrap().get(0);
    assert!(stored > 0, "the rollup wrote bitmaps");
    let again = f.get(&format!("/api/analytics/retention?{}&cohort=week&periods=4", f.signups())).await;
    assert_eq!(again["cohorts"], answer["cohorts"]);
    assert_eq!(again["retentionRates"], answer["retentionRates"]);
    assert_eq!(f.get(&path).await["cohorts"], opened["cohorts"]);

    // By default the last `periods` weeks: the current week's cohort has only week 0 begun.
    let recent = f.get("/api/analytics/retention?periods=3").await;
    let recent = recent["cohorts"].as_array().unwrap();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[2]["retained"].as_array().unwrap().len(), 1, "the triangle");
    assert_eq!(recent[0]["retained"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn todays_counts_join_the_rollup_to_what_came_after_it() {
    let f = fixture(&[("ANALYTICS_CACHE_SECONDS", "0")]).await;
    let pg = f.app.pg().await;
    // Two more users numbered into the second and third chunks of 65,536 users.
    let far: Vec<Uuid> = (0..2).map(|_| Uuid::now_v7()).collect();
    for (n, (id, seq)) in far.iter().zip([70_000_i64, 140_000]).enumerate() {
        pg.execute(
            "INSERT INTO users (id, seq, email, password_hash, first_name, last_name, referral_code)
             VALUES ($1, $2, $3, 'x', 'Far', 'User', $4)",
            &[id, &seq, &format!("far{n}@fixture.test"), &format!("FAR{n:03}")],
        )
        .await
        .unwrap();
    }
    let event = |user: Uuid, minutes_ago: i32| {
        let pg = &pg;
        async move {
            pg.execute(
                "INSERT INTO events (id, user_id, event_name, occurred_at, source, activity)
                 VALUES ($1, $2, 'paid', now() - make_interval(mins => $3), 'client', true)",
                &[&Uuid::now_v7(), &user, &minutes_ago],
            )
            .await
            .unwrap();
        }
    };
    // Yesterday to tomorrow: events minutes old fall on yesterday just after midnight, and the
    // day may turn while the test runs.
    let today = Utc::now().date_naive();
    let (yesterday, tomorrow) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let path = format!("/api/analytics/events?startDate={yesterday}&endDate={tomorrow}&eventName=paid");
    let counts = |answer: Value| (answer["totalEvents"].as_i64().unwrap(), answer["uniqueUsers"].as_i64().unwrap());
    let rollup = || async { f.app.state.scheduler().run(&[growstack::scheduler::Task::EventsRollup]).await.unwrap() };

    // Before the rollup, from `events`: U1 twice and the far users.
    event(f.users[0], 3).await;
    event(f.users[0], 2).await;
    event(far[0], 2).await;
    event(far[1], 2).await;
    assert_eq!(counts(f.get(&path).await), (4, 3));
    // The rollup stores today up to now; U1 and the first far user come again after it: the
    // stored part and the rest are added for events and ORed for users (nobody twice).
    rollup().await;
    event(f.users[0], 0).await;
    event(far[0], 0).await;
    assert_eq!(counts(f.get(&path).await), (6, 3));
    event(f.users[1], 0).await;
    assert_eq!(counts(f.get(&path).await), (7, 4));
    // An event that occurred before the mark but arrived after the run is counted by the next
    // run, which recounts the day; running it again changes nothing.
    event(f.users[2], 10).await;
    rollup().await;
    assert_eq!(counts(f.get(&path).await), (8, 5));
    rollup().await;
    assert_eq!(counts(f.get(&path).await), (8, 5));
    let chunks: Vec<i32> = pg
        .query("SELECT DISTINCT chunk FROM user_bitmaps WHERE event_name = 'paid' ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(chunks, vec![0, 1, 2]);
}

#[tokio::test]
async fn funnels_in_order_within_the_window_split_by_referral() {
    let f = fixture(&[("ANALYTICS_CACHE_SECONDS", "0")]).await;
    let body = json!({
        "steps": ["app_opened", "kyc_started", "kyc_completed"],
        "windowHours": 72,
        "startDate": day(f.base, 0),
        "endDate": day(f.base, 23),
        "groupBy": "referred",
    });
    let answer = f.funnel(body).await;
    // Opened: U1, U2, U3, U5, U6, U8 (U4 opened after the range). Started within 72 h: U1
    // (2 h), U2 (2 h), U3 (1 h), U5 (0.5 h): median 1.5 h. Completed after starting and
    // within 72 h of opening: U1 (21 h) and U5 (2 h): median 11.5 h. U2 completed before
    // starting, U3 five days later: neither counts.
    let all = steps(&answer);
    assert_eq!(all[0], ("app_opened".into(), 6, None, None));
    assert_eq!((all[1].1, all[2].1), (4, 2));
    assert!(close(all[1].2.unwrap(), 4.0 / 6.0) && close(all[2].2.unwrap(), 0.5));
    assert!(close(all[1].3.unwrap(), 1.5) && close(all[2].3.unwrap(), 11.5), "{answer}");

    // Referred (U5, U6, U8) and organic (U1, U2, U3).
    let referred: Vec<i64> = steps(&answer["groups"]["referred"]).iter().map(|s| s.1).collect();
    let organic: Vec<i64> = steps(&answer["groups"]["organic"]).iter().map(|s| s.1).collect();
    assert_eq!(referred, vec![3, 1, 1]);
    assert_eq!(organic, vec![3, 3, 1]);

    // Nothing in range: zeros.
    let empty =
        f.funnel(json!({"steps": ["app_opened", "kyc_started"], "windowHours": 1, "endDate": "2020-01-01"})).await;
    assert_eq!(steps(&empty).iter().map(|s| s.1).collect::<Vec<_>>(), vec![0, 0]);
}

#[tokio::test]
async fn who_may_read_and_what_is_refused() {
    let f = fixture(&[]).await;
    for path in [
        "/api/analytics/onboarding",
        "/api/analytics/referrals",
        "/api/analytics/events",
        "/api/analytics/notifications",
        "/api/analytics/users",
        "/api/analytics/retention",
    ] {
        assert_eq!(f.app.call(Method::GET, path, Some(&f.user), None).await.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(f.app.call(Method::GET, path, None, None).await.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(f.app.call(Method::GET, path, Some(&f.analyst), None).await.status, StatusCode::OK, "{path}");
    }
    let funnel = json!({"steps": ["a", "b"], "windowHours": 24});
    assert_eq!(
        f.app.json(Method::POST, "/api/analytics/funnels", Some(&f.user), funnel.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.app.json(Method::POST, "/api/analytics/funnels", Some(&f.analyst), funnel).await.status,
        StatusCode::OK
    );

    for (path, field) in [
        ("/api/analytics/onboarding?startDate=yesterday", "startDate"),
        ("/api/analytics/referrals?startDate=-200000-01-01", "startDate"),
        ("/api/referrals/stats?startDate=-200000-01-01", "startDate"),
        ("/api/analytics/users?startDate=1969-12-31", "startDate"),
        ("/api/analytics/users?endDate=1969-12-31T23:59:59Z", "endDate"),
        ("/api/analytics/users?endDate=10000-01-01", "endDate"),
        ("/api/analytics/users?startDate=2026-02-01&endDate=2026-01-01", "endDate"),
        ("/api/analytics/retention?periods=0", "periods"),
        ("/api/analytics/retention?periods=27", "periods"),
        ("/api/analytics/events?interval=hour", ""),
        ("/api/analytics/events?startDate=2020-01-01", "startDate"),
        ("/api/analytics/events?eventName=bad%20name", "eventName"),
    ] {
        let r = f.app.call(Method::GET, path, Some(&f.analyst), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        if !field.is_empty() {
            assert_eq!(r.body["error"]["details"]["field"], field, "{path}");
        }
    }
    for (body, field) in [
        (json!({"steps": ["a"], "windowHours": 24}), "steps"),
        (json!({"steps": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]}), "steps"),
        (json!({"steps": ["a", "b"], "windowHours": 0}), "windowHours"),
        (json!({"steps": ["a", "b"], "windowHours": 721}), "windowHours"),
        (json!({"steps": ["a", "b"], "groupBy": "country"}), "groupBy"),
        (json!({"steps": ["a", "no spaces"]}), "steps"),
    ] {
        let r = f.app.json(Method::POST, "/api/analytics/funnels", Some(&f.analyst), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn answers_are_cached_for_the_configured_time() {
    let f = fixture(&[("ANALYTICS_CACHE_SECONDS", "60")]).await;
    let path = format!("/api/analytics/users?{}", f.signups());
    assert_eq!(f.get(&path).await["totalUsers"], 9);
    f.app
        .pg()
        .await
        .execute("UPDATE users SET created_at = created_at + interval '100 days' WHERE email = 'u1@fixture.test'", &[])
        .await
        .unwrap();
    assert_eq!(f.get(&path).await["totalUsers"], 9, "served from Redis");
    // Another question is computed afresh (and an error is never cached).
    assert_eq!(f.get(&format!("{path}&x=1")).await["totalUsers"], 9, "unknown parameters do not change the key");
    // U1–U10 and the three staff accounts made today.
    assert_eq!(f.get(&format!("/api/analytics/users?startDate={}", day(f.base, 0))).await["newUsers"], 13);
}
