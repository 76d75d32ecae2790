//! Failure paths found in review: lapsed idempotency claims, stuck scheduler claims,
//! duplicate and unsendable invitations, and page totals past the last page.

use std::time::Duration;

use growstack::idempotency::{Claim, Idempotency};
use growstack::scheduler::Task;
use growstack_tests::TestApp;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_lapsed_claim_belongs_to_whoever_took_it_over() {
    let app = TestApp::spawn().await;
    // The first attempt's claim lapses at once; the second's holds for the usual lease (a
    // second with no lease could lapse under a busy machine's clock before the checks below).
    let lapsing = Idempotency::new(app.state.aws.dynamodb(), app.aws.idempotency_table.clone())
        .with_in_progress_expiry(Duration::ZERO);
    let idempotency = Idempotency::new(app.state.aws.dynamodb(), app.aws.idempotency_table.clone());
    let Claim::Acquired(first) = lapsing.claim("job#1").await.unwrap() else { panic!("free key") };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let Claim::Acquired(second) = idempotency.claim("job#1").await.unwrap() else { panic!("lapsed claim") };
    assert_ne!(first, second);
    // The first attempt, waking late, neither frees nor completes the second's claim.
    idempotency.release("job#1", &first).await.unwrap();
    assert_eq!(idempotency.claim("job#1").await.unwrap(), Claim::InProgress);
    idempotency.complete("job#1", &first, Some("stale")).await.unwrap();
    assert_eq!(idempotency.claim("job#1").await.unwrap(), Claim::InProgress);
    idempotency.complete("job#1", &second, Some("done")).await.unwrap();
    assert_eq!(idempotency.claim("job#1").await.unwrap(), Claim::Completed(Some("done".into())));
}

#[tokio::test]
async fn a_claim_in_lambda_expires_at_the_invocations_deadline() {
    let app = TestApp::spawn().await;
    let idempotency = Idempotency::new(app.state.aws.dynamodb(), app.aws.idempotency_table.clone());
    let expires_at = |key: &'static str| {
        let dynamodb = app.state.aws.dynamodb();
        let table = app.aws.idempotency_table.clone();
        async move {
            let item = dynamodb
                .get_item()
                .table_name(table)
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(key.into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            item["expires_at"].as_n().unwrap().parse::<i64>().unwrap()
        }
    };
    // A function with 8 s left: the claim lapses with it, not a minute later.
    let deadline = std::time::SystemTime::now() + Duration::from_secs(8);
    growstack::idempotency::with_deadline(deadline, idempotency.claim("lambda#1")).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!((now + 7..=now + 9).contains(&expires_at("lambda#1").await), "{} vs {now}", expires_at("lambda#1").await);
    // Outside Lambda (the server), the configured expiry.
    idempotency.claim("server#1").await.unwrap();
    assert!(expires_at("server#1").await >= now + 59);
}

#[tokio::test]
async fn a_scheduler_run_that_died_after_claiming_is_made_good() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("stuck")).await;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let body = json!({ "userId": user.id, "title": "Later", "content": "Scheduled", "scheduledFor": later });
    assert_eq!(
        app.json(Method::POST, "/api/notifications/send", Some(&admin.access), body).await.status,
        StatusCode::ACCEPTED
    );
    // Claimed ten minutes ago by a run that never enqueued it.
    app.pg()
        .await
        .execute(
            "UPDATE notifications SET scheduled_for = now() - interval '11 minutes', dispatched_at = now() - interval '10 minutes'
             WHERE title = 'Later'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(app.state.scheduler().run(&[Task::DueNotifications]).await.unwrap().dispatched, 1);
    // A fresh claim is not taken again.
    assert_eq!(app.state.scheduler().run(&[Task::DueNotifications]).await.unwrap().dispatched, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invitations_of_one_address_make_one() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let ada = app.user(&app.email("inviter")).await;
    let invitee = app.email("invitee");
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (app, token, invitee) = (app.clone(), ada.access.clone(), invitee.clone());
            tokio::spawn(async move {
                app.json(Method::POST, "/api/referrals", Some(&token), json!({ "email": invitee })).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(app.count("referrals").await, 1);
}

#[tokio::test]
async fn an_invitation_whose_email_the_queue_refuses_stands_and_is_sent_by_the_relay() {
    let app = TestApp::spawn_with(&[("EMAIL_QUEUE_URL", "http://127.0.0.1:1/000000000000/missing")]).await;
    let ada = app.user(&app.email("inviter")).await;
    let friend = app.email("friend");
    let r = app.json(Method::POST, "/api/referrals", Some(&ada.access), json!({ "email": friend })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(app.count("referrals").await, 1);
    // The invitation's email waits in the outbox, beside the inviter's verification email.
    assert_eq!(app.count("outbox WHERE sent_at IS NULL").await, 2);

    let relayed = app.relay().run().await.unwrap();
    assert_eq!(relayed.sent, 2, "{relayed:?}");
    app.run_workers().await;
    assert_eq!(growstack_tests::emails_to(&friend).await.len(), 1);
    assert_eq!(app.relay().run().await.unwrap().sent, 0, "sent once");
}

#[tokio::test]
async fn totals_hold_past_the_last_page() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("pages")).await;
    app.run_workers().await;
    let r = app.call(Method::GET, "/api/notifications?page=9&limit=5", Some(&user.access), None).await;
    assert_eq!(r.data()["notifications"], json!([]));
    assert_eq!(r.data()["pagination"]["total"], 1);
    let r = app.call(Method::GET, "/api/referrals?page=3", Some(&user.access), None).await;
    assert_eq!(r.data()["pagination"]["total"], 0);
}
