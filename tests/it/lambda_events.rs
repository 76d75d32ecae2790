//! Every payload in events/ fed through lambda_http into its function's handler, as
//! `sam local invoke -e events/<function>.json` would, against real Postgres and Redis.

use growstack::app::ENDPOINTS;
use growstack::uses::recording;
use growstack::worker::SqsWorker;
use growstack::Endpoint;
use growstack_tests::{event, lambda_body, TestApp};
use serde_json::Value;

/// What the background function `name` declares it uses.
fn declared(name: &str) -> std::collections::BTreeSet<growstack::uses::Resource> {
    growstack::uses::BACKGROUND.iter().find(|b| b.function == name).unwrap().uses.iter().copied().collect()
}

fn endpoint(function: &str) -> &'static Endpoint {
    ENDPOINTS.iter().find(|e| e.function == function).unwrap_or_else(|| panic!("no endpoint {function}"))
}

async fn invoke(app: &TestApp, function: &str, replacements: &[(&str, &str)]) -> (u64, Value, Value) {
    let response = app.invoke(endpoint(function), event(function, replacements)).await;
    let status = response["statusCode"].as_u64().unwrap();
    (status, lambda_body(&response), response)
}

/// The KYC webhook's event for `user`, signed as the provider would sign it.
async fn invoke_kyc_webhook(app: &TestApp, user: &str, event_id: &str) -> (u64, Value, Value) {
    let payload = growstack_tests::signed_kyc_event(user, event_id, growstack_tests::KYC_SECRET);
    let response = app.invoke(endpoint("webhooks-kyc"), payload).await;
    (response["statusCode"].as_u64().unwrap(), lambda_body(&response), response)
}

#[tokio::test]
async fn every_event_runs_through_its_function() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    let (status, body, response) = invoke(&app, "health", &[]).await;
    assert_eq!(status, 200, "{body}");
    let request_id = event("health", &[])["requestContext"]["requestId"].clone();
    assert_eq!(response["headers"]["x-request-id"], request_id, "API Gateway's request id is used");

    let (status, body, _) = invoke(&app, "auth-register", &[]).await;
    assert_eq!(status, 201, "{body}");
    let user_id = body["data"]["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["user"]["deviceFingerprint"], "fp-7f3a9c");

    let (status, body, _) = invoke(&app, "auth-login", &[]).await;
    assert_eq!(status, 200, "{body}");
    let access = body["data"]["accessToken"].as_str().unwrap().to_owned();
    let refresh = body["data"]["refreshToken"].as_str().unwrap().to_owned();

    let (status, body, _) = invoke(&app, "auth-refresh-token", &[("REPLACE_WITH_REFRESH_TOKEN", &refresh)]).await;
    assert_eq!(status, 200, "{body}");

    let as_user = [("REPLACE_WITH_ACCESS_TOKEN", access.as_str())];
    let (status, body, _) = invoke(&app, "users-profile-get", &as_user).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["email"], "ada@example.com");

    let (status, body, _) = invoke(&app, "users-profile-update", &as_user).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["firstName"], "Augusta");

    let as_admin = [("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str())];
    let (status, body, _) = invoke(&app, "users-list", &as_admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["users"].as_array().unwrap().len(), 2);

    let sample_id = "0192f0c4-8a6e-7c3a-9d1e-3b5f4a2c1d0e";
    let (status, _, _) = invoke(&app, "users-get", &as_admin).await;
    assert_eq!(status, 404, "the sample id belongs to nobody here");
    let real = [as_admin[0], (sample_id, user_id.as_str())];
    let (status, body, _) = invoke(&app, "users-get", &real).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], user_id);

    let (status, body, _) = invoke(&app, "users-block", &real).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["blocked"], true);
    let (status, _, _) = invoke(&app, "auth-login", &[]).await;
    assert_eq!(status, 403, "blocked by the previous event");

    // A user's token on an admin function, and no token at all.
    let (status, body, _) = invoke(&app, "users-list", &as_user).await;
    assert_eq!(status, 403, "{body}");
    let (status, body, _) = invoke(&app, "users-list", &[("Bearer REPLACE_WITH_ACCESS_TOKEN", "")]).await;
    assert_eq!(status, 401, "{body}");
    app.assert_keys_used_as_declared();
}

