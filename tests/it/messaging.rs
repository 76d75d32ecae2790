//! Queues, workers, SES and the scheduler, against real Postgres and moto's SQS, SES v2 and
//! DynamoDB, through the same code the Lambdas and the server run.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use growstack::jobs::{encode, Channel, EmailJob, Greeting, Mail, NotificationJob, NotificationType};
use growstack::scheduler::Task;
use growstack::worker::SqsWorker;
use growstack_tests::{emails_to, TestApp, SENDER};
use http::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

fn sqs_event(bodies: &[String]) -> (SqsEvent, Vec<String>) {
    let mut event = SqsEvent::default();
    let mut ids = Vec::new();
    for body in bodies {
        let mut m = SqsMessage::default();
        let id = Uuid::now_v7().to_string();
        m.message_id = Some(id.clone());
        m.body = Some(body.clone());
        ids.push(id);
        event.records.push(m);
    }
    (event, ids)
}

fn email_job(to: &str) -> EmailJob {
    EmailJob { id: Uuid::now_v7(), to: to.to_owned(), mail: Mail::Welcome(Greeting { first_name: Some("Ada".into()) }) }
}

#[tokio::test]
async fn registration_ends_as_a_welcome_email_and_an_inbox_entry() {
    let app = TestApp::spawn().await;
    let address = app.email("welcome");
    let r = app.register(TestApp::registration(&address)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let access = r.data()["accessToken"].as_str().unwrap().to_owned();

    app.run_workers().await;

    let mut emails = emails_to(&address).await;
    emails.sort_by_key(|e| e["subject"].as_str().unwrap_or("").to_owned());
    assert_eq!(emails.len(), 2, "the verification email and the welcome: {emails:?}");
    assert_eq!(emails[0]["subject"], "Confirm your email address");
    assert_eq!(emails[1]["source"], SENDER);
    assert_eq!(emails[1]["subject"], "Welcome to GrowStack");
    assert!(emails[1]["body"].as_str().unwrap().contains("Hi Ada,"));

    let inbox = app.call(Method::GET, "/api/notifications", Some(&access), None).await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.body);
    let notifications = inbox.data()["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0]["type"], "welcome");
    assert_eq!(notifications[0]["status"], "sent");
    assert_eq!(inbox.data()["pagination"]["total"], 1);
}

#[tokio::test]
async fn a_message_delivered_twice_sends_one_email() {
    let app = TestApp::spawn().await;
    let to = app.email("twice");
    let body = encode(&email_job(&to));
    let worker = app.state.email_worker();
    // Twice in one batch, and again in a later one.
    let (event, _) = sqs_event(&[body.clone(), body.clone()]);
    let first = worker.handle(event).await;
    let (event, _) = sqs_event(&[body]);
    let second = worker.handle(event).await;
    // In one batch the second copy may find the first in progress and be retried; either
    // way one email goes out, and a redelivery later succeeds without sending.
    assert!(first.batch_item_failures.len() <= 1);
    assert!(second.batch_item_failures.is_empty());
    assert_eq!(emails_to(&to).await.len(), 1);

    // The same through the queue: the same job enqueued twice.
    let job = email_job(&app.email("queued-twice"));
    app.state.queues.email.send(&job).await.unwrap();
    app.state.queues.email.send(&job).await.unwrap();
    for _ in 0..5 {
        app.drain_email_once().await;
    }
    assert_eq!(emails_to(&job.to).await.len(), 1);
    assert_eq!(app.queue_depth(&app.aws.email_queue_url).await, 0, "both copies deleted");
}

#[tokio::test]
async fn a_poison_message_fails_alone() {
    let app = TestApp::spawn().await;
    let jobs: Vec<EmailJob> = (0..9).map(|i| email_job(&app.email(&format!("batch{i}")))).collect();
    let mut bodies: Vec<String> = jobs.iter().map(encode).collect();
    bodies.insert(4, "{this is not a job".to_owned());
    let (event, ids) = sqs_event(&bodies);
    let response = app.state.email_worker().handle(event).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec![ids[4].as_str()]);
    for job in &jobs {
        assert_eq!(emails_to(&job.to).await.len(), 1, "{}", job.to);
    }
    // An unknown version and a notification job on the email queue are poison too.
    let newer = encode(&jobs[0]).replace(r#""v":1"#, r#""v":9"#);
    let wrong = encode(&NotificationJob {
        id: Uuid::now_v7(),
        user: Uuid::now_v7(),
        kind: NotificationType::Custom,
        channel: Channel::Email,
        title: "t".into(),
        content: "c".into(),
        template: None,
        variables: json!({}),
    });
    let (event, ids) = sqs_event(&[newer, wrong]);
    assert_eq!(app.state.email_worker().handle(event).await.batch_item_failures.len(), ids.len());
}

async fn wait_for_dlq(app: &TestApp, dlq: &str, poll: impl AsyncFn() -> usize) {
    for _ in 0..20 {
        poll().await;
        if app.queue_depth(dlq).await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    panic!("the message never reached the DLQ");
}

#[tokio::test]
async fn poison_on_the_queue_ends_in_the_dlq() {
    let app = TestApp::spawn().await;
    app.state
        .aws
        .sqs
        .send_message()
        .queue_url(&app.aws.email_queue_url)
        .message_body("{\"v\":1,\"kind\":\"email\",\"job\":{\"id\":\"nope\"}}")
        .send()
        .await
        .unwrap();
    wait_for_dlq(&app, &app.aws.email_dlq_url, || app.drain_email_once()).await;
    assert_eq!(app.queue_depth(&app.aws.email_queue_url).await, 0);
}

#[tokio::test]
async fn ses_rejecting_is_retried_then_dead_lettered() {
    let app = TestApp::spawn_with(&[("EMAIL_FROM", "unverified@nowhere.test")]).await;
    let job = email_job(&app.email("rejected"));
    app.state.queues.email.send(&job).await.unwrap();
    let worker = app.state.email_worker();
    let poll = || async {
        growstack::worker::poll_once(&app.state.aws.sqs, &app.aws.email_queue_url, Duration::from_secs(1), |e| {
            worker.handle(e)
        })
        .await
        .unwrap()
    };
    assert_eq!(poll().await, 1, "received");
    assert_eq!(app.queue_depth(&app.aws.email_queue_url).await, 1, "reported failed, so not deleted");
    wait_for_dlq(&app, &app.aws.email_dlq_url, poll).await;
    assert!(emails_to(&job.to).await.is_empty());
    // Once SES accepts again (a verified sender), a redriven copy is sent, once.
    let mut good = app.state.email_worker();
    good.from = SENDER.to_owned();
    let (event, _) = sqs_event(&[encode(&job)]);
    assert!(good.handle(event).await.batch_item_failures.is_empty());
    assert_eq!(emails_to(&job.to).await.len(), 1);
}

async fn insert_users(app: &TestApp, n: usize) -> Vec<Uuid> {
    let pg = app.pg().await;
    let mut ids = Vec::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        pg.execute(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code)
             VALUES ($1, $2, 'x', 'Bulk', 'User', $3)",
            &[&id, &app.email(&format!("bulk{i}")), &format!("{:06}", i)],
        )
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn batch_notification_to_250_users() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let users = insert_users(&app, 250).await;

    // The producer: 250 jobs in 25 SendMessageBatch calls.
    let content = |user: &Uuid| NotificationJob {
        id: Uuid::now_v7(),
        user: *user,
        kind: NotificationType::Custom,
        channel: Channel::Push,
        title: "t".into(),
        content: "c".into(),
        template: None,
        variables: json!({}),
    };
    let jobs: Vec<NotificationJob> = users.iter().map(content).collect();
    let report = app.state.queues.notification.send_batch(&jobs).await;
    assert_eq!((report.sent, report.failed.len()), (250, 0));
    assert!(report.calls <= 25, "{} calls", report.calls);
    app.state.aws.sqs.purge_queue().queue_url(&app.aws.notification_queue_url).send().await.unwrap();

    // The endpoint, end to end.
    let body = json!({ "userIds": users, "type": "custom", "channel": "email", "title": "New", "content": "Savings goals are here." });
    let r = app.json(Method::POST, "/api/notifications/batch", Some(&admin.access), body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.data()["queued"], 250);
    app.run_workers().await;
    let stored: i64 = app
        .pg()
        .await
        .query_one("SELECT count(*) FROM notifications WHERE status = 'sent' AND type = 'custom'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 250);
    assert_eq!(emails_to(&app.email("bulk137")).await.len(), 1);
}

#[tokio::test]
async fn channels_without_a_provider_fail_once_and_are_not_retried() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("sms")).await;
    let job = NotificationJob {
        id: Uuid::now_v7(),
        user: user.id,
        kind: NotificationType::Custom,
        channel: Channel::Sms,
        title: "t".into(),
        content: "c".into(),
        template: None,
        variables: json!({}),
    };
    let (event, _) = sqs_event(&[encode(&job)]);
    assert!(app.state.notification_worker().handle(event).await.batch_item_failures.is_empty());
    let row = app
        .pg()
        .await
        .query_one("SELECT status, failure_reason FROM notifications WHERE id = $1", &[&job.id])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "failed");
    assert_eq!(row.get::<_, String>(1), growstack::notifications::CHANNEL_NOT_CONFIGURED);
}

