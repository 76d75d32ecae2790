//! Webhooks out, against a local receiver that checks every signature and counts what it
//! gets: each raised event delivered once and signed; a receiver down for three attempts
//! gets the fourth, once; a sender dying mid-attempt loses nothing and never sends an
//! acknowledged event twice; addresses inside the network refused at delivery; rotation
//! signs with both secrets; an endpoint failing for 3 days disabled and the admins told.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use growstack::scheduler::Task;
use growstack_tests::TestApp;
use http::Method;
use serde_json::{json, Value};
use uuid::Uuid;

/// What the receiver got: each request's body and whether its signature held.
#[derive(Clone, Default)]
struct Receiver {
    secrets: Arc<Mutex<Vec<String>>>,
    got: Arc<Mutex<Vec<(Value, bool, usize)>>>,
    /// Answer 500 to this many requests first.
    fail_first: Arc<AtomicUsize>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers.get("x-growstack-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let t = header.split(',').find_map(|p| p.strip_prefix("t=")).unwrap_or("").to_owned();
    let signatures: Vec<Vec<u8>> =
        header.split(',').filter_map(|p| p.strip_prefix("v1=")).filter_map(|h| hex::decode(h).ok()).collect();
    let secrets = r.secrets.lock().unwrap().clone();
    let valid = secrets.iter().all(|secret| {
        signatures
            .iter()
            .any(|sig| growstack::signing::verify_hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", &body], sig))
    });
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.got.lock().unwrap().push((value, valid, signatures.len()));
    if r.fail_first.load(Ordering::SeqCst) > 0 {
        r.fail_first.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::NO_CONTENT
}

async fn receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (r, format!("http://{addr}/hook"))
}

/// An endpoint for `events` at `url`: its id, its secret registered with the receiver.
async fn endpoint(app: &TestApp, admin: &str, r: &Receiver, url: &str, events: &[&str]) -> String {
    let created =
        app.json(Method::POST, "/api/admin/webhooks", Some(admin), json!({ "url": url, "events": events })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let secret = created.data()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    r.secrets.lock().unwrap().push(secret);
    created.data()["id"].as_str().unwrap().to_owned()
}

/// Runs the webhook worker over what is queued until the queue is empty.
async fn deliver(app: &TestApp) {
    while app.drain_once(&app.aws.webhook_queue_url, app.state.webhook_worker()).await > 0 {}
}

fn types(r: &Receiver) -> Vec<String> {
    r.got.lock().unwrap().iter().map(|(v, _, _)| v["type"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn raised_events_are_delivered_once_and_signed() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    let all = ["user.registered", "reward.paid", "reward.voided", "experiment.completed"];
    let hook = endpoint(&app, &admin.access, &r, &url, &all).await;
    // A second endpoint for other types gets none of these.
    let (other, other_url) = receiver().await;
    endpoint(&app, &admin.access, &other, &other_url, &["kyc.updated"]).await;

    let ada = app.user(&app.email("ada")).await;
    let experiment = json!({
        "key": "hooked", "name": "Hooked", "metric": {"eventName": "deposit_made"},
        "variants": [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}],
    });
    let id = app.json(Method::POST, "/api/experiments", Some(&admin.access), experiment).await.data()["experiment"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for status in ["active", "completed"] {
        let r = app
            .json(Method::PATCH, &format!("/api/experiments/{id}"), Some(&admin.access), json!({"status": status}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let test = app.call(Method::POST, &format!("/api/admin/webhooks/{hook}/test"), Some(&admin.access), None).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    deliver(&app).await;
    deliver(&app).await;
    let mut got = types(&r);
    got.sort();
    assert_eq!(got, vec!["experiment.completed", "user.registered", "webhook.test"], "{:?}", r.got.lock().unwrap());
    assert!(r.got.lock().unwrap().iter().all(|(_, valid, _)| *valid), "every signature checks out");
    assert!(other.got.lock().unwrap().is_empty());
    let registered = r.got.lock().unwrap().iter().find(|(v, _, _)| v["type"] == "user.registered").unwrap().0.clone();
    assert_eq!(registered["data"]["id"], ada.id.to_string());
    assert!(registered["id"].is_string() && registered["createdAt"].is_string());
    // The deliveries say so.
    let list =
        app.call(Method::GET, &format!("/api/admin/webhooks/{hook}/deliveries"), Some(&admin.access), None).await;
    let statuses: Vec<&str> =
        list.data()["deliveries"].as_array().unwrap().iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["delivered"; 3], "{}", list.body);
    // A message delivered again (SQS may) sends nothing more.
    app.state.relay().run().await.unwrap();
    let ids: Vec<Uuid> = app
        .pg()
        .await
        .query("SELECT id FROM webhook_deliveries", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in ids {
        assert_eq!(app.state.webhook_worker().attempt(id).await.unwrap(), None);
    }
    assert_eq!(r.got.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_receiver_down_for_three_attempts_gets_the_fourth_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    let hook = endpoint(&app, &admin.access, &r, &url, &["user.registered"]).await;
    r.fail_first.store(3, Ordering::SeqCst);
    app.user(&app.email("grace")).await;
    deliver(&app).await;
    let pg = app.pg().await;
    for attempt in 2..=4 {
        let row = pg
            .query_one(
                "SELECT attempts, status, last_status_code, next_attempt_at > now() AS later FROM webhook_deliveries",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            (
                row.get::<_, i32>("attempts"),
                row.get::<_, String>("status"),
                row.get::<_, Option<i32>>("last_status_code")
            ),
            (attempt - 1, "pending".to_owned(), Some(500))
        );
        assert!(row.get::<_, bool>("later"), "backed off");
        // Not yet due: the retry task leaves it.
        let report = app.state.scheduler().run(&[Task::WebhookRetries]).await.unwrap();
        assert_eq!(report.webhooks_retried, 0);
        pg.execute("UPDATE webhook_deliveries SET next_attempt_at = now()", &[]).await.unwrap();
        let report = app.state.scheduler().run(&[Task::WebhookRetries]).await.unwrap();
        assert_eq!(report.webhooks_retried, 1);
        deliver(&app).await;
    }
    let got = r.got.lock().unwrap().len();
    assert_eq!(got, 4, "three refused, one taken");
    let list =
        app.call(Method::GET, &format!("/api/admin/webhooks/{hook}/deliveries"), Some(&admin.access), None).await;
    let delivery = &list.data()["deliveries"][0];
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_i64()),
        (Some("delivered"), Some(4)),
        "{delivery}"
    );
    // Nothing left to retry, and the endpoint is healthy again.
    pg.execute("UPDATE webhook_deliveries SET next_attempt_at = now()", &[]).await.unwrap();
    assert_eq!(app.state.scheduler().run(&[Task::WebhookRetries]).await.unwrap().webhooks_retried, 0);
    let hooks = app.call(Method::GET, "/api/admin/webhooks", Some(&admin.access), None).await;
    assert_eq!(hooks.data()["webhooks"][0]["failingSince"], Value::Null);
    // Past 72 hours a delivery that still fails is given up.
    r.fail_first.store(100, Ordering::SeqCst);
    app.user(&app.email("late")).await;
    pg.execute("UPDATE webhook_deliveries SET created_at = now() - interval '73 hours' WHERE status = 'pending'", &[])
        .await
        .unwrap();
    deliver(&app).await;
    let failed: i64 =
        pg.query_one("SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'", &[]).await.unwrap().get(0);
    assert_eq!(failed, 1);
}

#[tokio::test]
async fn a_sender_dying_mid_attempt_loses_nothing_and_an_acknowledged_event_is_not_sent_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    endpoint(&app, &admin.access, &r, &url, &["user.registered"]).await;
    app.user(&app.email("ada")).await;
    let pg = app.pg().await;
    let delivery: Uuid = pg.query_one("SELECT id FROM webhook_deliveries", &[]).await.unwrap().get(0);
    // A sender claims it and dies before sending (its lease stays, its message comes back).
    let claimed =
        growstack::webhooks::repo::claim(&app.state.db.writer().await.unwrap(), delivery, 30.0).await.unwrap();
    assert!(claimed.is_some());
    // Its message, and a second sender, find it held: nothing is sent twice at once.
    deliver(&app).await;
    assert!(r.got.lock().unwrap().is_empty());
    // The lease lapses, the retry task takes it again: delivered, once.
    pg.execute(
        "UPDATE webhook_deliveries SET leased_until = now() - interval '1 second', next_attempt_at = now()",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(app.state.scheduler().run(&[Task::WebhookRetries]).await.unwrap().webhooks_retried, 1);
    deliver(&app).await;
    assert_eq!(r.got.lock().unwrap().len(), 1);
    // Acknowledged: any later message for it sends nothing.
    assert_eq!(app.state.webhook_worker().attempt(delivery).await.unwrap(), None);
    assert_eq!(r.got.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn addresses_inside_the_network_are_refused_at_delivery_and_bad_endpoints_when_saved() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    endpoint(&app, &admin.access, &r, &url, &["user.registered"]).await;
    app.user(&app.email("ada")).await;
    // A worker outside local development: the loopback receiver is refused, and recorded.
    let mut worker = app.state.webhook_worker();
    worker.local = false;
    let delivery: Uuid = app.pg().await.query_one("SELECT id FROM webhook_deliveries", &[]).await.unwrap().get(0);
    assert_eq!(worker.attempt(delivery).await.unwrap(), Some(false));
    assert!(r.got.lock().unwrap().is_empty());
    let error: String =
        app.pg().await.query_one("SELECT last_error FROM webhook_deliveries", &[]).await.unwrap().get(0);
    assert!(error.contains("must use https") || error.contains("not a public address"), "{error}");

    for (body, field) in [
        (json!({ "url": "ftp://example.com/", "events": ["reward.paid"] }), "url"),
        (json!({ "url": "http://user:pw@127.0.0.1/", "events": ["reward.paid"] }), "url"),
        (json!({ "url": "http://127.0.0.1/", "events": [] }), "events"),
        (json!({ "url": "http://127.0.0.1/", "events": ["reward.stolen"] }), "events"),
        (json!({ "url": "http://127.0.0.1/", "events": ["webhook.test"] }), "events"),
    ] {
        let r = app.json(Method::POST, "/api/admin/webhooks", Some(&admin.access), body.clone()).await;
        assert_eq!(
            (r.status, r.body["error"]["details"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body}"
        );
    }
    let user = app.user(&app.email("plain")).await;
    let r = app
        .json(Method::POST, "/api/admin/webhooks", Some(&user.access), json!({ "url": url, "events": ["reward.paid"] }))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("webhook_endpoints").await, 1);
}

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_and_a_redelivery_sends_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    let hook = endpoint(&app, &admin.access, &r, &url, &["user.registered"]).await;
    let rotated =
        app.call(Method::POST, &format!("/api/admin/webhooks/{hook}/rotate-secret"), Some(&admin.access), None).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_secret = rotated.data()["secret"].as_str().unwrap().to_owned();
    assert!(rotated.data()["previousSecretUntil"].is_string());
    // The receiver checks with both: each must sign.
    r.secrets.lock().unwrap().push(new_secret);
    app.user(&app.email("ada")).await;
    deliver(&app).await;
    {
        let got = r.got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].1, "both signatures check out");
        assert_eq!(got[0].2, 2, "two v1 signatures");
    }
    let list =
        app.call(Method::GET, &format!("/api/admin/webhooks/{hook}/deliveries"), Some(&admin.access), None).await;
    let delivery = list.data()["deliveries"][0]["id"].as_str().unwrap().to_owned();
    let again = app
        .call(
            Method::POST,
            &format!("/api/admin/webhooks/{hook}/deliveries/{delivery}/redeliver"),
            Some(&admin.access),
            None,
        )
        .await;
    assert_eq!((again.status, again.data()["status"].as_str()), (StatusCode::OK, Some("pending")), "{}", again.body);
    deliver(&app).await;
    let got = r.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0["id"], got[1].0["id"], "the same event, the same id");
    let missing = format!("/api/admin/webhooks/{hook}/deliveries/{}/redeliver", Uuid::now_v7());
    assert_eq!(app.call(Method::POST, &missing, Some(&admin.access), None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_disabled_and_the_admins_told() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    let hook = endpoint(&app, &admin.access, &r, &url, &["user.registered"]).await;
    r.fail_first.store(100, Ordering::SeqCst);
    app.user(&app.email("ada")).await;
    deliver(&app).await;
    let pg = app.pg().await;
    pg.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '3 days 1 hour'", &[]).await.unwrap();
    let report = app.state.scheduler().run(&[Task::WebhookRetries]).await.unwrap();
    assert_eq!(report.webhooks_disabled, 1);
    let hooks = app.call(Method::GET, "/api/admin/webhooks", Some(&admin.access), None).await;
    let row = &hooks.data()["webhooks"][0];
    assert_eq!(
        (row["enabled"].as_bool(), row["disabledReason"].as_str()),
        (Some(false), Some("every delivery failed for 3 days"))
    );
    app.run_workers().await;
    let mails = growstack_tests::emails_to(&admin.email).await;
    assert!(
        mails.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("webhook endpoint was disabled"))),
        "{mails:?}"
    );
    // Disabled: nothing more is raised for it; enabled again, deliveries resume.
    assert_eq!(app.state.scheduler().run(&[Task::WebhookRetries]).await.unwrap().webhooks_disabled, 0, "told once");
    let r2 = app
        .json(Method::PATCH, &format!("/api/admin/webhooks/{hook}"), Some(&admin.access), json!({"enabled": true}))
        .await;
    assert_eq!((r2.status, r2.data()["enabled"].as_bool()), (StatusCode::OK, Some(true)), "{}", r2.body);
    r.fail_first.store(0, Ordering::SeqCst);
    app.user(&app.email("grace")).await;
    deliver(&app).await;
    assert_eq!(types(&r).last().map(String::as_str), Some("user.registered"));
    let deleted = app.call(Method::DELETE, &format!("/api/admin/webhooks/{hook}"), Some(&admin.access), None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(app.count("webhook_deliveries").await, 0);
}

/// The whole loop through the API alone, with an endpoint taking every event type: each
/// raised once, `reward.paid` once although the payout system retried.
#[tokio::test]
async fn every_event_type_goes_out_once_through_the_payout_loop() {
    let app = TestApp::spawn_with(&[("REFERRED_REWARD_AMOUNT", "100.00")]).await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    let every = [
        "user.registered",
        "kyc.updated",
        "referral.completed",
        "reward.available",
        "reward.paid",
        "reward.voided",
        "experiment.completed",
    ];
    endpoint(&app, &admin.access, &r, &url, &every).await;
    let (ada, grace, _, referral) = app.referred_pair().await;
    app.kyc(grace, "successful").await;
    // The referrer claims hers: two rewards, each announced once by the minute's task.
    assert_eq!(app.claim(&ada.access, referral, None).await.status, StatusCode::OK);
    for _ in 0..2 {
        app.state.scheduler().run(&[Task::WebhookRetries]).await.unwrap();
    }
    let rewards = app.call(Method::GET, "/api/admin/rewards?status=available", Some(&admin.access), None).await;
    let ids: Vec<String> =
        rewards.data()["rewards"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 2, "{}", rewards.body);
    let pay = json!({ "status": "paid", "externalRef": "CBA-1" });
    for _ in 0..2 {
        let r =
            app.json(Method::PATCH, &format!("/api/admin/rewards/{}", ids[0]), Some(&admin.access), pay.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let void = json!({ "status": "voided", "reason": "duplicate account" });
    let voided = app.json(Method::PATCH, &format!("/api/admin/rewards/{}", ids[1]), Some(&admin.access), void).await;
    assert_eq!(voided.status, StatusCode::OK, "{}", voided.body);
    let experiment = json!({
        "key": "loop", "name": "Loop", "metric": {"eventName": "deposit_made"},
        "variants": [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}],
    });
    let id = app.json(Method::POST, "/api/experiments", Some(&admin.access), experiment).await.data()["experiment"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for status in ["active", "completed"] {
        app.json(Method::PATCH, &format!("/api/experiments/{id}"), Some(&admin.access), json!({"status": status}))
            .await;
    }
    deliver(&app).await;
    let mut got = types(&r);
    got.sort();
    let mut expected = vec![
        "experiment.completed",
        "kyc.updated",
        "referral.completed",
        "reward.available",
        "reward.available",
        "reward.paid",
        "reward.voided",
        "user.registered",
        "user.registered",
    ];
    expected.sort();
    assert_eq!(got, expected, "{:?}", r.got.lock().unwrap());
    assert!(r.got.lock().unwrap().iter().all(|(_, valid, _)| *valid));
    let paid = r.got.lock().unwrap().iter().find(|(v, _, _)| v["type"] == "reward.paid").unwrap().0.clone();
    assert_eq!(paid["data"]["externalRef"], "CBA-1");
    let ids: std::collections::BTreeSet<String> =
        r.got.lock().unwrap().iter().map(|(v, _, _)| v["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), expected.len(), "each event its own id");
}

/// The worker's sample event, through its handler as Lambda runs it: the delivery sent, and
/// nothing used that the function's declaration (and so its policy) leaves out.
#[tokio::test]
async fn the_webhook_worker_event_runs_through_its_handler() {
    use growstack::worker::SqsWorker;
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    endpoint(&app, &admin.access, &r, &url, &["user.registered"]).await;
    app.user(&app.email("ada")).await;
    let delivery: Uuid = app.pg().await.query_one("SELECT id FROM webhook_deliveries", &[]).await.unwrap().get(0);
    let job = Uuid::now_v7().to_string();
    let payload = growstack_tests::event(
        "webhook-worker",
        &[("REPLACE_WITH_JOB_ID", job.as_str()), ("REPLACE_WITH_DELIVERY_ID", delivery.to_string().as_str())],
    );
    let sqs: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(payload).unwrap();
    let (response, used) = growstack::uses::recording(app.state.webhook_worker().handle(sqs)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(r.got.lock().unwrap().len(), 1);
    let declared = growstack::uses::BACKGROUND.iter().find(|b| b.function == "webhook-worker").unwrap().uses;
    assert!(growstack::uses::undeclared(&used, declared).is_empty(), "{used:?}");
    // A body that is not a job is refused alone, as poison.
    let mut poison: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_value(growstack_tests::event("webhook-worker", &[])).unwrap();
    poison.records[0].body = Some("not a job".into());
    assert_eq!(app.state.webhook_worker().handle(poison).await.batch_item_failures.len(), 1);
}

/// Senders racing for one delivery (a duplicated message, the retry task beside the outbox):
/// the receiver gets it once.
#[tokio::test]
async fn senders_racing_for_a_delivery_send_it_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (r, url) = receiver().await;
    endpoint(&app, &admin.access, &r, &url, &["user.registered"]).await;
    app.user(&app.email("ada")).await;
    let delivery: Uuid = app.pg().await.query_one("SELECT id FROM webhook_deliveries", &[]).await.unwrap().get(0);
    let worker = app.state.webhook_worker();
    let attempts = (0..6).map(|_| worker.attempt(delivery));
    let outcomes: Vec<Option<bool>> =
        futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == Some(true)).count(), 1, "{outcomes:?}");
    assert_eq!(r.got.lock().unwrap().len(), 1);
}
