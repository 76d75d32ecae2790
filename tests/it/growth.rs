//! Referrals and onboarding: the whole story across two users, concurrent claims, fraud
//! checks, the referral tree, the funnel's order, and stats checked against numbers
//! computed by hand from a fixture of 1,200 users.

use growstack_tests::{emails_to, TestApp, TestUser};
use http::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn code_of(app: &TestApp, user: &TestUser) -> String {
    let r = app.call(Method::GET, "/api/referrals/code", Some(&user.access), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.data()["code"].as_str().unwrap().to_owned()
}

/// Registers with a referral code and, when that worked, verifies the address.
async fn register_referred(app: &TestApp, email: &str, code: &str, extra: Value) -> growstack_tests::TestResponse {
    let mut body = TestApp::registration(email);
    body["referralCode"] = json!(code);
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.register(body).await;
    if r.status == StatusCode::CREATED {
        app.verify(r.data()["user"]["id"].as_str().unwrap().parse().unwrap()).await;
    }
    r
}

fn subjects(emails: &[Value]) -> Vec<String> {
    emails.iter().map(|e| e["subject"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn the_whole_referral_story() {
    let app = TestApp::spawn_with(&[("REFERRED_REWARD_AMOUNT", "100.00")]).await;
    let ada = app.user(&app.email("ada")).await;
    let code = code_of(&app, &ada).await;
    let r = app.call(Method::GET, "/api/referrals/link", Some(&ada.access), None).await;
    assert_eq!(r.data()["link"], format!("http://localhost:3000/r/{code}"));

    // Ada invites Grace; the invitation goes out by email, once per window.
    let grace_email = app.email("grace");
    let r = app.json(Method::POST, "/api/referrals", Some(&ada.access), json!({ "email": grace_email })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.data()["status"], "pending");
    let again = app.json(Method::POST, "/api/referrals", Some(&ada.access), json!({ "email": grace_email })).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let own = app.json(Method::POST, "/api/referrals", Some(&ada.access), json!({ "email": ada.email })).await;
    assert_eq!(own.status, StatusCode::BAD_REQUEST);
    app.run_workers().await;
    let invitation = emails_to(&grace_email).await;
    assert_eq!(subjects(&invitation), vec!["You're invited to GrowStack"], "no user text in a subject");
    assert!(invitation[0]["body"].as_str().unwrap().contains(&format!("/r/{code}")));

    // Grace signs up with the code: the invitation becomes her referral.
    let r = register_referred(&app, &grace_email, &code, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let grace_access = r.data()["accessToken"].as_str().unwrap().to_owned();
    let listed = app.call(Method::GET, "/api/referrals", Some(&ada.access), None).await;
    let referrals = listed.data()["referrals"].as_array().unwrap().clone();
    assert_eq!(referrals.len(), 1, "{referrals:?}");
    assert_eq!(referrals[0]["referredEmail"], grace_email);
    assert_eq!(referrals[0]["referredUserId"], r.data()["user"]["id"]);
    assert!(referrals[0].get("metadata").is_none() && referrals[0].get("fraudScore").is_none());
    let referral_id = referrals[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.claim(&ada.access, &referral_id, None).await.status, StatusCode::CONFLICT, "not completed yet");

    // Grace goes through onboarding; the app cannot declare her KYC done, the provider can:
    // the referral completes and Ada hears of it.
    for s in ["phone", "bvn", "selfie"] {
        assert_eq!(app.step(&grace_access, s).await.status, StatusCode::OK);
    }
    assert_eq!(app.step(&grace_access, "kyc_complete").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.claim(&ada.access, &referral_id, None).await.status, StatusCode::CONFLICT, "still pending");
    app.kyc(r.data()["user"]["id"].as_str().unwrap().parse().unwrap(), "successful").await;
    let profile = app.profile(&grace_access).await;
    assert_eq!(
        (&profile.data()["onboardingStep"], &profile.data()["kycStatus"]),
        (&json!("kyc_complete"), &json!("successful"))
    );
    let completed = app.call(Method::GET, "/api/referrals?status=completed", Some(&ada.access), None).await;
    assert_eq!(completed.data()["pagination"]["total"], 1);
    app.run_workers().await;
    assert!(subjects(&emails_to(&ada.email).await).contains(&"Your referral is complete".to_owned()));

    // Ada claims, with an Idempotency-Key; a retry replays the first answer.
    let first = app.claim(&ada.access, &referral_id, Some("claim-1")).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.data()["status"], "rewarded");
    assert_eq!(first.data()["rewardAmount"], "500.00");
    assert_eq!(first.data()["rewardCurrency"], "NGN");
    let replay = app.claim(&ada.access, &referral_id, Some("claim-1")).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body, first.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    let other = app.claim(&ada.access, &Uuid::now_v7().to_string(), Some("claim-1")).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST, "a key reused for another request");
    let r = app.claim(&ada.access, &referral_id, Some("claim-2")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["message"], "the reward was already paid");

    // Both sides are paid once, in the ledger, and told by email.
    let pg = app.pg().await;
    let ledger = pg.query("SELECT side, amount::text FROM rewards ORDER BY side", &[]).await.unwrap();
    let ledger: Vec<(String, String)> = ledger.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(ledger, vec![("referred".into(), "100.00".into()), ("referrer".into(), "500.00".into())]);
    app.run_workers().await;
    assert!(subjects(&emails_to(&ada.email).await).contains(&"You've earned a referral reward".to_owned()));
    assert!(subjects(&emails_to(&grace_email).await).contains(&"You've earned a referral reward".to_owned()));

    let stats = app.call(Method::GET, "/api/referrals/stats", Some(&ada.access), None).await;
    assert_eq!(
        stats.data(),
        &json!({ "total": 1, "pending": 0, "completed": 0, "rewarded": 1, "failed": 0, "totalRewards": "500.00",
                 "totalReferrals": 1, "pendingReferrals": 0, "completedReferrals": 0 })
    );
    // Another user cannot claim or see Ada's referral.
    let mallory = app.user(&app.email("mallory")).await;
    assert_eq!(app.claim(&mallory.access, &referral_id, None).await.status, StatusCode::NOT_FOUND);
    let theirs = app.call(Method::GET, "/api/referrals", Some(&mallory.access), None).await;
    assert_eq!(theirs.data()["pagination"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_claims_pay_exactly_once() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let referrer = app.user(&app.email("referrer")).await;
    let code = code_of(&app, &referrer).await;
    let r = register_referred(&app, &app.email("friend"), &code, json!({})).await;
    app.kyc(r.data()["user"]["id"].as_str().unwrap().parse().unwrap(), "successful").await;
    let referral: Uuid = app.pg().await.query_one("SELECT id FROM referrals", &[]).await.unwrap().get(0);

    let claims: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            let token = referrer.access.clone();
            tokio::spawn(async move { app.claim(&token, &referral.to_string(), None).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for c in claims {
        statuses.push(c.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 49);
    assert_eq!(app.count("rewards").await, 1);
}

#[tokio::test]
async fn self_referral_is_refused() {
    let app = TestApp::spawn().await;
    let mut body = TestApp::registration(&app.email("ada"));
    body["deviceFingerprint"] = json!("device-ada");
    let ada = app.register(body).await;
    let token = ada.data()["accessToken"].as_str().unwrap().to_owned();
    let code = app.call(Method::GET, "/api/referrals/code", Some(&token), None).await.data()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = ada.data()["user"]["phone"].as_str().unwrap().to_owned();
    let ada_email = ada.data()["user"]["email"].as_str().unwrap().to_owned();
    let plus_address = ada_email.replacen('@', "+again@", 1);
    for (email, extra) in [
        (app.email("same-device"), json!({ "deviceFingerprint": "device-ada" })),
        (app.email("same-phone"), json!({ "phone": phone })),
        // The same number as typed without `+`, and in its national form (the finding: these
        // passed the self-referral check).
        (app.email("same-phone-digits"), json!({ "phone": phone.trim_start_matches('+') })),
        (app.email("same-phone-national"), json!({ "phone": format!("0{}", &phone[4..]) })),
        (plus_address, json!({})),
    ] {
        let r = register_referred(&app, &email, &code, extra.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{extra} -> {}", r.body);
        assert_eq!(r.body["error"]["message"], "you cannot refer yourself");
    }
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("referrals").await, 0);
}

#[tokio::test]
async fn disposable_domains_and_velocity_raise_the_score() {
    let app = TestApp::spawn_with(&[("FRAUD_VELOCITY_PER_HOUR", "2")]).await;
    let referrer = app.user(&app.email("busy")).await;
    let code = code_of(&app, &referrer).await;
    let fraud = |email: &'static str| {
        let app = &app;
        async move {
            let row = app
                .pg()
                .await
                .query_one(
                    "SELECT r.status, r.fraud_score, r.metadata->'fraud'->'reasons' FROM referrals r
                     JOIN users u ON u.id = r.referred_user_id WHERE u.email = $1",
                    &[&email],
                )
                .await
                .unwrap();
            (row.get::<_, String>(0), row.get::<_, i32>(1), row.get::<_, Value>(2))
        }
    };
    for email in ["clean1@example.com", "temp@mailinator.com"] {
        assert_eq!(register_referred(&app, email, &code, json!({})).await.status, StatusCode::CREATED);
    }
    assert_eq!(fraud("clean1@example.com").await, ("pending".into(), 0, json!([])));
    assert_eq!(fraud("temp@mailinator.com").await, ("pending".into(), 50, json!(["disposable_email_domain"])));
    // Two referred sign-ups in the hour already: the third trips the velocity check...
    register_referred(&app, "clean2@example.com", &code, json!({})).await;
    assert_eq!(fraud("clean2@example.com").await, ("pending".into(), 40, json!(["referrer_velocity"])));
    // ...and with a disposable address too, the referral fails and is never rewarded.
    let r = register_referred(&app, "burner@yopmail.com", &code, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "the account is still created");
    assert!(r.data()["user"].get("fraudScore").is_none(), "nothing for the fraud farm to learn from");
    let (status, score, reasons) = fraud("burner@yopmail.com").await;
    assert_eq!((status.as_str(), score), ("failed", 90));
    assert_eq!(reasons, json!(["disposable_email_domain", "referrer_velocity"]));
    app.kyc(r.data()["user"]["id"].as_str().unwrap().parse().unwrap(), "successful").await;
    let failed: Uuid =
        app.pg().await.query_one("SELECT id FROM referrals WHERE status = 'failed'", &[]).await.unwrap().get(0);
    let r = app.claim(&referrer.access, &failed.to_string(), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(app.count("rewards").await, 0);
    // A device shared among a referrer's referrals raises it as well.
    register_referred(&app, "phone1@example.com", &code, json!({ "deviceFingerprint": "farm-1" })).await;
    let r = register_referred(&app, "phone2@example.com", &code, json!({ "deviceFingerprint": "farm-1" })).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let (_, _, reasons) = fraud("phone2@example.com").await;
    assert!(reasons.as_array().unwrap().contains(&json!("device_shared_with_other_referral")), "{reasons}");
}

#[tokio::test]
async fn the_referral_tree_is_one_statement() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // A chain a → b → c → d → e, and a second child of a.
    let a = app.user(&app.email("a")).await;
    let mut parent = a;
    let mut ids = vec![parent.id];
    for name in ["b", "c", "d", "e"] {
        let code = code_of(&app, &parent).await;
        let r = register_referred(&app, &app.email(name), &code, json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED);
        parent = TestUser {
            id: r.data()["user"]["id"].as_str().unwrap().parse().unwrap(),
            email: app.email(name),
            password: String::new(),
            access: r.data()["accessToken"].as_str().unwrap().to_owned(),
            refresh: String::new(),
        };
        ids.push(parent.id);
    }
    let code_a = app
        .pg()
        .await
        .query_one("SELECT referral_code FROM users WHERE id = $1", &[&ids[0]])
        .await
        .unwrap()
        .get::<_, String>(0);
    register_referred(&app, &app.email("b2"), &code_a, json!({})).await;

    let before = app.state.db.statements_run();
    let r = app
        .call(Method::GET, &format!("/api/referrals/tree?userId={}&depth=3", ids[0]), Some(&admin.access), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.state.db.statements_run() - before, 1, "one recursive statement");
    let tree = &r.data()["tree"];
    assert_eq!(tree["id"], ids[0].to_string());
    assert_eq!(r.data()["size"], 5, "a, b, b2, c, d: e is deeper than 3");
    let b = tree["referrals"].as_array().unwrap().iter().find(|n| n["id"] == ids[1].to_string()).unwrap();
    assert_eq!(tree["referrals"].as_array().unwrap().len(), 2);
    let c = &b["referrals"][0];
    assert_eq!(c["id"], ids[2].to_string());
    assert_eq!(c["referrals"][0]["id"], ids[3].to_string());
    assert_eq!(c["referrals"][0]["referrals"], json!([]));
    assert_eq!(c["referralStatus"], "pending");
    assert_eq!((&c["fraudScore"], &c["fraudReasons"]), (&json!(0), &json!([])), "staff see the fraud signals");

    for bad in ["depth=0", "depth=11", "depth=x", ""] {
        let r = app
            .call(Method::GET, &format!("/api/referrals/tree?userId={}&{bad}", ids[0]), Some(&admin.access), None)
            .await;
        assert_eq!(r.status, if bad.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST }, "{bad}");
    }
    let r = app
        .call(Method::GET, &format!("/api/referrals/tree?userId={}", Uuid::now_v7()), Some(&admin.access), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.call(Method::GET, &format!("/api/referrals/tree?userId={}", ids[0]), Some(&parent.access), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn onboarding_moves_forward_only() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("onboard")).await;
    let t = user.access.as_str();
    for (s, status) in [
        ("email", StatusCode::FORBIDDEN),   // only verification completes it
        ("bvn", StatusCode::OK),            // skipping phone
        ("phone", StatusCode::BAD_REQUEST), // going back
        ("bvn", StatusCode::BAD_REQUEST),   // repeating
        ("passport", StatusCode::BAD_REQUEST),
        ("selfie", StatusCode::OK),
        ("kyc_complete", StatusCode::FORBIDDEN), // only the KYC provider says so
    ] {
        let r = app.step(t, s).await;
        assert_eq!(r.status, status, "{s}: {}", r.body);
    }
    app.kyc(user.id, "successful").await;
    assert_eq!(app.step(t, "selfie").await.status, StatusCode::BAD_REQUEST, "past it now");
    let profile = app.profile(t).await;
    assert_eq!(profile.data()["onboardingStep"], "kyc_complete");
    assert_eq!(profile.data()["kycStatus"], "successful");
    let recorded: Vec<String> = app
        .pg()
        .await
        .query("SELECT step FROM onboarding_events ORDER BY created_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(recorded, vec!["email", "bvn", "selfie", "kyc_complete"]);
    let r = app.json(Method::POST, "/api/onboarding/step", Some(t), json!({ "step": 3 })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

const STEPS: [&str; 5] = ["email", "phone", "bvn", "selfie", "kyc_complete"];

/// The fixture's rule: user i's step, sign-up day and, when KYC is complete, hours to it.
fn fixture_step(i: i64) -> usize {
    [0, 0, 0, 1, 1, 2, 3, 3, 4, 4][(i % 10) as usize]
}
fn fixture_january(i: i64) -> bool {
    i % 3 != 0
}
fn fixture_hours(i: i64) -> i64 {
    (i * 7) % 50 + 1
}

#[tokio::test]
async fn stats_match_hand_computed_numbers_on_1200_users() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let pg = app.pg().await;
    const N: i64 = 1200;
    // Users: step by i % 10, signed up on 15 January (i % 3 != 0) or 15 February 2026.
    pg.execute(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code, onboarding_step, created_at,
                            email_verified_at)
         SELECT gen_random_uuid(), 'fixture' || i || '@example.com', 'x', 'F', 'U', upper(lpad(to_hex(i), 6, '0')),
                ($2::text[])[(ARRAY[1,1,1,2,2,3,4,4,5,5])[i % 10 + 1]],
                CASE WHEN i % 3 <> 0 THEN timestamptz '2026-01-15 08:00Z' ELSE timestamptz '2026-02-15 08:00Z' END,
                CASE WHEN i % 10 IN (0, 3) THEN timestamptz '2026-03-01 08:00Z' END
         FROM generate_series(0, $1 - 1) AS i",
        &[&(N as i32), &STEPS.to_vec()],
    )
    .await
    .unwrap();
    pg.execute(
        "INSERT INTO onboarding_events (id, user_id, step, created_at)
         SELECT gen_random_uuid(), u.id, 'kyc_complete',
                u.created_at + make_interval(hours => ((substring(u.email from '[0-9]+')::int * 7) % 50 + 1))
         FROM users u WHERE u.onboarding_step = 'kyc_complete' AND u.email LIKE 'fixture%'",
        &[],
    )
    .await
    .unwrap();

    // By hand: the same rules, counted in Rust.
    let expect = |filter: &dyn Fn(i64) -> bool| {
        let mut at = [0i64; 5];
        let mut hours = Vec::new();
        for i in (0..N).filter(|i| filter(*i)) {
            at[fixture_step(i)] += 1;
            if fixture_step(i) == 4 {
                hours.push(fixture_hours(i) as f64);
            }
        }
        let mut reached: Vec<i64> = (0..5).map(|s| at[s..].iter().sum()).collect();
        // Everyone starts on `email`; only those who verified their address (i % 10 = 0 of
        // the three there) have reached it.
        reached[0] = reached[1] + (0..N).filter(|i| filter(*i) && i % 10 == 0).count() as i64;
        (at, reached, hours)
    };
    let check = |body: &Value, filter: &dyn Fn(i64) -> bool| {
        let (at, reached, _) = expect(filter);
        let steps = body["steps"].as_array().unwrap();
        assert_eq!(body["totalUsers"], at.iter().sum::<i64>());
        for (s, row) in steps.iter().enumerate() {
            assert_eq!(row["step"], STEPS[s]);
            assert_eq!(row["users"], at[s], "{}", STEPS[s]);
            assert_eq!(row["reached"], reached[s], "{}", STEPS[s]);
            if s == 0 {
                assert!(row["dropOffPercent"].is_null());
            } else if reached[s - 1] > 0 {
                let drop = 100.0 * (reached[s - 1] - reached[s]) as f64 / reached[s - 1] as f64;
                assert!((row["dropOffPercent"].as_f64().unwrap() - drop).abs() < 0.006, "{}: {row}", STEPS[s]);
            }
        }
    };
    let r = app.call(Method::GET, "/api/onboarding/stats", Some(&admin.access), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    check(r.data(), &|_| true);
    assert_eq!(r.data()["steps"][0]["reached"], N * 8 / 10, "the verified one in three at `email`, and the rest");
    assert_eq!(r.data()["steps"][1]["dropOffPercent"], 12.5);
    let january = app
        .call(Method::GET, "/api/onboarding/stats?startDate=2026-01-01&endDate=2026-01-31", Some(&admin.access), None)
        .await;
    check(january.data(), &|i| fixture_january(i));
    let none = app
        .call(Method::GET, "/api/onboarding/stats?startDate=2025-01-01&endDate=2025-12-31", Some(&admin.access), None)
        .await;
    assert_eq!(none.data()["totalUsers"], 0);

    let (_, _, mut hours) = expect(&|_| true);
    hours.sort_by(|a, b| a.total_cmp(b));
    let average = hours.iter().sum::<f64>() / hours.len() as f64;
    let median = if hours.len() % 2 == 0 {
        (hours[hours.len() / 2 - 1] + hours[hours.len() / 2]) / 2.0
    } else {
        hours[hours.len() / 2]
    };
    let r = app.call(Method::GET, "/api/onboarding/time-stats", Some(&admin.access), None).await;
    assert_eq!(r.data()["completed"], hours.len());
    assert!((r.data()["averageHours"].as_f64().unwrap() - average).abs() < 0.006, "{} vs {average}", r.data());
    assert!((r.data()["medianHours"].as_f64().unwrap() - median).abs() < 0.006, "{} vs {median}", r.data());

    // Referral stats: one referrer, 1,000 referrals, status by i % 4, rewarded ones paid
    // i % 7 + 1 hundred naira (in the ledger; voided when i % 5 = 0, and then not counted),
    // created in January (i < 600) or February.
    let referrer = app.user(&app.email("prolific")).await;
    pg.execute(
        "INSERT INTO referrals (id, referrer_id, referred_email, status, reward_amount, created_at)
         SELECT gen_random_uuid(), $1, 'r' || i || '@example.com',
                (ARRAY['pending', 'completed', 'rewarded', 'failed'])[i % 4 + 1],
                CASE WHEN i % 4 = 2 THEN (i % 7 + 1) * 100.00 END,
                CASE WHEN i < 600 THEN timestamptz '2026-01-10Z' ELSE timestamptz '2026-02-10Z' END
         FROM generate_series(0, 999) AS i",
        &[&referrer.id],
    )
    .await
    .unwrap();
    pg.execute(
        "INSERT INTO rewards (id, referral_id, user_id, side, amount, currency, status, voided_at, void_reason)
         SELECT gen_random_uuid(), r.id, r.referrer_id, 'referrer', r.reward_amount, 'NGN',
                CASE WHEN n % 5 = 0 THEN 'voided' ELSE 'available' END,
                CASE WHEN n % 5 = 0 THEN now() END, CASE WHEN n % 5 = 0 THEN 'fixture' END
         FROM referrals r, LATERAL (SELECT substring(r.referred_email from '[0-9]+')::int AS n) i
         WHERE r.referrer_id = $1 AND r.status = 'rewarded'",
        &[&referrer.id],
    )
    .await
    .unwrap();
    let by_hand = |range: std::ops::Range<i64>| {
        let mut counts = [0i64; 4];
        let mut rewards = 0i64;
        for i in range.clone() {
            counts[(i % 4) as usize] += 1;
            if i % 4 == 2 && i % 5 != 0 {
                rewards += (i % 7 + 1) * 100;
            }
        }
        let total = range.count();
        json!({ "total": total, "pending": counts[0], "completed": counts[1], "rewarded": counts[2],
                "failed": counts[3], "totalRewards": format!("{rewards}.00"),
                "totalReferrals": total, "pendingReferrals": counts[0], "completedReferrals": counts[1] })
    };
    let all = app.call(Method::GET, "/api/referrals/stats", Some(&referrer.access), None).await;
    assert_eq!(all.data(), &by_hand(0..1000));
    let feb = app
        .call(Method::GET, "/api/referrals/stats?startDate=2026-02-01&endDate=2026-02-28", Some(&referrer.access), None)
        .await;
    assert_eq!(feb.data(), &by_hand(600..1000));
    let bad = app
        .call(Method::GET, "/api/referrals/stats?startDate=2026-03-01&endDate=2026-02-01", Some(&referrer.access), None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn claims_while_redis_flaps_pay_exactly_once() {
    let port = growstack_tests::free_port();
    let mut redis = growstack_tests::OwnRedis::start_on(port).await;
    let app = TestApp::spawn_with(&[("REDIS_URL", &format!("redis://127.0.0.1:{port}"))]).await;
    let referrer = app.user(&app.email("referrer")).await;
    let code = code_of(&app, &referrer).await;
    let r = register_referred(&app, &app.email("friend"), &code, json!({})).await;
    app.kyc(r.data()["user"]["id"].as_str().unwrap().parse().unwrap(), "successful").await;
    let referral: Uuid = app.pg().await.query_one("SELECT id FROM referrals", &[]).await.unwrap().get(0);

    // Redis goes away and comes back four times while 20 claims (half with an
    // idempotency key of their own) are in flight.
    let flapping = async {
        for _ in 0..4 {
            redis.stop();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            redis = growstack_tests::OwnRedis::start_on(port).await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let keys: Vec<String> = (0..20).map(|i| format!("flap-{i}")).collect();
    let claims = keys.iter().enumerate().map(|(i, key)| {
        let key = (i % 2 == 0).then_some(key.as_str());
        let (app, token, referral) = (&app, &referrer.access, referral.to_string());
        async move { app.claim(token, &referral, key).await.status }
    });
    let (statuses, _) = futures::join!(futures::future::join_all(claims), flapping);
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| [StatusCode::OK, StatusCode::CONFLICT].contains(s)), "{statuses:?}");
    let paid: i64 = app
        .pg()
        .await
        .query_one("SELECT count(*) FROM rewards WHERE user_id = $1", &[&referrer.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(paid, 1, "the referrer is paid once");
}
