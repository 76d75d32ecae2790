//! A/B experiments: the API's rules, deterministic assignment with one exposure, and
//! results whose every number is worked out by hand below (not recomputed by the code under
//! test).

use chrono::{DateTime, Datelike, Duration, Utc};
use growstack_tests::{TestApp, TestUser};
use http::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

struct Staff {
    app: TestApp,
    admin: TestUser,
    marketer: String,
    analyst: String,
}

async fn staff() -> Staff {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let mut tokens = Vec::new();
    for role in ["marketer", "analyst"] {
        let member = app.user(&app.email(role)).await;
        assert_eq!(app.set_role(&admin.access, &member.id.to_string(), role).await.status, StatusCode::OK);
        let login = app.login(&member.email, &member.password).await;
        tokens.push(login.data()["accessToken"].as_str().unwrap().to_owned());
    }
    let analyst = tokens.pop().unwrap();
    let marketer = tokens.pop().unwrap();
    Staff { app, admin, marketer, analyst }
}

fn definition(key: &str) -> Value {
    json!({
        "key": key,
        "name": "Shorter KYC",
        "variants": [
            {"name": "control", "weight": 0.5, "config": {"flow": "classic"}},
            {"name": "treatment", "weight": 0.5, "config": {"flow": "short"}},
        ],
        "metric": {"eventName": "deposit_made", "windowHours": 168},
    })
}

impl Staff {
    async fn create(&self, body: Value) -> growstack_tests::TestResponse {
        self.app.json(Method::POST, "/api/experiments", Some(&self.marketer), body).await
    }

    async fn patch(&self, id: &str, body: Value) -> growstack_tests::TestResponse {
        self.app.json(Method::PATCH, &format!("/api/experiments/{id}"), Some(&self.marketer), body).await
    }

