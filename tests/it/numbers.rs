//! The numbers are the numbers of what users did (#25): every accepted event counts in every
//! answer, late or not, before and after the rollups run; what GrowStack does to users (mail,
//! nudges, reminders) is not their activity; GrowStack's own event names cannot be sent; and
//! one user cannot flood ingestion.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use growstack::scheduler::Task;
use growstack_tests::{TestApp, TestResponse, TestUser};
use http::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// xorshift64*: reproducible randomness without a dependency; the seed is printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

async fn batch(app: &TestApp, token: &str, events: Vec<Value>) -> TestResponse {
    app.json(Method::POST, "/api/events/batch", Some(token), json!({ "events": events })).await
}

async fn track(app: &TestApp, token: &str, body: Value) -> TestResponse {
    app.json(Method::POST, "/api/events/track", Some(token), body).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let r = app.call(Method::GET, path, Some(token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.data().clone()
}

async fn rollup(app: &TestApp) {
    app.state.scheduler().run(&[Task::EventsRollup]).await.unwrap();
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// `GET /api/analytics/events` over `[from, to]` by day, against a count from the raw events:
/// events per day and name, and distinct users per day and over the range — users with any
/// activity without `name`, users who did `name` with it.
async fn events_match_a_recount(app: &TestApp, token: &str, from: NaiveDate, to: NaiveDate, name: Option<&str>) {
    let path = format!(
        "/api/analytics/events?startDate={from}&endDate={to}{}",
        name.map(|n| format!("&eventName={n}")).unwrap_or_default()
    );
    let answer = get(app, token, &path).await;
    let pg = app.pg().await;
    let range = "occurred_at >= $1::date::timestamp AT TIME ZONE 'UTC' AND occurred_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
                 AND ($3::text IS NULL OR event_name = $3)";
    let who = "($3::text IS NULL AND activity OR event_name = $3)";
    let per_day = pg
        .query(
            &format!(
                "SELECT (occurred_at AT TIME ZONE 'UTC')::date, count(*),
                        count(DISTINCT user_id) FILTER (WHERE {who})
                 FROM events WHERE {range} GROUP BY 1"
            ),
            &[&from, &to, &name],
        )
        .await
        .unwrap();
    let by_name = pg
        .query(&format!("SELECT event_name, count(*) FROM events WHERE {range} GROUP BY 1"), &[&from, &to, &name])
        .await
        .unwrap();
    let users: i64 = pg
        .query_one(&format!("SELECT count(DISTINCT user_id) FROM events WHERE {range} AND {who}"), &[&from, &to, &name])
        .await
        .unwrap()
        .get(0);
    let mut day = from;
    for period in answer["timeSeries"].as_array().unwrap() {
        let row = per_day.iter().find(|r| r.get::<_, NaiveDate>(0) == day);
        let (events, users) = row.map_or((0, 0), |r| (r.get::<_, i64>(1), r.get::<_, i64>(2)));
        assert_eq!(period["period"], day.to_string());
        assert_eq!((period["events"].as_i64(), period["users"].as_i64()), (Some(events), Some(users)), "{path}: {day}");
        day = day.succ_opt().unwrap();
    }
    assert_eq!(day, to.succ_opt().unwrap(), "every day of the range");
    let total: i64 = by_name.iter().map(|r| r.get::<_, i64>(1)).sum();
    assert_eq!(answer["totalEvents"], total, "{path}");
    assert_eq!(answer["uniqueUsers"], users, "{path}");
    for r in &by_name {
        assert_eq!(answer["eventCounts"][r.get::<_, &str>(0)], r.get::<_, i64>(1), "{path}");
    }
}

/// `GET /api/analytics/retention` (weekly cohorts) for users who signed up since `from`,
/// against a recount from `users` and the raw activity events.
async fn retention_matches_a_recount(app: &TestApp, token: &str, from: NaiveDate) {
    let answer = get(app, token, &format!("/api/analytics/retention?startDate={from}&periods=8")).await;
    let pg = app.pg().await;
    let signed_up = "SELECT id, (created_at AT TIME ZONE 'UTC')::date AS d FROM users
                     WHERE created_at >= $1::date::timestamp AT TIME ZONE 'UTC'";
    let rates = pg
        .query(
            &format!(
                "SELECT n.days, count(*) FILTER (WHERE u.d <= (now() AT TIME ZONE 'UTC')::date - n.days),
                        count(*) FILTER (WHERE u.d <= (now() AT TIME ZONE 'UTC')::date - n.days AND EXISTS (
                            SELECT 1 FROM events e WHERE e.user_id = u.id AND e.activity
                              AND (e.occurred_at AT TIME ZONE 'UTC')::date >= u.d + n.days))
                 FROM ({signed_up}) u CROSS JOIN (VALUES (7), (30), (90)) n(days) GROUP BY 1 ORDER BY 1"
            ),
            &[&from],
        )
        .await
        .unwrap();
    for (row, key) in rates.iter().zip(["7d", "30d", "90d"]) {
        let (eligible, back): (i64, i64) = (row.get(1), row.get(2));
        let expected = if eligible == 0 { 0.0 } else { back as f64 / eligible as f64 };
        let got = answer["retentionRates"][key].as_f64().unwrap();
        assert!((got - expected).abs() < 1e-12, "{key}: {got} against {back}/{eligible}");
    }
    let triangle = pg
        .query(
            &format!(
                "WITH u AS ({signed_up}), c AS (SELECT id, date_trunc('week', d)::date AS start FROM u)
                 SELECT c.start, 0, count(*) FROM c GROUP BY 1
                 UNION ALL
                 SELECT c.start, (date_trunc('week', e.occurred_at AT TIME ZONE 'UTC')::date - c.start) / 7,
                        count(DISTINCT c.id)
                 FROM c JOIN events e ON e.user_id = c.id AND e.activity
                 WHERE date_trunc('week', e.occurred_at AT TIME ZONE 'UTC')::date > c.start
                 GROUP BY 1, 2"
            ),
            &[&from],
        )
        .await
        .unwrap();
    for cohort in answer["cohorts"].as_array().unwrap() {
        let start: NaiveDate = cohort["start"].as_str().unwrap().parse().unwrap();
        for (k, got) in cohort["retained"].as_array().unwrap().iter().enumerate() {
            let expected = triangle
                .iter()
                .find(|r| r.get::<_, NaiveDate>(0) == start && r.get::<_, i32>(1) == k as i32)
                .map_or(0, |r| r.get::<_, i64>(2));
            assert_eq!(got.as_i64(), Some(expected), "cohort {start}, period {k}");
        }
    }
}

/// Users, signed up on days spread over the last four weeks (set before any rollup, as if
/// they had signed up then).
async fn users_spread_over_four_weeks(app: &TestApp, rng: &mut Rng, n: usize) -> Vec<TestUser> {
    let mut users = Vec::new();
    for i in 0..n {
        users.push(app.user(&app.email(&format!("u{i}"))).await);
    }
    let pg = app.pg().await;
    for user in &users {
        let hours = rng.below(28 * 24) as i32;
        pg.execute(
            "UPDATE users SET created_at = now() - make_interval(hours => $2) WHERE id = $1",
            &[&user.id, &hours],
        )
        .await
        .unwrap();
    }
    users
}

/// An event a mobile app would send: any time in the accepted window (up to 7 days old, a
/// little in the future), sometimes with an event id sent before.
fn app_event(rng: &mut Rng, sent_ids: &mut Vec<String>) -> Value {
    let name = ["app_opened", "deposit_made", "screen_viewed"][rng.below(3) as usize];
    let seconds = rng.below(7 * 24 * 3600 - 600) as i64;
    let at = if rng.chance(5) { Utc::now() + Duration::seconds(60) } else { Utc::now() - Duration::seconds(seconds) };
    let id = if !sent_ids.is_empty() && rng.chance(15) {
        sent_ids[rng.below(sent_ids.len() as u64) as usize].clone()
    } else {
        let id = Uuid::now_v7().to_string();
        sent_ids.push(id.clone());
        id
    };
    json!({ "eventName": name, "eventId": id, "timestamp": at.to_rfc3339(), "properties": { "n": rng.below(10) } })
}

#[tokio::test]
async fn every_answer_equals_a_recount_whatever_the_lateness_and_whenever_the_rollups_run() {
    let seed = Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64 | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let app = TestApp::spawn_with(&[("ANALYTICS_CACHE_SECONDS", "0"), ("EVENTS_PER_USER_PER_MINUTE", "100000")]).await;
    let admin = app.admin().await;
    let users = users_spread_over_four_weeks(&app, &mut rng, 8).await;
    let mut sent: Vec<Vec<String>> = vec![Vec::new(); users.len()];
    let (from, to) = (today() - Duration::days(8), today());
    for round in 0..10 {
        for (i, user) in users.iter().enumerate() {
            if !rng.chance(70) {
                continue;
            }
            let n = 1 + rng.below(25) as usize;
            let events: Vec<Value> = (0..n).map(|_| app_event(&mut rng, &mut sent[i])).collect();
            let r = batch(&app, &user.access, events).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
        if rng.chance(30) {
            app.state.scheduler().run(&[Task::InactivityNudges, Task::KycReminders]).await.unwrap();
            app.run_workers().await;
        }
        if rng.chance(50) {
            rollup(&app).await;
        }
        // Before a rollup as after one, and on any day: the answers are the raw events'.
        let context = format!("seed {seed}, round {round}");
        println!("{context}");
        events_match_a_recount(&app, &admin.access, from, to, None).await;
        events_match_a_recount(&app, &admin.access, from, to, Some("deposit_made")).await;
        retention_matches_a_recount(&app, &admin.access, today() - Duration::days(28)).await;
    }
    rollup(&app).await;
    rollup(&app).await;
    events_match_a_recount(&app, &admin.access, from, to, None).await;
    retention_matches_a_recount(&app, &admin.access, today() - Duration::days(28)).await;
    let pending: i64 = app.pg().await.query_one("SELECT count(*) FROM rollup_late_days", &[]).await.unwrap().get(0);
    assert_eq!(pending, 0, "the rollups took every late day");
}

#[tokio::test]
async fn an_event_three_days_late_counts_on_its_day_before_and_after_the_rollup() {
    let app = TestApp::spawn_with(&[("ANALYTICS_CACHE_SECONDS", "0")]).await;
    let admin = app.admin().await;
    let user = app.user(&app.email("late")).await;
    rollup(&app).await;
    let at = Utc::now() - Duration::days(3);
    let day = at.date_naive();
    let r = track(&app, &user.access, json!({ "eventName": "late_probe", "timestamp": at.to_rfc3339() })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let path = format!("/api/analytics/events?eventName=late_probe&startDate={day}&endDate={day}");
    let counts = |a: &Value| (a["totalEvents"].as_i64().unwrap(), a["uniqueUsers"].as_i64().unwrap());
    assert_eq!(counts(&get(&app, &admin.access, &path).await), (1, 1), "before the rollup");
    rollup(&app).await;
    assert_eq!(counts(&get(&app, &admin.access, &path).await), (1, 1), "after it");
    let stored: i64 = app
        .pg()
        .await
        .query_one("SELECT events FROM event_counts_daily WHERE day = $1 AND event_name = 'late_probe'", &[&day])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1, "the rollup counted the day again");
}

#[tokio::test]
async fn growstacks_own_event_names_are_refused_from_clients() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("forger")).await;
    for name in growstack::events::lifecycle::reserved_names() {
        let r = track(&app, &user.access, json!({ "eventName": name })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["field"], "eventName");
    }
    let r = batch(
        &app,
        &user.access,
        vec![
            json!({ "eventName": "app_opened" }),
            json!({ "eventName": "referral_completed" }),
            json!({ "eventName": "experiment_exposure" }),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["accepted"], 1);
    let rejected: Vec<i64> =
        r.data()["rejected"].as_array().unwrap().iter().map(|x| x["index"].as_i64().unwrap()).collect();
    assert_eq!(rejected, vec![1, 2]);
    // Where each stored event came from: the app's from the client, sign-up's from us.
    let rows = app
        .pg()
        .await
        .query("SELECT event_name, source, activity FROM events WHERE user_id = $1 ORDER BY event_name", &[&user.id])
        .await
        .unwrap();
    let rows: Vec<(String, String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert!(rows.contains(&("app_opened".into(), "client".into(), true)), "{rows:?}");
    assert!(rows.contains(&("user_registered".into(), "system".into(), true)), "{rows:?}");
    assert!(rows.iter().all(|(name, source, _)| name != "referral_completed" || source == "system"));
    // The document lists them.
    let document = growstack::app::openapi_json();
    assert!(document.contains("referral_reward_claimed") && document.contains("experiment_exposure"));
}

/// Users who signed up 35 days ago and have done nothing since.
async fn dormant_users(app: &TestApp, names: &[&str]) -> Vec<TestUser> {
    let mut users = Vec::new();
    for name in names {
        users.push(app.user(&app.email(name)).await);
    }
    let pg = app.pg().await;
    for user in &users {
        pg.execute("DELETE FROM events WHERE user_id = $1", &[&user.id]).await.unwrap();
        pg.execute(
            "UPDATE users SET created_at = now() - interval '35 days', last_active_at = now() - interval '35 days'
             WHERE id = $1",
            &[&user.id],
        )
        .await
        .unwrap();
    }
    users
}

#[tokio::test]
async fn mail_nudges_and_reminders_are_not_activity_and_what_users_do_is() {
    let app = TestApp::spawn_with(&[("ANALYTICS_CACHE_SECONDS", "0")]).await;
    let admin = app.admin().await;
    let users = dormant_users(&app, &["a", "b", "c", "d"]).await;
    let from = today() - Duration::days(36);
    let retention = format!("/api/analytics/retention?startDate={from}&endDate={}", today() - Duration::days(34));
    let before = get(&app, &admin.access, &retention).await;
    assert_eq!(before["totalUsers"], 4);
    assert_eq!((before["activeUsers"].as_i64(), before["retentionRates"]["7d"].as_f64()), (Some(0), Some(0.0)));

    // D did something yesterday, from an app that was offline until now.
    let yesterday = Utc::now() - Duration::days(1);
    let r =
        track(&app, &users[3].access, json!({ "eventName": "app_opened", "timestamp": yesterday.to_rfc3339() })).await;
    assert_eq!(r.status, StatusCode::CREATED);

    // We mail everyone we may: nudges, KYC reminders and the mail they send.
    app.state.scheduler().run(&[Task::InactivityNudges, Task::KycReminders]).await.unwrap();
    app.run_workers().await;
    rollup(&app).await;
    let pg = app.pg().await;
    let nudged: Vec<Uuid> = pg
        .query("SELECT user_id FROM nudges WHERE kind = 'inactivity'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let ours: i64 =
        pg.query_one("SELECT count(*) FROM events WHERE source = 'system' AND NOT activity", &[]).await.unwrap().get(0);
    assert!(ours >= 6, "the nudges, reminders and mails are recorded ({ours})");
    assert!(nudged.contains(&users[0].id) && nudged.contains(&users[2].id), "{nudged:?}");
    assert!(!nudged.contains(&users[3].id), "a user who did something yesterday is not inactive");

    // None of it moved A, B or C: only D is active and retained.
    let after = get(&app, &admin.access, &retention).await;
    assert_eq!(after["activeUsers"], 1, "{after}");
    assert!((after["retentionRates"]["7d"].as_f64().unwrap() - 0.25).abs() < 1e-12, "{after}");
    assert!((after["retentionRates"]["30d"].as_f64().unwrap() - 0.25).abs() < 1e-12, "{after}");
    let users_answer = get(&app, &admin.access, "/api/analytics/users").await;
    let active_before: i64 = users_answer["activeUsers"].as_i64().unwrap();
    // A tracks an event now: active from this moment.
    assert_eq!(track(&app, &users[0].access, json!({ "eventName": "app_opened" })).await.status, StatusCode::CREATED);
    let users_answer = get(&app, &admin.access, "/api/analytics/users").await;
    assert_eq!(users_answer["activeUsers"], active_before + 1);
    let last_active = |id: Uuid| {
        let pg = &pg;
        async move {
            let at: Option<DateTime<Utc>> =
                pg.query_one("SELECT last_active_at FROM users WHERE id = $1", &[&id]).await.unwrap().get(0);
            at.is_some_and(|t| Utc::now() - t < Duration::minutes(1))
        }
    };
    assert!(last_active(users[0].id).await);
    // What GrowStack records of a user's own doing moves it too: B changes their name.
    assert!(!last_active(users[1].id).await);
    let r = app.update_profile(&users[1].access, json!({ "firstName": "Bea" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(last_active(users[1].id).await);
    // Our mail to C did not.
    assert!(!last_active(users[2].id).await);
}

#[tokio::test]
async fn one_user_cannot_flood_ingestion() {
    let app = TestApp::spawn_with(&[("EVENTS_PER_USER_PER_MINUTE", "50")]).await;
    let user = app.user(&app.email("flood")).await;
    let other = app.user(&app.email("calm")).await;
    let pg = app.pg().await;
    let stored = |id: Uuid| {
        let pg = &pg;
        async move {
            pg.query_one("SELECT count(*) FROM events WHERE user_id = $1 AND source = 'client'", &[&id])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    let forty: Vec<Value> = (0..40).map(|i| json!({ "eventName": "tap", "properties": { "i": i } })).collect();
    early_in_a_minute().await;
    assert_eq!(batch(&app, &user.access, forty.clone()).await.status, StatusCode::OK);
    // Forty more do not fit in the ten left: none is stored, and the answer says when to retry.
    let r = batch(&app, &user.access, forty).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(stored(user.id).await, 40);
    // Sent at once, track requests get no more than the ten left; what a burst's requests
    // took but did not use is not lost to the ones after it.
    let answers =
        futures::future::join_all((0..30).map(|_| track(&app, &user.access, json!({ "eventName": "tap" })))).await;
    assert!(answers.iter().all(|r| [StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS].contains(&r.status)));
    let created = answers.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert!((1..=10).contains(&created), "{created}");
    assert_eq!(created + tracked_until_refused(&app, &user.access).await, 10);
    assert_eq!(stored(user.id).await, 50);
    // Others are not held back.
    assert_eq!(track(&app, &other.access, json!({ "eventName": "tap" })).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn with_redis_away_the_ingestion_budget_still_holds() {
    let app = TestApp::spawn_with(&[
        ("EVENTS_PER_USER_PER_MINUTE", "20"),
        ("REDIS_URL", &format!("redis://127.0.0.1:{}", growstack_tests::free_port())),
    ])
    .await;
    let user = app.user(&app.email("flood-no-redis")).await;
    early_in_a_minute().await;
    let answers =
        futures::future::join_all((0..30).map(|_| track(&app, &user.access, json!({ "eventName": "tap" })))).await;
    let created = answers.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert!((1..=20).contains(&created), "{created}");
    assert_eq!(created + tracked_until_refused(&app, &user.access).await, 20);
}

/// Waits, when the current minute is past its 40th second, for the next one: the budget is
/// counted in whole minutes of the clock, and a test that straddled two would see two budgets.
async fn early_in_a_minute() {
    use chrono::Timelike;
    let second = Utc::now().second();
    if second > 40 {
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(61 - second) * 1000)).await;
    }
}

/// Tracks one event after another until the answer is 429: how many were stored.
async fn tracked_until_refused(app: &TestApp, token: &str) -> usize {
    for stored in 0..1000 {
        let r = track(app, token, json!({ "eventName": "tap" })).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            return stored;
        }
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    panic!("no limit");
}

#[tokio::test]
async fn funnel_steps_stamped_the_same_instant_count() {
    let app = TestApp::spawn_with(&[("ANALYTICS_CACHE_SECONDS", "0")]).await;
    let admin = app.admin().await;
    let user = app.user(&app.email("same-second")).await;
    let at = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let events = vec![
        json!({ "eventName": "signup_started", "timestamp": at }),
        json!({ "eventName": "signup_done", "timestamp": at }),
        json!({ "eventName": "tap", "timestamp": at }),
    ];
    assert_eq!(batch(&app, &user.access, events).await.data()["accepted"], 3);
    let funnel = |steps: Value| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let body = json!({ "steps": steps, "windowHours": 24, "startDate": today() - Duration::days(1) });
            let r = app.json(Method::POST, "/api/analytics/funnels", Some(&token), body).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.data()["steps"].as_array().unwrap().iter().map(|s| s["users"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(funnel(json!(["signup_started", "signup_done"])).await, vec![1, 1]);
    // The same event twice is two events, not one counted twice.
    assert_eq!(funnel(json!(["tap", "tap"])).await, vec![1, 0]);
}

#[tokio::test]
async fn ranges_that_start_after_today_or_end_before_they_start_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let tomorrow = today() + Duration::days(1);
    for path in [
        format!("/api/analytics/events?startDate={tomorrow}"),
        "/api/analytics/retention?startDate=9999-12-31".to_owned(),
        "/api/analytics/users?startDate=9999-12-31".to_owned(),
        format!("/api/events?startDate={tomorrow}"),
    ] {
        let r = app.call(Method::GET, &path, Some(&admin.access), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["field"], "startDate", "{path}");
    }
    let r = app
        .call(Method::GET, "/api/analytics/events?startDate=2026-03-02&endDate=2026-03-01", Some(&admin.access), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["field"], "endDate");
    // A range ending on the first day there is holds no day before it.
    let r = app.call(Method::GET, "/api/analytics/events?endDate=1970-01-01", Some(&admin.access), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let first = &r.data()["timeSeries"][0]["period"];
    assert_eq!(first, "1970-01-01");
}