#[tokio::test]
async fn a_notification_delivered_twice_is_stored_once_and_emailed_once() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("dup-notification")).await;
    app.run_workers().await; // the welcome
    let job = NotificationJob {
        id: Uuid::now_v7(),
        user: user.id,
        kind: NotificationType::Custom,
        channel: Channel::Email,
        title: "Statement ready".into(),
        content: "Your statement is ready.".into(),
        template: None,
        variables: json!({}),
    };
    for _ in 0..2 {
        let (event, _) = sqs_event(&[encode(&job)]);
        assert!(app.state.notification_worker().handle(event).await.batch_item_failures.is_empty());
    }
    app.run_workers().await;
    assert_eq!(app.count("notifications").await, 2, "welcome + this one");
    let statements = emails_to(&user.email).await;
    assert_eq!(statements.iter().filter(|e| e["subject"] == "Statement ready").count(), 1);
}

#[tokio::test]
async fn notifications_are_private() {
    let app = TestApp::spawn().await;
    let alice = app.user(&app.email("alice")).await;
    let bob = app.user(&app.email("bob")).await;
    app.run_workers().await;
    let theirs = app.call(Method::GET, "/api/notifications", Some(&alice.access), None).await;
    let id = theirs.data()["notifications"][0]["id"].as_str().unwrap().to_owned();

    let r = app.call(Method::PUT, &format!("/api/notifications/{id}/read"), Some(&bob.access), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "NOT_FOUND");
    let bobs = app.call(Method::GET, "/api/notifications", Some(&bob.access), None).await;
    assert!(bobs.data()["notifications"].as_array().unwrap().iter().all(|n| n["id"] != id.as_str()));

    // The owner can, and the read/unread filter follows.
    let r = app.call(Method::PUT, &format!("/api/notifications/{id}/read"), Some(&alice.access), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["read"], true);
    let unread = app.call(Method::GET, "/api/notifications?status=unread", Some(&alice.access), None).await;
    assert_eq!(unread.data()["notifications"].as_array().unwrap().len(), 0);
    let read = app.call(Method::GET, "/api/notifications?status=read&page=1&limit=5", Some(&alice.access), None).await;
    assert_eq!(read.data()["notifications"].as_array().unwrap().len(), 1);
    for bad in ["?status=maybe", "?page=0", "?limit=101", "?limit=x"] {
        let r = app.call(Method::GET, &format!("/api/notifications{bad}"), Some(&alice.access), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = app.call(Method::PUT, "/api/notifications/not-a-uuid/read", Some(&alice.access), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn admin_sends_and_nudges() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("nudged")).await;
    app.run_workers().await;

    let uid = user.id.to_string();
    let send = json!({ "userId": uid, "title": "Hello", "content": "From the team" });
    let r = app.json(Method::POST, "/api/notifications/send", Some(&admin.access), send.clone()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.data()["status"], "queued");
    for path in ["inactivity-nudge", "kyc-reminder"] {
        let r = app.call(Method::POST, &format!("/api/notifications/{path}/{uid}"), Some(&admin.access), None).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    app.run_workers().await;
    let subjects: Vec<String> =
        emails_to(&user.email).await.iter().map(|e| e["subject"].as_str().unwrap().to_owned()).collect();
    for subject in ["Welcome to GrowStack", "Hello", "We miss you", "Finish verifying your identity"] {
        assert!(subjects.iter().any(|s| s == subject), "{subject} not in {subjects:?}");
    }

    // Bad input, unknown users, non-admins.
    let unknown = Uuid::now_v7();
    for (body, status) in [
        (json!({ "userId": unknown, "title": "x", "content": "y" }), StatusCode::NOT_FOUND),
        (json!({ "userId": uid, "title": "", "content": "y" }), StatusCode::BAD_REQUEST),
        (json!({ "userId": uid, "title": "x", "content": "y", "channel": "pigeon" }), StatusCode::BAD_REQUEST),
        (json!({ "userId": uid, "title": "x", "content": "y", "template": "nope" }), StatusCode::BAD_REQUEST),
        (json!({ "userId": "nope", "title": "x", "content": "y" }), StatusCode::BAD_REQUEST),
    ] {
        let r = app.json(Method::POST, "/api/notifications/send", Some(&admin.access), body.clone()).await;
        assert_eq!(r.status, status, "{body} -> {}", r.body);
    }
    let r =
        app.call(Method::POST, &format!("/api/notifications/kyc-reminder/{unknown}"), Some(&admin.access), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.json(Method::POST, "/api/notifications/send", Some(&user.access), send).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An email whose variables do not fit its template is refused at the edge, naming them,
    // and nothing is stored; with what the template needs it goes out.
    let reward = json!({ "userId": uid, "title": "Paid", "content": "c", "template": "reward_granted" });
    let before: i64 = app.pg().await.query_one("SELECT count(*) FROM notifications", &[]).await.unwrap().get(0);
    let r = app.json(Method::POST, "/api/notifications/send", Some(&admin.access), reward.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"), "{}", r.body);
    assert!(r.body.to_string().contains("variables") && r.body.to_string().contains("amount"), "{}", r.body);
    let after: i64 = app.pg().await.query_one("SELECT count(*) FROM notifications", &[]).await.unwrap().get(0);
    assert_eq!(before, after);
    let mut fits = reward;
    fits["variables"] = json!({ "amount": "250.00", "currency": "NGN" });
    let r = app.json(Method::POST, "/api/notifications/send", Some(&admin.access), fits).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    app.run_workers().await;
    let texts: Vec<String> = emails_to(&user.email).await.iter().map(|e| e.to_string()).collect();
    assert!(texts.iter().any(|t| t.contains("NGN 250.00")), "{texts:?}");
    let r = app
        .json(
            Method::POST,
            "/api/notifications/batch",
            Some(&admin.access),
            json!({"userIds": [], "title": "x", "content": "y"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_scheduler_runs_at_once_send_each_due_notification_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let users = insert_users(&app, 30).await;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    for user in &users {
        let body = json!({ "userId": user, "title": "Reminder", "content": "Scheduled hello", "scheduledFor": later });
        let r = app.json(Method::POST, "/api/notifications/send", Some(&admin.access), body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        assert_eq!(r.data()["status"], "scheduled");
    }
    // Not due yet: nothing happens.
    let report = app.state.scheduler().run(&[Task::DueNotifications]).await.unwrap();
    assert_eq!(report.dispatched, 0);
    app.pg().await.execute("UPDATE notifications SET scheduled_for = now() - interval '1 minute'", &[]).await.unwrap();

    let runs: Vec<_> = (0..2)
        .map(|_| {
            let scheduler = app.state.scheduler();
            tokio::spawn(async move { scheduler.run(&[Task::DueNotifications]).await.unwrap().dispatched })
        })
        .collect();
    let mut dispatched = 0;
    for run in runs {
        dispatched += run.await.unwrap();
    }
    assert_eq!(dispatched, 30);
    assert_eq!(app.queue_depth(&app.aws.notification_queue_url).await, 30);
    assert_eq!(app.state.scheduler().run(&[Task::DueNotifications]).await.unwrap().dispatched, 0);

    app.run_workers().await;
    let sent: i64 =
        app.pg().await.query_one("SELECT count(*) FROM notifications WHERE status = 'sent'", &[]).await.unwrap().get(0);
    assert_eq!(sent, 30);
    assert_eq!(emails_to(&app.email("bulk7")).await.len(), 1);
}

#[tokio::test]
async fn daily_nudges_reach_the_right_users_once_a_day() {
    let app = TestApp::spawn().await;
    let users = insert_users(&app, 6).await;
    let pg = app.pg().await;
    // 0: inactive 8 days; 1: signed up 4 days ago, KYC incomplete; 2: both;
    // 3: active yesterday, new; 4: inactive but blocked; 5: old but KYC complete and active.
    let set = |sql: &'static str, id: Uuid| {
        let pg = &pg;
        async move { pg.execute(sql, &[&id]).await.unwrap() }
    };
    set("UPDATE users SET last_active_at = now() - interval '8 days' WHERE id = $1", users[0]).await;
    set("UPDATE users SET created_at = now() - interval '4 days', last_active_at = now() WHERE id = $1", users[1])
        .await;
    set("UPDATE users SET created_at = now() - interval '9 days', last_active_at = now() - interval '8 days' WHERE id = $1", users[2]).await;
    set("UPDATE users SET last_active_at = now() - interval '1 day' WHERE id = $1", users[3]).await;
    set("UPDATE users SET last_active_at = now() - interval '8 days', blocked = true WHERE id = $1", users[4]).await;
    set("UPDATE users SET created_at = now() - interval '30 days', last_active_at = now(), onboarding_step = 'kyc_complete' WHERE id = $1", users[5]).await;

    let report = app.state.scheduler().run(&[Task::InactivityNudges, Task::KycReminders]).await.unwrap();
    assert_eq!((report.inactivity_nudges, report.kyc_reminders), (2, 2), "{report:?}");
    let again = app.state.scheduler().run(&[Task::InactivityNudges, Task::KycReminders]).await.unwrap();
    assert_eq!((again.inactivity_nudges, again.kyc_reminders), (0, 0), "at most one per user per day");

    app.run_workers().await;
    let subjects = |i: usize| {
        let address = app.email(&format!("bulk{i}"));
        async move {
            emails_to(&address).await.iter().map(|e| e["subject"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(subjects(0).await, vec!["We miss you"]);
    assert_eq!(subjects(1).await, vec!["Finish verifying your identity"]);
    assert_eq!(subjects(2).await.len(), 2);
    for quiet in [3, 4, 5] {
        assert!(subjects(quiet).await.is_empty(), "user {quiet}");
    }
}

/// What a worker killed mid-job leaves: its claim on the job (lapsed by the time the message
/// comes back) and the email SES accepted, sent here as it sent it; and, if it lived that
/// long, the record of the send.
async fn die_after_sending(app: &TestApp, job: &EmailJob, recorded: bool) {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    let dead = growstack::idempotency::Idempotency::new(app.state.aws.dynamodb(), app.aws.idempotency_table.clone())
        .with_in_progress_expiry(Duration::ZERO);
    assert!(matches!(
        dead.claim(&format!("email#{}", job.id)).await.unwrap(),
        growstack::idempotency::Claim::Acquired(_)
    ));
    let text = |t: &str| Content::builder().data(t).build().unwrap();
    let sent = app
        .state
        .aws
        .ses()
        .send_email()
        .from_email_address(SENDER)
        .destination(Destination::builder().to_addresses(&job.to).build())
        .content(
            EmailContent::builder()
                .simple(
                    Message::builder()
                        .subject(text("Welcome to GrowStack"))
                        .body(Body::builder().text(text("Hi Ada,")).build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    if recorded {
        app.pg()
            .await
            .execute(
                "INSERT INTO email_sends (job_id, message_id) VALUES ($1, $2)",
                &[&job.id, &sent.message_id.unwrap_or_default()],
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn a_worker_killed_after_the_send_and_before_its_completion_sends_one_email() {
    let app = TestApp::spawn().await;
    // Killed after recording the send, before DynamoDB heard the job was done: the attempt
    // that takes the redelivered job over finds the record and sends nothing.
    let job = email_job(&app.email("killed-after-record"));
    die_after_sending(&app, &job, true).await;
    app.state.queues.email.send(&job).await.unwrap();
    while app.drain_email_once().await > 0 {}
    assert_eq!(emails_to(&job.to).await.len(), 1, "one email after the redelivery");
    assert_eq!(app.queue_depth(&app.aws.email_queue_url).await, 0, "and the job is done");

    // The window that is left, as documented: killed in the moment between SES accepting the
    // mail and the record of it, the job is sent again — twice, never lost.
    let job = email_job(&app.email("killed-before-record"));
    die_after_sending(&app, &job, false).await;
    app.state.queues.email.send(&job).await.unwrap();
    while app.drain_email_once().await > 0 {}
    assert_eq!(emails_to(&job.to).await.len(), 2);
}

/// The finding: 80 sends in flight against SES's 14 a second, and a nudge wave in the DLQ.
/// Two workers at once (two Lambda instances) share one budget per second: what they sent
/// never outruns it, the rest goes back to the queue and is sent on a later delivery.
#[tokio::test]
async fn sends_keep_to_the_accounts_ses_rate_across_workers() {
    let app = TestApp::spawn_with(&[("SES_MAX_SEND_RATE", "1")]).await;
    let bodies: Vec<String> = (0..4).map(|i| encode(&email_job(&app.email(&format!("paced{i}"))))).collect();
    let addresses: Vec<String> = (0..4).map(|i| app.email(&format!("paced{i}"))).collect();
    let sent = || async {
        let mut n = 0;
        for a in &addresses {
            n += emails_to(a).await.len();
        }
        n
    };
    let (a, b) = (app.state.email_worker(), app.state.email_worker());
    let started = std::time::Instant::now();
    let ((first, _), (second, _)) = (sqs_event(&bodies[..2]), sqs_event(&bodies[2..]));
    let (r1, r2) = tokio::join!(a.handle(first), b.handle(second));
    let elapsed = started.elapsed();
    let (so_far, refused) = (sent().await, r1.batch_item_failures.len() + r2.batch_item_failures.len());
    // Fixed one-second windows: `elapsed` touches at most its whole seconds and two more.
    assert!(so_far as u64 <= elapsed.as_secs() + 2, "{so_far} sends in {elapsed:?} at one a second");
    assert_eq!(so_far + refused, 4);
    for _ in 0..20 {
        if sent().await == 4 {
            break;
        }
        let (event, _) = sqs_event(&bodies);
        a.handle(event).await;
    }
    assert_eq!(sent().await, 4, "every mail goes in the end, once");
}