#[tokio::test]
async fn a_function_serves_only_its_own_route() {
    let app = TestApp::spawn().await;
    // The login event sent to the register function's router finds no route there.
    let response = app.invoke(endpoint("auth-register"), event("auth-login", &[])).await;
    assert_eq!(response["statusCode"], 404);
}

#[tokio::test]
async fn the_migrate_function_applies_migrations_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let payload = event("migrate", &[]);
    for _ in 0..2 {
        let event = lambda_runtime::LambdaEvent::new(payload.clone(), lambda_runtime::Context::default());
        let out = growstack::lambda::migrate_handler(&app.state.db, event).await.unwrap();
        assert_eq!(out["migrated"], true);
    }
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count() as i64;
    assert_eq!(app.count("refinery_schema_history").await, files);

    // The first admin, from the operator's invocation alone: a password that signs in.
    let email = app.email("first-admin");
    let create = serde_json::json!({ "createAdmin": { "email": email } });
    let event = lambda_runtime::LambdaEvent::new(create.clone(), lambda_runtime::Context::default());
    let out = growstack::lambda::migrate_handler(&app.state.db, event).await.unwrap();
    let password = out["admin"]["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 24);
    let login = app
        .json(http::Method::POST, "/api/auth/login", None, serde_json::json!({ "email": email, "password": password }))
        .await;
    assert_eq!(login.status, http::StatusCode::OK, "{}", login.body);
    assert_eq!(login.data()["user"]["role"], "admin");
    // Again: a new password, the old one refused.
    let event = lambda_runtime::LambdaEvent::new(create, lambda_runtime::Context::default());
    let again = growstack::lambda::migrate_handler(&app.state.db, event).await.unwrap();
    assert_ne!(again["admin"]["password"], out["admin"]["password"]);
    let old = app
        .json(http::Method::POST, "/api/auth/login", None, serde_json::json!({ "email": email, "password": password }))
        .await;
    assert_eq!(old.status, http::StatusCode::UNAUTHORIZED);
    let bad = serde_json::json!({ "createAdmin": { "email": "not an address" } });
    let event = lambda_runtime::LambdaEvent::new(bad, lambda_runtime::Context::default());
    assert!(growstack::lambda::migrate_handler(&app.state.db, event).await.is_err());
}