    /// A new experiment from `body`, started.
    async fn running(&self, body: Value) -> String {
        let r = self.create(body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id = r.data()["experiment"]["id"].as_str().unwrap().to_owned();
        let r = self.patch(&id, json!({"status": "active"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        id
    }

    async fn assign(&self, token: &str, id_or_key: &str) -> growstack_tests::TestResponse {
        self.app.call(Method::GET, &format!("/api/experiments/{id_or_key}/assignment"), Some(token), None).await
    }

    async fn results(&self, token: &str, id: &str) -> growstack_tests::TestResponse {
        self.app.call(Method::GET, &format!("/api/experiments/{id}/results"), Some(token), None).await
    }
}

#[tokio::test]
async fn definitions_are_checked_field_by_field() {
    let s = staff().await;
    let field =
        |r: &growstack_tests::TestResponse| r.body["error"]["details"]["field"].as_str().unwrap_or("").to_owned();

    let mut body = definition("weights");
    body["variants"][1]["weight"] = json!(0.4);
    let r = s.create(body).await;
    assert_eq!((r.status, field(&r).as_str()), (StatusCode::BAD_REQUEST, "variants"), "0.5 + 0.4: {}", r.body);

    let mut body = definition("percent");
    body["variants"][0]["weight"] = json!(10);
    body["variants"][1]["weight"] = json!(90);
    assert_eq!(s.create(body).await.status, StatusCode::CREATED, "weights may sum to 100");

    let cases = [
        ("key", json!("Bad Key")),
        ("variants", json!([{"name": "only", "weight": 1}])),
        ("variants[1].name", json!([{"name": "a", "weight": 0.5}, {"name": "a", "weight": 0.5}])),
        ("variants[0].weight", json!([{"name": "a", "weight": -1}, {"name": "b", "weight": 2}])),
        ("metric.windowHours", json!({"eventName": "deposit_made", "windowHours": 721})),
        ("metric.eventName", json!({"eventName": "has space"})),
        ("targeting.roles[0]", json!({"roles": ["superuser"]})),
        ("endDate", json!("2026-01-01")),
    ];
    for (expected, value) in cases {
        let mut body = definition("fields");
        let slot = expected.split(['.', '[']).next().unwrap();
        match expected {
            "endDate" => {
                body["startDate"] = json!("2026-02-01");
                body["endDate"] = value;
            }
            _ => body[slot] = value,
        }
        let r = s.create(body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{expected}: {}", r.body);
        assert_eq!(field(&r), expected, "{}", r.body);
    }
    assert_eq!(s.app.count("experiments").await, 1, "nothing refused was stored");

    assert_eq!(s.create(definition("unique-key")).await.status, StatusCode::CREATED);
    let r = s.create(definition("unique-key")).await;
    assert_eq!((r.status, field(&r).as_str()), (StatusCode::CONFLICT, "key"), "{}", r.body);

    let user = s.app.user(&s.app.email("plain")).await;
    let r = s.app.json(Method::POST, "/api/experiments", Some(&user.access), definition("by-a-user")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s.app.json(Method::POST, "/api/experiments", Some(&s.analyst), definition("by-an-analyst")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "analysts read experiments, they do not run them");
    let r = s.app.json(Method::POST, "/api/experiments", Some(&s.admin.access), definition("by-an-admin")).await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn status_moves_forward_and_the_split_is_frozen_once_running() {
    let s = staff().await;
    let r = s.create(definition("lifecycle")).await;
    let id = r.data()["experiment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.data()["experiment"]["status"], "draft");

    let r = s.patch(&id, json!({"status": "completed"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "CONFLICT"), "draft straight to completed: {}", r.body);
    let r = s.patch(&id, json!({"status": "paused"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a draft cannot pause");

    let mut variants = definition("x")["variants"].clone();
    variants[0]["weight"] = json!(0.2);
    variants[1]["weight"] = json!(0.8);
    let r = s.patch(&id, json!({"variants": variants})).await;
    assert_eq!(r.status, StatusCode::OK, "a draft may change its split: {}", r.body);
    assert_eq!(r.data()["experiment"]["variants"][0]["weight"], 0.2);

    let r = s.patch(&id, json!({"status": "active"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.data()["experiment"]["startedAt"].is_string());
    let r = s.patch(&id, json!({"variants": definition("x")["variants"]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "running: the split is frozen: {}", r.body);
    let r = s.patch(&id, json!({"metric": {"eventName": "other"}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "running: the metric is frozen");
    let r = s.patch(&id, json!({"status": "draft"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "no way back to draft");
    let r = s.patch(&id, json!({"status": "paused"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let user = s.app.user(&s.app.email("paused")).await;
    assert_eq!(s.assign(&user.access, "lifecycle").await.status, StatusCode::CONFLICT, "paused assigns nobody");
    let r = s.patch(&id, json!({"status": "active"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.assign(&user.access, "lifecycle").await.status, StatusCode::OK, "resumed at once");
    let r = s.patch(&id, json!({"status": "completed", "name": "Shorter KYC (done)"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.data()["experiment"]["completedAt"].is_string());
    assert_eq!(r.data()["experiment"]["name"], "Shorter KYC (done)");
    let r = s.patch(&id, json!({"status": "active"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "completed is final");
    assert_eq!(s.assign(&user.access, "lifecycle").await.status, StatusCode::CONFLICT);

    let r = s.patch(&id, json!({"status": "finished"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = s.app.json(Method::PATCH, &format!("/api/experiments/{id}"), Some(&user.access), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s.patch(&Uuid::now_v7().to_string(), json!({"status": "active"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_see_active_experiments_and_staff_see_all() {
    let s = staff().await;
    s.running(definition("running-one")).await;
    assert_eq!(s.create(definition("still-draft")).await.status, StatusCode::CREATED);
    let user = s.app.user(&s.app.email("lister")).await;

    let r = s.app.call(Method::GET, "/api/experiments?status=draft", Some(&user.access), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let listed = r.data()["experiments"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", r.body);
    assert_eq!(listed[0]["key"], "running-one");
    assert_eq!(listed[0]["variants"], json!(["control", "treatment"]));
    assert!(listed[0].get("seed").is_none() && listed[0].get("targeting").is_none());

    let r = s.app.call(Method::GET, "/api/experiments", Some(&s.analyst), None).await;
    assert_eq!(r.data()["pagination"]["total"], 2, "{}", r.body);
    let r = s.app.call(Method::GET, "/api/experiments?status=draft", Some(&s.analyst), None).await;
    assert_eq!(r.data()["experiments"][0]["key"], "still-draft");
    let r = s.app.call(Method::GET, "/api/experiments?status=nope", Some(&s.analyst), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let id = r_id(&s, "still-draft").await;
    let r = s.app.call(Method::GET, &format!("/api/experiments/{id}"), Some(&s.analyst), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["experiment"]["key"], "still-draft");
    let r = s.app.call(Method::GET, &format!("/api/experiments/{id}"), Some(&user.access), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn r_id(s: &Staff, key: &str) -> String {
    let r = s.app.call(Method::GET, &format!("/api/experiments/{key}"), Some(&s.analyst), None).await;
    r.data()["experiment"]["id"].as_str().unwrap().to_owned()
}

/// The README's SQL for a user's bucket (after "An analyst can recompute it in SQL:"), as
/// written there.
fn readme_bucket_sql() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = readme.split("An analyst can recompute it in SQL:").nth(1).expect("the README gives the SQL");
    after.split('`').nth(1).expect("in backquotes").to_owned()
}

/// The bucket as an analyst would compute it with the README's SQL, independently of the Rust
/// code: over the `experiments` table, with `user_id` a uuid as in `experiment_exposures`.
async fn bucket_in_sql(app: &TestApp, experiment: &str, user: Uuid) -> i64 {
    let sql = format!(
        "SELECT ({})::bigint FROM (SELECT seed, $2::uuid AS user_id FROM experiments WHERE id = $1::text::uuid) e",
        readme_bucket_sql()
    );
    app.pg().await.query_one(&sql, &[&experiment, &user]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_user_gets_one_variant_forever_and_one_exposure() {
    let s = staff().await;
    let id = s.running(definition("sticky")).await;
    let user = s.app.user(&s.app.email("sticky")).await;

    let first = s.assign(&user.access, "sticky").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let variant = first.data()["variant"].as_str().unwrap().to_owned();
    let expected = if bucket_in_sql(&s.app, &id, user.id).await < 5000 { "control" } else { "treatment" };
    assert_eq!(variant, expected, "the documented hash decides");
    assert_eq!(first.data()["experimentId"], id.as_str());
    assert_eq!(first.data()["config"]["flow"], if variant == "control" { "classic" } else { "short" });

    // 49 more times, by key and by id, some at once.
    let calls = (0..49).map(|i| s.assign(&user.access, if i % 2 == 0 { "sticky" } else { id.as_str() }));
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.data()["variant"], variant.as_str());
    }
    assert_eq!(s.app.count("experiment_exposures").await, 1);
    let pg = s.app.pg().await;
    let logged: i64 = pg
        .query_one(
            "SELECT count(*) FROM events WHERE user_id = $1 AND event_name = 'experiment_exposure'
               AND properties->>'variant' = $2 AND properties->>'key' = 'sticky'",
            &[&user.id, &variant],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(logged, 1, "one exposure event");

    let r = s.assign(&user.access, "no-such-experiment").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s.assign(&user.access, "Not_A_Key").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(s.app.call(Method::GET, "/api/experiments/sticky/assignment", None, None).await.status, 401);
}

#[tokio::test]
async fn targeting_leaves_others_out_without_an_exposure() {
    let s = staff().await;
    let mut body = definition("kyc-done-only");
    body["targeting"] = json!({"onboardingSteps": ["kyc_complete"], "referred": false});
    s.running(body).await;
    let mut body = definition("analysts-only");
    body["targeting"] = json!({"roles": ["analyst"]});
    s.running(body).await;

    let user = s.app.user(&s.app.email("new")).await;
    let r = s.assign(&user.access, "kyc-done-only").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["variant"], Value::Null);
    assert_eq!(r.data()["reason"], "not targeted");
    let r = s.assign(&user.access, "analysts-only").await;
    assert_eq!(r.data()["reason"], "not targeted");
    assert_eq!(s.app.count("experiment_exposures").await, 0);

    s.app
        .pg()
        .await
        .execute("UPDATE users SET onboarding_step = 'kyc_complete' WHERE id = $1", &[&user.id])
        .await
        .unwrap();
    let r = s.assign(&user.access, "kyc-done-only").await;
    let variant = r.data()["variant"].clone();
    assert!(variant.is_string(), "{}", r.body);
    // A participant stays in whatever changes since, in a process that remembers them or not.
    s.app
        .pg()
        .await
        .execute("UPDATE users SET referred_by = $1 WHERE id = $2", &[&s.admin.id, &user.id])
        .await
        .unwrap();
    let id = r.data()["experimentId"].as_str().unwrap().to_owned();
    s.app.state.exposed.remove(&format!("{id}:{}", user.id));
    assert_eq!(s.assign(&user.access, "kyc-done-only").await.data()["variant"], variant);
    assert!(s.assign(&s.analyst, "analysts-only").await.data()["variant"].is_string());
    assert_eq!(s.app.count("experiment_exposures").await, 2);
}

#[tokio::test]
async fn dates_bound_when_an_experiment_assigns() {
    let s = staff().await;
    let mut later = definition("starts-tomorrow");
    later["startDate"] = json!((Utc::now() + Duration::days(1)).to_rfc3339());
    s.running(later).await;
    let mut over = definition("ended");
    over["startDate"] = json!("2026-01-01");
    over["endDate"] = json!((Utc::now() - Duration::hours(1)).to_rfc3339());
    s.running(over).await;
    let user = s.app.user(&s.app.email("dated")).await;
    let r = s.assign(&user.access, "starts-tomorrow").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(s.assign(&user.access, "ended").await.status, StatusCode::CONFLICT);
}

/// `n` users made in one statement, in order.
async fn users(app: &TestApp, n: usize) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    app.pg()
        .await
        .execute(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code)
             SELECT id, 'p' || i || '@results.test', 'x', 'P', i::text, 'R' || lpad(i::text, 5, '0')
             FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, i)",
            &[&ids],
        )
        .await
        .unwrap();
    ids
}

/// Exposes `who` to `variant` at `at`, as data imported would be.
async fn expose(app: &TestApp, experiment: &str, who: &[Uuid], variant: &str, at: DateTime<Utc>) {
    app.pg()
        .await
        .execute(
            "INSERT INTO experiment_exposures (experiment_id, user_id, variant, exposed_at)
             SELECT $1::text::uuid, unnest($2::uuid[]), $3, $4",
            &[&experiment, &who, &variant, &at],
        )
        .await
        .unwrap();
}

async fn track(app: &TestApp, who: &[Uuid], name: &str, at: DateTime<Utc>) {
    app.pg()
        .await
        .execute(
            "INSERT INTO events (id, user_id, event_name, occurred_at, source, activity)
             SELECT gen_random_uuid(), unnest($1::uuid[]), $2, $3, 'client', true",
            &[&who, &name, &at],
        )
        .await
        .unwrap();
}

async fn partitions_since(app: &TestApp, from: DateTime<Utc>) {
    let pg = app.pg().await;
    let mut month = from.date_naive().with_day(1).unwrap();
    while month <= Utc::now().date_naive() {
        let next = month.checked_add_months(chrono::Months::new(1)).unwrap();
        let name = growstack::events::partitions::name(month);
        pg.execute("SELECT growstack_ensure_events_partition($1, $2, $3)", &[&name, &month, &next]).await.unwrap();
        month = next;
    }
}

fn close(value: &Value, expected: f64, tolerance: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() <= tolerance)
}

/// Control 100 of 1000 converted, treatment 130 of 1000. Worked by hand: lift 0.30; pooled
/// p 0.115, SE 0.014267, z 2.1027, p-value 0.0355; unpooled SE 0.014251, ci95 0.03 ± 1.96 ×
/// 0.014251 = [0.0021, 0.0579]; chance to beat control ≈ Φ(2.105) ≈ 0.982. 1000 vs 1000 at
/// 50/50: χ² 0, no mismatch. Besides: two control users whose deposit came an hour before
/// their exposure and 200 hours after it (past the 168-hour window) do not count; three
/// users exposed to both variants (all of whom deposited) are excluded from everything.
#[tokio::test]
async fn results_match_the_hand_computed_numbers() {
    let s = staff().await;
    let id = s.running(definition("deposits")).await;
    let exposed_at = Utc::now() - Duration::days(12);
    partitions_since(&s.app, exposed_at - Duration::days(1)).await;
    let people = users(&s.app, 2003).await;
    let (control, rest) = people.split_at(1000);
    let (treatment, both) = rest.split_at(1000);
    expose(&s.app, &id, control, "control", exposed_at).await;
    expose(&s.app, &id, treatment, "treatment", exposed_at).await;
    expose(&s.app, &id, both, "control", exposed_at).await;
    expose(&s.app, &id, both, "treatment", exposed_at + Duration::hours(1)).await;
    let after = exposed_at + Duration::hours(2);
    track(&s.app, &control[..100], "deposit_made", after).await;
    track(&s.app, &treatment[..130], "deposit_made", after).await;
    track(&s.app, both, "deposit_made", after).await;
    track(&s.app, &control[100..101], "deposit_made", exposed_at - Duration::hours(1)).await;
    track(&s.app, &control[101..102], "deposit_made", exposed_at + Duration::hours(200)).await;
    track(&s.app, &control[102..103], "app_opened", after).await;

    let r = s.results(&s.analyst, &id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let results = &r.data()["results"];
    assert_eq!(results["key"], "deposits");
    assert_eq!(results["metric"], json!({"eventName": "deposit_made", "windowHours": 168, "source": "any"}));
    assert_eq!(results["totalParticipants"], 2000, "{results}");
    assert_eq!(results["excludedUsers"], 3);
    let control = &results["variants"][0];
    assert_eq!((control["name"].as_str(), control["participants"].as_i64()), (Some("control"), Some(1000)));
    assert_eq!(control["conversions"], 100, "before exposure and after the window do not count: {control}");
    assert!(close(&control["conversionRate"], 0.10, 1e-12));
    for field in ["lift", "ci95", "pValue", "chanceToBeatControl"] {
        assert_eq!(control[field], Value::Null, "control against itself: {field}");
    }
    let treatment = &results["variants"][1];
    assert_eq!((treatment["participants"].as_i64(), treatment["conversions"].as_i64()), (Some(1000), Some(130)));
    assert!(close(&treatment["conversionRate"], 0.13, 1e-12));
    assert!(close(&treatment["lift"], 0.30, 1e-9), "{treatment}");
    assert!(close(&treatment["pValue"], 0.0355, 0.0005), "{treatment}");
    assert!(
        close(&treatment["ci95"][0], 0.0021, 0.0001) && close(&treatment["ci95"][1], 0.0579, 0.0001),
        "{treatment}"
    );
    assert!(close(&treatment["chanceToBeatControl"], 0.982, 0.003), "{treatment}");
    assert_eq!(results["srm"]["mismatch"], false);
    assert!(close(&results["srm"]["chiSquare"], 0.0, 1e-12));

    let user = s.app.user(&s.app.email("curious")).await;
    assert_eq!(s.results(&user.access, &id).await.status, StatusCode::FORBIDDEN);
    assert_eq!(s.results(&s.marketer, "deposits").await.status, StatusCode::OK, "by key too");
}

/// 1000 vs 800 at 50/50: expected 900 each, χ² = 2 × 100²/900 = 22.2, p ≈ 2.4e-6 → mismatch.
/// 1000 vs 990: χ² = 2 × 5²/995 = 0.050, p ≈ 0.82 → none.
#[tokio::test]
async fn a_broken_split_is_flagged() {
    let s = staff().await;
    let broken = s.running(definition("broken-split")).await;
    let fine = s.running(definition("fine-split")).await;
    let people = users(&s.app, 2000).await;
    let at = Utc::now() - Duration::hours(1);
    expose(&s.app, &broken, &people[..1000], "control", at).await;
    expose(&s.app, &broken, &people[1000..1800], "treatment", at).await;
    expose(&s.app, &fine, &people[..1000], "control", at).await;
    expose(&s.app, &fine, &people[1000..1990], "treatment", at).await;

    let r = s.results(&s.analyst, &broken).await;
    let srm = &r.data()["results"]["srm"];
    assert!(close(&srm["chiSquare"], 22.222, 0.001), "{srm}");
    assert!(srm["pValue"].as_f64().unwrap() < 1e-5);
    assert_eq!(srm["mismatch"], true);
    let r = s.results(&s.analyst, &fine).await;
    let srm = &r.data()["results"]["srm"];
    assert!(close(&srm["chiSquare"], 0.0503, 0.0001), "{srm}");
    assert_eq!(srm["mismatch"], false);
    let treatment = &r.data()["results"]["variants"][1];
    assert_eq!(treatment["pValue"], 1.0, "no conversions in either arm, no difference: {treatment}");
    assert_eq!(treatment["lift"], Value::Null, "no lift over a control rate of 0");
}

#[tokio::test]
async fn a_token_outliving_its_account_is_refused_not_a_500() {
    let s = staff().await;
    s.running(definition("gone")).await;
    let user = s.app.user(&s.app.email("gone")).await;
    s.app.pg().await.execute("DELETE FROM users WHERE id = $1", &[&user.id]).await.unwrap();
    let r = s.assign(&user.access, "gone").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(s.app.count("experiment_exposures").await, 0);
}

/// The power calculator through the API: the numbers the statistics give (checked against
/// statsmodels in stats.rs), rounded up, with the days at a daily traffic; staff only; every
/// out-of-range input a 400 naming its field.
#[tokio::test]
async fn the_power_calculator_says_how_many_and_how_long() {
    let s = staff().await;
    let power = |token: String, body: Value| {
        let app = &s.app;
        async move { app.json(Method::POST, "/api/experiments/power", Some(&token), body).await }
    };
    // 10 % to 11 %: 14748.05 per variant → 14749; 29498 at 1,000 a day → 30 days.
    let r =
        power(s.analyst.clone(), json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0.1, "dailyTraffic": 1000 }))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.data(),
        &json!({ "participantsPerVariant": 14749, "totalParticipants": 29498, "days": 30, "alphaPerComparison": 0.05 })
    );
    // Three variants: α/2 each, 17859.96 → 17860 each.
    let r =
        power(s.marketer.clone(), json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0.1, "variants": 3 })).await;
    assert_eq!((r.data()["participantsPerVariant"].as_u64(), r.data()["days"].is_null()), (Some(17860), true));
    assert_eq!(r.data()["alphaPerComparison"], 0.025);
    // A mean of 100, sd 20, 5 % up: 251.16 → 252.
    let r = power(
        s.admin.access.clone(),
        json!({ "baselineMean": 100, "stdDev": 20, "minimumDetectableEffect": 0.05, "alpha": 0.05, "power": 0.8 }),
    )
    .await;
    assert_eq!(r.data()["participantsPerVariant"], 252, "{}", r.body);

    let user = s.app.user(&s.app.email("user")).await;
    assert_eq!(power(user.access, json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0.1 })).await.status, 403);
    for (body, field) in [
        (json!({ "baselineRate": 1.0, "minimumDetectableEffect": 0.1 }), Some("baselineRate")),
        (json!({ "baselineRate": 0.6, "minimumDetectableEffect": 1.0 }), Some("minimumDetectableEffect")),
        (json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0 }), Some("minimumDetectableEffect")),
        (json!({ "baselineRate": 0.1, "minimumDetectableEffect": -1 }), Some("minimumDetectableEffect")),
        (json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0.1, "alpha": 0 }), Some("alpha")),
        (json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0.1, "power": 1 }), Some("power")),
        (json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0.1, "variants": 11 }), Some("variants")),
        (json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0.1, "dailyTraffic": 0.5 }), Some("dailyTraffic")),
        // What schemathesis found: a vanishing alpha needs more participants than exist.
        (json!({ "baselineRate": 0.1, "minimumDetectableEffect": 0.05, "alpha": 5e-324, "dailyTraffic": 1 }), None),
        (json!({ "baselineMean": 100, "stdDev": 20, "minimumDetectableEffect": 1e-300 }), None),
        (json!({ "baselineMean": 100, "stdDev": 0, "minimumDetectableEffect": 0.1 }), Some("stdDev")),
        (json!({ "baselineMean": 100, "minimumDetectableEffect": 0.1 }), None),
        (json!({ "baselineRate": 0.1, "baselineMean": 100, "stdDev": 2, "minimumDetectableEffect": 0.1 }), None),
    ] {
        let r = power(s.analyst.clone(), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["field"].as_str(), field, "{body}: {}", r.body);
    }
}
