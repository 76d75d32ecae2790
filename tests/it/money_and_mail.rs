//! Money and mail tried as a fraudster and a spammer would: KYC only from the provider's
//! signed callback, a reward ledger with holds, voids, payouts, an audit and an export, and
//! mail within limits, with one-click unsubscribe and bounces that stop it.

use growstack::scheduler::Task;
use growstack_tests::{emails_to, event, TestApp, TestResponse, TestUser, KYC_SECRET};
use http::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn referred_pair(app: &TestApp) -> (TestUser, Uuid, String, Uuid) {
    app.referred_pair().await
}

async fn referral_status(app: &TestApp) -> String {
    app.pg().await.query_one("SELECT status FROM referrals", &[]).await.unwrap().get(0)
}

fn callback(user: Uuid, event_id: &str, status: &str) -> String {
    json!({ "eventId": event_id, "userId": user, "status": status, "reference": "ref-1",
            "occurredAt": chrono::Utc::now().to_rfc3339(), "identityRef": format!("bvn-sha256:{user}") })
    .to_string()
}

#[tokio::test]
async fn the_apps_word_is_not_kyc_the_providers_signature_is() {
    let app = TestApp::spawn().await;
    let (ada, grace, grace_access, referral) = referred_pair(&app).await;
    // The fraud: the referred user declares their own KYC.
    let r =
        app.json(Method::POST, "/api/onboarding/step", Some(&grace_access), json!({ "step": "kyc_complete" })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(app.claim(&ada.access, referral, None).await.status, StatusCode::CONFLICT);
    assert_eq!(referral_status(&app).await, "pending");
    // The other steps, with metadata as the Node version allowed, still work.
    let r = app
        .json(
            Method::POST,
            "/api/onboarding/step",
            Some(&grace_access),
            json!({ "step": "phone", "metadata": { "carrier": "mtn" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .json(Method::POST, "/api/onboarding/step", Some(&grace_access), json!({ "step": "bvn", "metadata": [1] }))
        .await;
    assert_eq!(r.body["error"]["details"]["field"], "metadata");

    // Forged, stale or unsigned callbacks: 401, and nothing changes. Stale by a margin past
    // the 300 s allowed: the server reads its clock a moment after the test does.
    let now = chrono::Utc::now().timestamp();
    let body = callback(grace, "evt-1", "successful");
    for r in [
        app.kyc_callback(&body, "not-the-providers-secret-0123456789abcdef", now).await,
        app.kyc_callback(&body, KYC_SECRET, now - 330).await,
        app.kyc_callback(&body, KYC_SECRET, now + 330).await,
        app.json(Method::POST, "/api/webhooks/kyc", None, serde_json::from_str(&body).unwrap()).await,
    ] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let signed_other = callback(grace, "evt-1", "failed");
    let mut tampered = app.kyc_callback(&signed_other, KYC_SECRET, now).await;
    assert_eq!(tampered.status, StatusCode::OK, "a genuine failed verdict");
    assert_eq!(app.profile(&grace_access).await.data()["kycStatus"], "failed");
    // …which the same event id cannot turn into a success.
    tampered = app.kyc_callback(&body, KYC_SECRET, now).await;
    assert_eq!(tampered.data()["duplicate"], true);
    assert_eq!(referral_status(&app).await, "pending");

    // The provider's signed success completes the referral; Ada can claim.
    let r = app.kyc_callback(&callback(grace, "evt-2", "successful"), KYC_SECRET, now).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["applied"], true);
    assert_eq!(referral_status(&app).await, "completed");
    let profile = app.profile(&grace_access).await;
    assert_eq!(
        (&profile.data()["kycStatus"], &profile.data()["onboardingStep"]),
        (&json!("successful"), &json!("kyc_complete"))
    );
    // A replay changes nothing: no second event, no second step record.
    let replay = app.kyc_callback(&callback(grace, "evt-2", "successful"), KYC_SECRET, now).await;
    assert_eq!((replay.status, &replay.data()["duplicate"]), (StatusCode::OK, &json!(true)));
    assert_eq!(app.count("kyc_events").await, 2);
    let steps: i64 = app
        .pg()
        .await
        .query_one("SELECT count(*) FROM onboarding_events WHERE step = 'kyc_complete'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(steps, 1);
    let r = app.claim(&ada.access, referral, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // An unknown user: taken (so the provider stops retrying), applied to nobody.
    let r = app.kyc_callback(&callback(Uuid::now_v7(), "evt-3", "successful"), KYC_SECRET, now).await;
    assert_eq!((r.status, &r.data()["applied"]), (StatusCode::OK, &json!(false)));
}

#[tokio::test]
async fn the_referred_user_is_paid_at_completion_whether_or_not_the_referrer_claims() {
    let app = TestApp::spawn_with(&[("REFERRED_REWARD_AMOUNT", "150.00")]).await;
    let (_ada, grace, _, referral) = referred_pair(&app).await;
    app.kyc(grace, "successful").await;
    let rows = app.pg().await.query("SELECT side, amount::text, status, user_id FROM rewards", &[]).await.unwrap();
    assert_eq!(rows.len(), 1, "the referrer has not claimed");
    assert_eq!((rows[0].get::<_, String>(0), rows[0].get::<_, String>(1)), ("referred".into(), "150.00".into()));
    assert_eq!(rows[0].get::<_, String>(2), "available");
    assert_eq!(rows[0].get::<_, Uuid>(3), grace);
    // Once: a second callback, or verifying again, writes no second row.
    app.kyc(grace, "successful").await;
    assert_eq!(app.count("rewards").await, 1);
    // The ledger survives the user's deletion.
    app.pg().await.execute("DELETE FROM users WHERE id = $1", &[&grace]).await.unwrap();
    assert_eq!(app.count("rewards").await, 1);
    let _ = referral;
}

#[tokio::test]
async fn a_claim_in_the_hold_is_refused_with_when_it_can_be_made() {
    let app = TestApp::spawn_with(&[("REWARD_HOLD_HOURS", "24"), ("REFERRED_REWARD_AMOUNT", "100.00")]).await;
    let admin = app.admin().await;
    let (ada, grace, _, referral) = referred_pair(&app).await;
    app.kyc(grace, "successful").await;
    let r = app.claim(&ada.access, referral, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let from: chrono::DateTime<chrono::Utc> =
        r.body["error"]["details"]["claimableFrom"].as_str().unwrap().parse().unwrap();
    let expected = chrono::Utc::now() + chrono::Duration::hours(24);
    assert!((from - expected).num_seconds().abs() < 60, "{from}");
    // The referred reward is held too, and finance cannot pay it out yet.
    let held = app.call(Method::GET, "/api/admin/rewards?status=pending", Some(&admin.access), None).await;
    assert_eq!(held.data()["pagination"]["total"], 1, "{}", held.body);
    let id = held.data()["rewards"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .json(
            Method::PATCH,
            &format!("/api/admin/rewards/{id}"),
            Some(&admin.access),
            json!({ "status": "paid", "externalRef": "x" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // The hold over (moved back in time), the claim goes through and the reward is available.
    app.pg().await.execute("UPDATE referrals SET completed_at = now() - interval '25 hours'", &[]).await.unwrap();
    app.pg().await.execute("UPDATE rewards SET available_at = now() - interval '1 hour'", &[]).await.unwrap();
    assert_eq!(app.claim(&ada.access, referral, None).await.status, StatusCode::OK);
    let available = app.call(Method::GET, "/api/admin/rewards?status=available", Some(&admin.access), None).await;
    assert_eq!(available.data()["pagination"]["total"], 2);
}

#[tokio::test]
async fn claims_are_refused_for_blocked_referred_users_and_failed_referrals() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (ada, grace, _, referral) = referred_pair(&app).await;
    app.kyc(grace, "successful").await;
    assert_eq!(app.block(&admin.access, &grace.to_string(), true).await.status, StatusCode::OK);
    let r = app.claim(&ada.access, referral, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["message"], "the referred account is not in good standing");
    assert_eq!(app.block(&admin.access, &grace.to_string(), false).await.status, StatusCode::OK);

    // An admin fails it (a fraud finding): not by a user, not without a reason.
    let path = format!("/api/admin/referrals/{referral}");
    let fail = json!({ "status": "failed", "reason": "same device as the referrer" });
    assert_eq!(app.json(Method::PATCH, &path, Some(&ada.access), fail.clone()).await.status, StatusCode::FORBIDDEN);
    let r = app.json(Method::PATCH, &path, Some(&admin.access), json!({ "status": "failed", "reason": " " })).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.json(Method::PATCH, &path, Some(&admin.access), fail.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["referral"]["status"], "failed");
    assert_eq!(app.json(Method::PATCH, &path, Some(&admin.access), fail).await.status, StatusCode::CONFLICT);
    let r = app.claim(&ada.access, referral, None).await;
    assert_eq!(r.body["error"]["message"], "the referral failed its fraud checks");
    let audit: (String, Value, Value) = {
        let row = app.pg().await.query_one("SELECT action, before, after FROM audit_log", &[]).await.unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert_eq!(audit.0, "failed");
    assert_eq!((&audit.1["status"], &audit.2["status"]), (&json!("completed"), &json!("failed")));
}

#[tokio::test]
async fn finance_pays_and_voids_with_an_audit_and_the_export_sums_to_the_ledger() {
    let app = TestApp::spawn_with(&[("REFERRED_REWARD_AMOUNT", "100.00")]).await;
    let admin = app.admin().await;
    let (ada, grace, _, referral) = referred_pair(&app).await;
    app.kyc(grace, "successful").await;
    assert_eq!(app.claim(&ada.access, referral, None).await.status, StatusCode::OK);
    let stats = || async {
        app.call(Method::GET, "/api/referrals/stats", Some(&ada.access), None).await.data()["totalRewards"].clone()
    };
    assert_eq!(stats().await, "500.00");

    let ledger = app.call(Method::GET, "/api/admin/rewards", Some(&admin.access), None).await;
    assert_eq!(ledger.status, StatusCode::OK, "{}", ledger.body);
    assert_eq!(ledger.data()["totals"], json!({ "NGN": "600.00" }));
    let rewards = ledger.data()["rewards"].as_array().unwrap().clone();
    let id_of = |side: &str| rewards.iter().find(|r| r["side"] == side).unwrap()["id"].as_str().unwrap().to_owned();
    let (referrer_reward, referred_reward) = (id_of("referrer"), id_of("referred"));
    let patch = |id: &str, body: Value| {
        let path = format!("/api/admin/rewards/{id}");
        let token = admin.access.clone();
        let app = &app;
        async move { app.json(Method::PATCH, &path, Some(&token), body).await }
    };

    // Paid needs finance's reference; voided needs a reason; users may do neither.
    assert_eq!(patch(&referred_reward, json!({ "status": "paid" })).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(patch(&referred_reward, json!({ "status": "voided" })).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(patch(&referred_reward, json!({ "status": "available" })).await.status, StatusCode::BAD_REQUEST);
    let as_user = app
        .json(
            Method::PATCH,
            &format!("/api/admin/rewards/{referred_reward}"),
            Some(&ada.access),
            json!({ "status": "voided", "reason": "x" }),
        )
        .await;
    assert_eq!(as_user.status, StatusCode::FORBIDDEN);
    assert_eq!(
        patch(&Uuid::now_v7().to_string(), json!({ "status": "voided", "reason": "x" })).await.status,
        StatusCode::NOT_FOUND
    );

    let paid = patch(&referred_reward, json!({ "status": "paid", "externalRef": "=transfer,42" })).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert_eq!((&paid.data()["status"], &paid.data()["externalRef"]), (&json!("paid"), &json!("=transfer,42")));
    assert_eq!(
        patch(&referred_reward, json!({ "status": "voided", "reason": "late" })).await.status,
        StatusCode::CONFLICT
    );
    let voided = patch(&referrer_reward, json!({ "status": "voided", "reason": "duplicate account" })).await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.body);
    assert_eq!(
        patch(&referrer_reward, json!({ "status": "paid", "externalRef": "t-1" })).await.status,
        StatusCode::CONFLICT
    );

    // The void leaves the stats and the totals; each change is an audit row.
    assert_eq!(stats().await, "0.00");
    let ledger = app.call(Method::GET, "/api/admin/rewards", Some(&admin.access), None).await;
    assert_eq!(ledger.data()["totals"], json!({ "NGN": "100.00" }));
    let audit = app
        .pg()
        .await
        .query("SELECT actor_id, action, before->>'status', after->>'status' FROM audit_log ORDER BY created_at", &[])
        .await
        .unwrap();
    let audit: Vec<(Uuid, String, String, String)> =
        audit.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    assert_eq!(
        audit,
        vec![
            (admin.id, "paid".into(), "available".into(), "paid".into()),
            (admin.id, "voided".into(), "available".into(), "voided".into())
        ]
    );

    // The CSV export: a header, one line per row, amounts as decimals, the formula defused.
    let r = app.call(Method::GET, "/api/admin/rewards?format=csv", Some(&admin.access), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = String::from_utf8(r.raw.to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("id,referral_id,user_id,side,amount,currency,status"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(text.contains("\"'=transfer,42\""), "{text}");
    let sum_not_voided: f64 = rows
        .iter()
        .filter(|l| !l.contains(",voided,"))
        .map(|l| l.split(',').nth(4).unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(sum_not_voided, 100.0, "the export sums to the ledger's total");
    let paid_only = app.call(Method::GET, "/api/admin/rewards?format=csv&status=paid", Some(&admin.access), None).await;
    assert_eq!(String::from_utf8(paid_only.raw.to_vec()).unwrap().lines().count(), 2);
    let bad = app.call(Method::GET, "/api/admin/rewards?format=xml", Some(&admin.access), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Failing the referral now: one of its rewards is paid out, so it is too late.
    let r = app
        .json(
            Method::PATCH,
            &format!("/api/admin/referrals/{referral}"),
            Some(&admin.access),
            json!({ "status": "failed", "reason": "late finding" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
}

#[tokio::test]
async fn invitations_are_limited_and_say_nothing_of_the_inviter_in_the_subject() {
    let app = TestApp::spawn_with(&[("REFERRAL_INVITES_PER_DAY", "20")]).await;
    let ada = app.user(&app.email("spammer")).await;
    let name = "Click http://evil.example now to claim $$$ and more words here";
    app.update_profile(&ada.access, json!({ "firstName": name })).await;
    for i in 0..20 {
        let r = app
            .json(
                Method::POST,
                "/api/referrals",
                Some(&ada.access),
                json!({ "email": app.email(&format!("target{i}")) }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "invitation {i}: {}", r.body);
    }
    let r =
        app.json(Method::POST, "/api/referrals", Some(&ada.access), json!({ "email": app.email("target20") })).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    app.run_workers().await;
    let mail = emails_to(&app.email("target0")).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["subject"], "You're invited to GrowStack");
    let body = mail[0]["body"].as_str().unwrap();
    assert!(body.contains("A friend thinks") && !body.contains("evil.example"), "no words of the inviter's: {body}");
    assert!(emails_to(&app.email("target20")).await.is_empty());
}

#[tokio::test]
async fn invitations_sent_at_once_keep_to_the_daily_cap() {
    let app = TestApp::spawn_with(&[("REFERRAL_INVITES_PER_DAY", "20")]).await;
    let ada = app.user(&app.email("burst-inviter")).await;
    let invite = |i: usize| {
        let body = json!({ "email": app.email(&format!("burst{i}")) });
        app.json(Method::POST, "/api/referrals", Some(&ada.access), body)
    };
    let answers = futures::future::join_all((0..40).map(invite)).await;
    let created = answers.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let limited = answers.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((created, limited), (20, 20), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    app.run_workers().await;
    let targets: Vec<Value> = (0..40).map(|i| json!(app.email(&format!("burst{i}")))).collect();
    let mailed = growstack_tests::moto_data().await["ses"]["Message"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"].as_array().is_some_and(|to| to.iter().any(|a| targets.contains(a)))
        })
        .count();
    assert_eq!(mailed, 20);
}

#[tokio::test]
async fn invitations_answer_alike_whether_or_not_the_address_has_an_account() {
    let app = TestApp::spawn_with(&[("REFERRAL_INVITES_PER_DAY", "4")]).await;
    let ada = app.user(&app.email("prober")).await;
    let member = app.user(&app.email("member")).await;
    let invite = |email: String| app.json(Method::POST, "/api/referrals", Some(&ada.access), json!({ "email": email }));
    let shape = |r: &TestResponse| {
        let mut keys: Vec<String> = r.data().as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        keys.sort();
        (r.status, keys, r.data()["status"].clone())
    };
    let known = invite(member.email.clone()).await;
    let unknown = invite(app.email("stranger")).await;
    assert_eq!(known.status, StatusCode::CREATED, "{}", known.body);
    assert_eq!(shape(&known), shape(&unknown));
    // Past the cap, alike too: the cap comes before anything about the address.
    invite(app.email("stranger2")).await;
    invite(app.email("stranger3")).await;
    let known = invite(app.email("member2")).await;
    app.user(&app.email("member2")).await;
    let known_again = invite(app.email("member2")).await;
    let unknown = invite(app.email("stranger4")).await;
    assert_eq!(known.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((known_again.status, &known_again.body), (unknown.status, &unknown.body));
    // And nobody with an account got an invitation.
    app.run_workers().await;
    assert!(emails_to(&member.email).await.iter().all(|m| m["subject"] != "You're invited to GrowStack"));
    assert_eq!(emails_to(&app.email("stranger")).await.len(), 1);
}

/// The unsubscribe token in the body of an email from moto's SES store.
fn unsubscribe_token(mail: &Value) -> String {
    let body = mail["body"].as_str().unwrap();
    body.split("unsubscribe?token=")
        .nth(1)
        .expect("an unsubscribe link")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

#[tokio::test]
async fn the_unsubscribe_link_in_a_nudge_stops_the_next_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("nudged")).await;
    let nudge_path = format!("/api/notifications/inactivity-nudge/{}", user.id);
    let nudge = || async { app.call(Method::POST, &nudge_path, Some(&admin.access), None).await.status };
    assert_eq!(nudge().await, StatusCode::ACCEPTED);
    app.run_workers().await;
    let mail: Vec<Value> = emails_to(&user.email).await.into_iter().filter(|m| m["subject"] == "We miss you").collect();
    assert_eq!(mail.len(), 1);
    let token = unsubscribe_token(&mail[0]);

    // A mail scanner fetching the link unsubscribes nobody: the page asks first.
    let page = app.call(Method::GET, &format!("/api/notifications/unsubscribe?token={token}"), None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.raw).to_string();
    assert!(html.contains("<form method=\"post\">") && html.contains("Unsubscribe</button>"), "{html}");
    assert_eq!(app.count("email_suppressions").await, 0);

    // RFC 8058 one-click: what a mail client POSTs.
    let request = http::Request::post(format!("/api/notifications/unsubscribe?token={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("List-Unsubscribe=One-Click"))
        .unwrap();
    let r = app.send(request).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["category"], "inactivity");
    // The page's button, from a browser, answers a page; forged links are refused.
    let request = http::Request::post(format!("/api/notifications/unsubscribe?token={token}"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::empty())
        .unwrap();
    let page = app.send(request).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.raw).contains("You're unsubscribed"));
    let forged = app.call(Method::POST, &format!("/api/notifications/unsubscribe?token={token}x"), None, None).await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("email_suppressions").await, 1);

    // The next nudge lands in the inbox but sends no email; other mail still goes.
    assert_eq!(nudge().await, StatusCode::ACCEPTED);
    let kyc = format!("/api/notifications/kyc-reminder/{}", user.id);
    assert_eq!(app.call(Method::POST, &kyc, Some(&admin.access), None).await.status, StatusCode::ACCEPTED);
    app.run_workers().await;
    let subjects: Vec<String> =
        emails_to(&user.email).await.iter().map(|m| m["subject"].as_str().unwrap().to_owned()).collect();
    assert_eq!(subjects.iter().filter(|s| *s == "We miss you").count(), 1, "{subjects:?}");
    assert_eq!(subjects.iter().filter(|s| *s == "Finish verifying your identity").count(), 1, "another category");
    let inbox = app.call(Method::GET, "/api/notifications", Some(&user.access), None).await;
    assert_eq!(
        inbox.data()["notifications"].as_array().unwrap().iter().filter(|n| n["type"] == "inactivity").count(),
        2
    );
}

#[tokio::test]
async fn an_address_that_opted_out_of_invitations_is_not_invited() {
    let app = TestApp::spawn().await;
    let ada = app.user(&app.email("ada")).await;
    let target = app.email("do-not-invite");
    let r = app.json(Method::POST, "/api/referrals", Some(&ada.access), json!({ "email": target })).await;
    assert_eq!(r.status, StatusCode::CREATED);
    app.run_workers().await;
    let token = unsubscribe_token(&emails_to(&target).await[0]);
    let r = app.call(Method::POST, &format!("/api/notifications/unsubscribe?token={token}"), None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let grace = app.user(&app.email("grace")).await;
    let r = app.json(Method::POST, "/api/referrals", Some(&grace.access), json!({ "email": target })).await;
    // Answered as any invitation (an answer that differed would tell who opted out), and not
    // sent.
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.run_workers().await;
    assert_eq!(emails_to(&target).await.len(), 1, "only the first invitation went out");
}

#[tokio::test]
async fn a_bounce_suppresses_the_address_and_the_next_email_is_not_sent() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("bouncer")).await;
    let complainer = app.email("complainer");
    let payload = event(
        "ses-feedback",
        &[("REPLACE_WITH_BOUNCED_EMAIL", &user.email), ("REPLACE_WITH_COMPLAINED_EMAIL", &complainer)],
    );
    let sns: aws_lambda_events::event::sns::SnsEvent = serde_json::from_value(payload).unwrap();
    assert_eq!(app.state.ses_feedback().handle(sns.clone()).await.unwrap(), 2);
    assert_eq!(app.state.ses_feedback().handle(sns).await.unwrap(), 2, "a redelivery is harmless");
    assert_eq!(app.count("email_suppressions").await, 2);

    app.run_workers().await;
    let before = emails_to(&user.email).await.len();
    let send = json!({ "userId": user.id, "title": "Your statement", "content": "It is ready." });
    let r = app.json(Method::POST, "/api/notifications/send", Some(&admin.access), send).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    app.run_workers().await;
    assert_eq!(emails_to(&user.email).await.len(), before, "not even transactional mail to a hard bounce");
}

#[tokio::test]
async fn nudges_resume_from_their_cursor_and_do_not_wait_for_each_other() {
    let app = TestApp::spawn().await;
    let pg = app.pg().await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let id = Uuid::now_v7();
        pg.execute(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code, last_active_at, created_at)
             VALUES ($1, $2, 'x', 'Idle', 'User', $3, now() - interval '10 days', now() - interval '10 days')",
            &[&id, &app.email(&format!("idle{i}")), &format!("IDLE0{i}")],
        )
        .await
        .unwrap();
        ids.push(id);
    }
    // A run that was cut short after the second user.
    pg.execute("INSERT INTO scheduler_cursors (task, after_id) VALUES ('inactivity-nudges', $1)", &[&ids[1]])
        .await
        .unwrap();
    let report = app.state.scheduler().run(&[Task::InactivityNudges]).await.unwrap();
    assert_eq!(report.inactivity_nudges, 2, "resumed after the second user: {report:?}");
    assert_eq!(app.count("scheduler_cursors").await, 0, "through to the end: the next run starts over");
    let report = app.state.scheduler().run(&[Task::InactivityNudges]).await.unwrap();
    assert_eq!(report.inactivity_nudges, 2, "the first two, whose turn it is now");
    // The KYC reminder has a cursor of its own.
    let report = app.state.scheduler().run(&[Task::KycReminders]).await.unwrap();
    assert_eq!(report.kyc_reminders, 4);
}

#[tokio::test]
async fn a_scheduled_notification_is_dispatched_at_most_five_times() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("scheduled")).await;
    let pg = app.pg().await;
    pg.execute(
        "INSERT INTO notifications (id, user_id, type, channel, title, content, scheduled_for)
         VALUES ($1, $2, 'custom', 'email', 'Later', 'Hello', now() - interval '1 minute')",
        &[&Uuid::now_v7(), &user.id],
    )
    .await
    .unwrap();
    for attempt in 1..=5 {
        let report = app.state.scheduler().run(&[Task::DueNotifications]).await.unwrap();
        assert_eq!(report.dispatched, 1, "attempt {attempt}");
        // The worker never takes it (say the job is lost): the lease lapses.
        pg.execute("UPDATE notifications SET dispatched_at = now() - interval '6 minutes'", &[]).await.unwrap();
    }
    let report = app.state.scheduler().run(&[Task::DueNotifications]).await.unwrap();
    assert_eq!((report.dispatched, report.given_up), (0, 1), "{report:?}");
    let row = pg.query_one("SELECT status, dispatch_attempts, failure_reason FROM notifications", &[]).await.unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, i32>(1)), ("failed".into(), 5));
    assert!(row.get::<_, String>(2).contains("5 dispatch attempts"));
}

/// The finding: one verified person (one BVN) completed KYC on several accounts and each
/// referral paid. Now the first account verified with an identity holds it; another
/// verified with the same one — even at the same moment — is its duplicate, and that
/// referral fails before any reward is written, with the reason where staff look.
#[tokio::test]
async fn one_identity_verifies_one_account_and_earns_one_referral() {
    let app = TestApp::spawn_with(&[("REFERRED_REWARD_AMOUNT", "500")]).await;
    let ada = app.user(&app.email("ada")).await;
    let code = app.call(Method::GET, "/api/referrals/code", Some(&ada.access), None).await.data()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut friends = Vec::new();
    for name in ["farm-1", "farm-2", "honest"] {
        let mut body = TestApp::registration(&app.email(name));
        body["referralCode"] = json!(code);
        let r = app.register(body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let id: Uuid = r.data()["user"]["id"].as_str().unwrap().parse().unwrap();
        app.verify(id).await;
        friends.push(id);
    }
    let signed = |user: Uuid, identity: Option<&str>| {
        let mut body = json!({ "eventId": format!("evt_{}", Uuid::now_v7().simple()), "userId": user,
            "status": "successful", "reference": "ref", "occurredAt": chrono::Utc::now().to_rfc3339() });
        if let Some(identity) = identity {
            body["identityRef"] = json!(identity);
        }
        body.to_string()
    };
    // A success that does not say whom it verified is refused, and changes nothing.
    let r = app.kyc_callback(&signed(friends[0], None), KYC_SECRET, chrono::Utc::now().timestamp()).await;
    assert_eq!((r.status, &r.body["error"]["details"]["field"]), (StatusCode::BAD_REQUEST, &json!("identityRef")));
    assert_eq!(app.count("kyc_events").await, 0);

    // The same person on two accounts at once, and another person.
    let now = chrono::Utc::now().timestamp();
    let (a, b, c) = (
        signed(friends[0], Some("bvn:22212345678")),
        signed(friends[1], Some("bvn:22212345678")),
        signed(friends[2], Some("bvn:22298765432")),
    );
    let (a, b, c) = tokio::join!(
        app.kyc_callback(&a, KYC_SECRET, now),
        app.kyc_callback(&b, KYC_SECRET, now),
        app.kyc_callback(&c, KYC_SECRET, now)
    );
    for r in [&a, &b, &c] {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let pg = app.pg().await;
    let referral = |user: Uuid| {
        let pg = &pg;
        async move {
            let row = pg
                .query_one(
                    "SELECT id, status, metadata->>'failReason' FROM referrals WHERE referred_user_id = $1",
                    &[&user],
                )
                .await
                .unwrap();
            (row.get::<_, Uuid>(0), row.get::<_, String>(1), row.get::<_, Option<String>>(2))
        }
    };
    let (first, second) = (referral(friends[0]).await, referral(friends[1]).await);
    let (holder, duplicate, failed) = match (first.1.as_str(), second.1.as_str()) {
        ("completed", "failed") => (friends[0], friends[1], second),
        ("failed", "completed") => (friends[1], friends[0], first),
        other => panic!("one of the two must complete and the other fail: {other:?}"),
    };
    assert_eq!(failed.2.as_deref(), Some("duplicate_identity"));
    assert_eq!(referral(friends[2]).await.1, "completed", "another person's referral is untouched");
    let rewards: i64 =
        pg.query_one("SELECT count(*) FROM rewards WHERE referral_id = $1", &[&failed.0]).await.unwrap().get(0);
    assert_eq!(rewards, 0, "no reward for the duplicate's referral");
    assert_eq!(app.count("rewards").await, 2, "the two people's referred rewards");
    let audited: i64 = pg
        .query_one(
            "SELECT count(*) FROM audit_log WHERE entity_id = $1 AND action = 'failed' AND actor_id IS NULL",
            &[&failed.0],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);

    // Staff see why; the referrer cannot claim it; a later success changes nothing.
    let admin = app.admin().await;
    let looked_up = app.get_user(&admin.access, &duplicate.to_string()).await;
    assert_eq!(looked_up.data()["duplicateOf"], json!(holder.to_string()));
    assert_eq!(app.get_user(&admin.access, &holder.to_string()).await.data()["duplicateOf"], Value::Null);
    let tree =
        app.call(Method::GET, &format!("/api/referrals/tree?userId={}", ada.id), Some(&admin.access), None).await;
    let nodes = tree.data()["tree"]["referrals"].as_array().unwrap().clone();
    let node = nodes.iter().find(|n| n["id"] == json!(duplicate.to_string())).unwrap();
    assert_eq!(node["failReason"], "duplicate_identity");
    let own = app.get_user(&admin.access, &holder.to_string()).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(app.claim(&ada.access, failed.0, None).await.status, StatusCode::CONFLICT);
    let again = app.kyc_callback(&signed(duplicate, Some("bvn:22212345678")), KYC_SECRET, now).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(referral(duplicate).await.1, "failed");
    assert_eq!(app.count("kyc_identities").await, 2);
}