/// A release rolled back after its migration ran leaves the schema one migration ahead of
/// the code: the rollback's migrate step succeeds (refinery's default refuses a database that
/// knows a migration the code does not, and the stack ended in UPDATE_ROLLBACK_FAILED), and
/// the code runs on the schema, since a migration only adds.
#[tokio::test]
async fn code_a_release_behind_migrates_and_runs_on_a_schema_one_migration_ahead() {
    let app = TestApp::spawn().await;
    app.pg()
        .await
        .batch_execute(
            "ALTER TABLE users ADD COLUMN next_release_note text NOT NULL DEFAULT '';
             ALTER TABLE events ADD COLUMN next_release_weight int;
             CREATE TABLE next_release_things (id uuid PRIMARY KEY);
             INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES (9999, 'next_release', '2026-12-07T12:00:00Z', '1234567890');",
        )
        .await
        .unwrap();
    let payload = event("migrate", &[]);
    let event = lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default());
    let out = growstack::lambda::migrate_handler(&app.state.db, event).await.unwrap();
    assert_eq!(out["migrated"], true);
    let user = app.user(&app.email("behind")).await;
    assert_eq!(app.profile(&user.access).await.status, http::StatusCode::OK);
    let r = app
        .json(http::Method::POST, "/api/events/track", Some(&user.access), serde_json::json!({ "eventName": "tap" }))
        .await;
    assert_eq!(r.status, http::StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn notification_events_run_through_their_functions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("events")).await;
    app.run_workers().await;
    let uid = user.id.to_string();
    let as_admin = [("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str()), ("REPLACE_WITH_USER_ID", uid.as_str())];
    for function in
        ["notifications-send", "notifications-batch", "notifications-inactivity-nudge", "notifications-kyc-reminder"]
    {
        let (status, body, _) = invoke(&app, function, &as_admin).await;
        assert_eq!(status, 202, "{function}: {body}");
    }
    app.run_workers().await;

    let as_user = [("REPLACE_WITH_ACCESS_TOKEN", user.access.as_str())];
    let (status, body, _) = invoke(&app, "notifications-list", &as_user).await;
    assert_eq!(status, 200, "{body}");
    let unread = body["data"]["notifications"].as_array().unwrap();
    assert_eq!(unread.len(), 5, "welcome, send, batch and the two nudges: {body}");
    let id = unread[0]["id"].as_str().unwrap();
    let (status, body, _) =
        invoke(&app, "notifications-mark-read", &[as_user[0], ("REPLACE_WITH_NOTIFICATION_ID", id)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["read"], true);
    app.assert_keys_used_as_declared();
}

#[tokio::test]
async fn worker_and_scheduler_events_run_through_their_handlers() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("sqs-events")).await;
    let uid = user.id.to_string();
    let (job1, job2) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
    let (to1, to2) = (app.email("sqs-one"), app.email("sqs-two"));

    let email_event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event(
        "email-worker",
        &[
            ("REPLACE_WITH_JOB_ID_1", &job1),
            ("REPLACE_WITH_JOB_ID_2", &job2),
            ("REPLACE_WITH_EMAIL_1", &to1),
            ("REPLACE_WITH_EMAIL_2", &to2),
        ],
    ))
    .unwrap();
    let (response, used) = recording(app.state.email_worker().handle(email_event.clone())).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    // What it uses is declared (the JWT keys are only fetched when they live in Secrets
    // Manager, which tests/secrets.rs covers); the table and SES, it certainly uses.
    assert!(used.is_subset(&declared("email-worker")), "{used:?}");
    assert!(
        used.contains(&growstack::uses::Resource::SesSend)
            && used.contains(&growstack::uses::Resource::IdempotencyTable)
    );
    // Delivered again, as SQS may: still one email each.
    assert!(app.state.email_worker().handle(email_event).await.batch_item_failures.is_empty());
    assert_eq!(growstack_tests::emails_to(&to1).await.len(), 1);
    assert_eq!(growstack_tests::emails_to(&to2).await[0]["subject"], "We miss you");

    let notification_event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event(
        "notification-worker",
        &[("REPLACE_WITH_JOB_ID_1", &job1), ("REPLACE_WITH_JOB_ID_2", &job2), ("REPLACE_WITH_USER_ID", &uid)],
    ))
    .unwrap();
    let (response, used) = recording(app.state.notification_worker().handle(notification_event)).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(used.is_subset(&declared("notification-worker")), "{used:?}");
    assert!(used.contains(&growstack::uses::Resource::EmailQueue));
    let statuses: Vec<(String, String)> = app
        .pg()
        .await
        .query("SELECT channel, status FROM notifications WHERE type = 'custom' ORDER BY channel", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(statuses, vec![("email".into(), "sent".into()), ("push".into(), "failed".into())]);

    let payload = event("scheduler", &[]);
    let report = growstack::lambda::scheduler_handler(
        &app.state.scheduler(),
        lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(report["dispatched"], 0);
    // Fired again within its minute (EventBridge's retry, or a server's timer beside it):
    // the tick is taken, so it is skipped.
    let again = growstack::lambda::scheduler_handler(
        &app.state.scheduler(),
        lambda_runtime::LambdaEvent::new(event("scheduler", &[]), lambda_runtime::Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(again["skipped"], serde_json::json!(["due-notifications"]));
    let bad =
        lambda_runtime::LambdaEvent::new(serde_json::json!({"task": "reboot"}), lambda_runtime::Context::default());
    assert!(growstack::lambda::scheduler_handler(&app.state.scheduler(), bad).await.is_err());

    // With something due, every task: the scheduler uses what it declares.
    app.pg()
        .await
        .execute(
            "INSERT INTO notifications (id, user_id, type, channel, title, content, scheduled_for)
             VALUES ($1, $2, 'custom', 'email', 'Later', 'Hello', now() - interval '1 minute')",
            &[&uuid::Uuid::now_v7(), &user.id],
        )
        .await
        .unwrap();
    let (report, used) = recording(app.state.scheduler().run(&growstack::scheduler::Task::ALL)).await;
    assert_eq!(report.unwrap().dispatched, 1);
    // The export may find nothing it can send yet (other tests' transactions hold its
    // horizon back): what it used is within the declaration, the queue at least.
    assert!(used.is_subset(&declared("scheduler")), "{used:?}");
    assert!(used.contains(&growstack::uses::Resource::NotificationQueue));

    let feedback: aws_lambda_events::event::sns::SnsEvent = serde_json::from_value(event(
        "ses-feedback",
        &[("REPLACE_WITH_BOUNCED_EMAIL", &to1), ("REPLACE_WITH_COMPLAINED_EMAIL", &to2)],
    ))
    .unwrap();
    let (suppressed, used) = recording(app.state.ses_feedback().handle(feedback)).await;
    assert_eq!(suppressed.unwrap(), 2);
    assert!(used.is_subset(&declared("ses-feedback")), "{used:?}");
}

#[tokio::test]
async fn referral_and_onboarding_events_run_through_their_functions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ada = app.user(&app.email("ada-events")).await;
    let as_ada = [("REPLACE_WITH_ACCESS_TOKEN", ada.access.as_str())];
    for function in ["referrals-code", "referrals-link", "referrals-stats", "referrals-list"] {
        let (status, body, _) = invoke(&app, function, &as_ada).await;
        assert_eq!(status, 200, "{function}: {body}");
    }
    let invitee = app.email("invitee-events");
    let (status, body, _) =
        invoke(&app, "referrals-invite", &[as_ada[0], ("REPLACE_WITH_INVITEE_EMAIL", invitee.as_str())]).await;
    assert_eq!(status, 201, "{body}");

    // The invitee signs up with Ada's code and completes onboarding through the step event.
    let code = app.profile(&ada.access).await.data()["referralCode"].as_str().unwrap().to_owned();
    let mut registration = TestApp::registration(&invitee);
    registration["referralCode"] = serde_json::json!(code);
    let registered = app.register(registration).await;
    let invitee_token = registered.data()["accessToken"].as_str().unwrap().to_owned();
    app.verify(registered.data()["user"]["id"].as_str().unwrap().parse().unwrap()).await;
    let (status, body, _) = invoke(&app, "onboarding-step", &[("REPLACE_WITH_ACCESS_TOKEN", &invitee_token)]).await;
    assert_eq!(status, 200, "{body}");
    let invitee_id = registered.data()["user"]["id"].as_str().unwrap().to_owned();
    let (status, body, _) = invoke_kyc_webhook(&app, &invitee_id, "1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["applied"], true);
    let (status, body, _) = invoke_kyc_webhook(&app, &invitee_id, "1").await;
    assert_eq!((status, &body["data"]["duplicate"]), (200, &serde_json::json!(true)), "replayed");

    let listed = app.call(http::Method::GET, "/api/referrals?status=completed", Some(&ada.access), None).await;
    let referral = listed.data()["referrals"][0]["id"].as_str().unwrap().to_owned();
    let claim = [as_ada[0], ("REPLACE_WITH_REFERRAL_ID", referral.as_str()), ("REPLACE_WITH_IDEMPOTENCY_KEY", "evt-1")];
    let (status, body, _) = invoke(&app, "referrals-claim-reward", &claim).await;
    assert_eq!(status, 200, "{body}");
    let (status, again, response) = invoke(&app, "referrals-claim-reward", &claim).await;
    assert_eq!((status, &again), (200, &body), "replayed");
    assert_eq!(response["headers"]["idempotent-replayed"], "true");

    let uid = ada.id.to_string();
    let as_admin = [("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str()), ("REPLACE_WITH_USER_ID", uid.as_str())];
    for function in ["referrals-tree", "onboarding-stats", "onboarding-time-stats"] {
        let (status, body, _) = invoke(&app, function, &as_admin).await;
        assert_eq!(status, 200, "{function}: {body}");
    }
    app.assert_keys_used_as_declared();
}

#[tokio::test]
async fn session_and_account_events_run_through_their_functions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.unverified_user(&app.email("session-events")).await;
    let as_user = [("REPLACE_WITH_ACCESS_TOKEN", user.access.as_str())];

    let (status, body, _) = invoke(&app, "auth-resend-verification", &as_user).await;
    assert_eq!(status, 200, "{body}");
    let token = app.verification_token(user.id).await;
    let (status, body, _) = invoke(&app, "auth-verify-email", &[("REPLACE_WITH_VERIFICATION_TOKEN", &token)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["emailVerified"], true);

    let (status, body, _) = invoke(&app, "auth-logout", &[("REPLACE_WITH_REFRESH_TOKEN", &user.refresh)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.refresh(&user.refresh).await.status, http::StatusCode::UNAUTHORIZED);

    let password = [as_user[0], ("REPLACE_WITH_CURRENT_PASSWORD", user.password.as_str())];
    let (status, body, _) = invoke(&app, "users-password", &password).await;
    assert_eq!(status, 200, "{body}");
    let access = body["data"]["accessToken"].as_str().unwrap().to_owned();

    let uid = user.id.to_string();
    let role = [("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str()), ("0192f0c4-8a6e-7c3a-9d1e-3b5f4a2c1d0e", &uid)];
    let (status, body, _) = invoke(&app, "users-role", &role).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["role"], "analyst");
    assert_eq!(app.profile(&access).await.status, http::StatusCode::UNAUTHORIZED, "the role change revoked it");

    let (access, _) = {
        let r = app.login(&user.email, "a-brand-new-passphrase").await;
        (r.data()["accessToken"].as_str().unwrap().to_owned(), ())
    };
    let (status, body, _) = invoke(&app, "auth-logout-all", &[("REPLACE_WITH_ACCESS_TOKEN", &access)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.profile(&access).await.status, http::StatusCode::UNAUTHORIZED);
    app.assert_keys_used_as_declared();
}

#[tokio::test]
async fn ledger_and_unsubscribe_events_run_through_their_functions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ada = app.user(&app.email("ledger-ada")).await;
    let code = app.profile(&ada.access).await.data()["referralCode"].as_str().unwrap().to_owned();
    let mut registration = TestApp::registration(&app.email("ledger-grace"));
    registration["referralCode"] = serde_json::json!(code);
    let grace = app.register(registration).await.data()["user"]["id"].as_str().unwrap().to_owned();
    app.verify(grace.parse().unwrap()).await;
    let (status, body, _) = invoke_kyc_webhook(&app, &grace, "ledger-1").await;
    assert_eq!(status, 200, "{body}");
    let referral: uuid::Uuid = app.pg().await.query_one("SELECT id FROM referrals", &[]).await.unwrap().get(0);
    let r = app
        .json(
            http::Method::POST,
            "/api/referrals/claim-reward",
            Some(&ada.access),
            serde_json::json!({ "referralId": referral }),
        )
        .await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);

    let as_admin = ("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str());
    let response = app.invoke(endpoint("admin-rewards-list"), event("admin-rewards-list", &[as_admin])).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    let csv = response["body"].as_str().unwrap();
    assert_eq!(csv.lines().count(), 2, "a header and the referrer's available reward: {csv}");
    let reward: uuid::Uuid = app.pg().await.query_one("SELECT id FROM rewards", &[]).await.unwrap().get(0);
    let (status, body, _) =
        invoke(&app, "admin-rewards-update", &[as_admin, ("REPLACE_WITH_REWARD_ID", &reward.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "paid");
    let (status, body, _) =
        invoke(&app, "admin-referrals-update", &[as_admin, ("REPLACE_WITH_REFERRAL_ID", &referral.to_string())]).await;
    assert_eq!(status, 409, "its reward is paid out: {body}");

    let token = growstack::email::unsubscribe_url(
        "",
        &app.state.tokens.links().await.unwrap(),
        &ada.email,
        growstack::email::Category::Inactivity,
    );
    let token = token.split_once("token=").unwrap().1.to_owned();
    let (status, body, _) =
        invoke(&app, "notifications-unsubscribe", &[("REPLACE_WITH_UNSUBSCRIBE_TOKEN", &token)]).await;
    assert_eq!(status, 200, "{body}");
    let response = app
        .invoke(
            endpoint("notifications-unsubscribe-page"),
            event("notifications-unsubscribe-page", &[("REPLACE_WITH_UNSUBSCRIBE_TOKEN", &token)]),
        )
        .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert!(response["body"].as_str().unwrap().contains("Unsubscribe</button>"));
    app.assert_keys_used_as_declared();
}

/// An endpoint whose handler sends to the email queue but declares nothing.
const UNDECLARED: Endpoint = Endpoint {
    function: "undeclared",
    method: http::Method::GET,
    path: "/undeclared",
    route: || {
        axum::routing::get(|| async {
            growstack::uses::record(growstack::uses::Resource::EmailQueue);
            "sent"
        })
    },
    doc: growstack_tests::undocumented,
    uses: &[],
    key_scope: None,
    tier: growstack::endpoint::Tier::Standard,
};

#[tokio::test]
async fn a_use_the_endpoint_does_not_declare_fails_the_request_in_tests() {
    let app = TestApp::spawn().await;
    let router = growstack::endpoint::router_for([&UNDECLARED], app.state.clone());
    let request = http::Request::get("/undeclared").body(axum::body::Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn event_tracking_events_run_through_their_functions() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("events-fn")).await;
    let as_user = ("REPLACE_WITH_ACCESS_TOKEN", user.access.as_str());
    let (status, body, _) = invoke(&app, "events-track", &[as_user, ("REPLACE_WITH_EVENT_ID", "evt-a")]).await;
    assert_eq!(status, 201, "{body}");
    let (status, body, _) = invoke(&app, "events-batch", &[as_user, ("REPLACE_WITH_EVENT_ID", "evt-b")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["data"]["accepted"], &body["data"]["rejected"][0]["index"]),
        (&serde_json::json!(2), &serde_json::json!(2))
    );
    let (status, body, _) = invoke(&app, "events-list", &[as_user]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 2, "both screen_viewed events: {body}");
    assert_ne!(body["data"]["events"][0]["metadata"]["ip"], "6.6.6.6");
    let (status, body, _) = invoke(&app, "events-stats", &[as_user]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["stats"]["total"], 2);
    app.assert_keys_used_as_declared();
}

#[tokio::test]
async fn analytics_events_run_through_their_functions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("analytics-fn")).await;
    let as_admin = [("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str())];
    let as_user = [("REPLACE_WITH_ACCESS_TOKEN", user.access.as_str())];
    for function in [
        "analytics-onboarding",
        "analytics-referrals",
        "analytics-events",
        "analytics-notifications",
        "analytics-users",
        "analytics-retention",
        "analytics-funnels",
    ] {
        let (status, body, _) = invoke(&app, function, &as_admin).await;
        assert_eq!(status, 200, "{function}: {body}");
        assert_eq!(body["success"], true);
        let (status, _, _) = invoke(&app, function, &as_user).await;
        assert_eq!(status, 403, "{function}");
    }
    // Every account so far: the admin and the user.
    let (_, body, _) = invoke(&app, "analytics-users", &as_admin).await;
    assert_eq!(body["data"]["totalUsers"], 2, "{body}");
    let (_, body, _) = invoke(&app, "analytics-funnels", &as_admin).await;
    assert_eq!(body["data"]["groups"]["organic"]["steps"].as_array().unwrap().len(), 3, "{body}");
    app.assert_keys_used_as_declared();
}

#[tokio::test]
async fn experiment_events_run_through_their_functions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("experiments-fn")).await;
    let as_admin = ("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str());
    let as_user = ("REPLACE_WITH_ACCESS_TOKEN", user.access.as_str());

    let (status, body, _) = invoke(&app, "experiments-create", &[as_user]).await;
    assert_eq!(status, 403, "a user cannot create: {body}");
    let (status, body, _) = invoke(&app, "experiments-create", &[as_admin]).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["experiment"]["id"].as_str().unwrap().to_owned();
    let with_id = [as_admin, ("REPLACE_WITH_EXPERIMENT_ID", id.as_str())];

    let (status, body, _) = invoke(&app, "experiments-assignment", &[as_user]).await;
    assert_eq!(status, 409, "a draft assigns nobody: {body}");
    let (status, body, _) = invoke(&app, "experiments-update", &with_id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["experiment"]["status"], "active");

    let (status, body, _) = invoke(&app, "experiments-assignment", &[as_user]).await;
    assert_eq!(status, 200, "{body}");
    let variant = body["data"]["variant"].as_str().unwrap().to_owned();
    assert!(["control", "short-kyc"].contains(&variant.as_str()), "{body}");
    let flow = if variant == "control" { "classic" } else { "short" };
    assert_eq!(body["data"]["config"]["flow"], flow);

    let (status, body, _) = invoke(&app, "experiments-list", &[as_user]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["experiments"][0]["key"], "new-onboarding");
    assert!(body["data"]["experiments"][0].get("seed").is_none(), "users never see the seed: {body}");

    let (status, body, _) = invoke(&app, "experiments-get", &with_id).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = invoke(&app, "experiments-results", &with_id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["results"]["totalParticipants"], 1, "{body}");
    let (status, _, _) = invoke(&app, "experiments-results", &[as_user, ("REPLACE_WITH_EXPERIMENT_ID", &id)]).await;
    assert_eq!(status, 403);
    app.assert_keys_used_as_declared();
}

#[tokio::test]
async fn api_key_events_run_through_their_functions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let as_admin = [("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str())];
    let (status, body, _) = invoke(&app, "admin-api-keys-create", &as_admin).await;
    assert_eq!(status, 201, "{body}");
    let (id, secret) =
        (body["data"]["id"].as_str().unwrap().to_owned(), body["data"]["key"].as_str().unwrap().to_owned());
    let (status, body, _) = invoke(&app, "admin-api-keys-list", &as_admin).await;
    assert_eq!((status, body["data"]["apiKeys"][0]["id"].as_str()), (200, Some(id.as_str())), "{body}");
    // The key on the ledger's function, as the operator's payout system calls it.
    let (status, body, _) = invoke(&app, "admin-rewards-list", &[("REPLACE_WITH_ACCESS_TOKEN", secret.as_str())]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) =
        invoke(&app, "admin-api-keys-revoke", &[as_admin[0], ("REPLACE_WITH_ID", id.as_str())]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = invoke(&app, "admin-rewards-list", &[("REPLACE_WITH_ACCESS_TOKEN", secret.as_str())]).await;
    assert_eq!(status, 401, "revoked");
    app.assert_keys_used_as_declared();
}
