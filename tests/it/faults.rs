//! When Redis or Postgres goes away: Redis is optional and the API keeps answering from
//! Postgres; without Postgres the API answers 503 quickly instead of hanging.

use std::time::{Duration, Instant};

use growstack::auth::TokenType;
use growstack::users::Role;
use growstack_tests::{free_port, OwnRedis, TestApp};
use http::StatusCode;

#[tokio::test]
async fn redis_stopped_list_auth_and_health_still_answer() {
    let mut redis = OwnRedis::start_on(free_port()).await;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let app = TestApp::spawn_with(&[("REDIS_URL", &url)]).await;
    let admin = app.admin().await;
    app.user("before@example.com").await;
    let cached = app.list_users(&admin.access, "").await;
    assert_eq!(cached.status, StatusCode::OK);
    assert_eq!(app.health().await.data()["checks"]["redis"], "up");

    redis.stop();

    let started = Instant::now();
    let r = app.list_users(&admin.access, "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.raw, cached.raw, "served from Postgres, same body");
    let r = app.health().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["status"], "degraded");
    assert_eq!(r.data()["checks"], serde_json::json!({ "postgres": "up", "redis": "down" }));
    // Writes and the rate-limited auth routes keep working (the limit fails open).
    app.user("during@example.com").await;
    assert_eq!(app.login("during@example.com", "correct-horse-battery").await.status, StatusCode::OK);
    let r = app.list_users(&admin.access, "").await;
    assert_eq!(r.data()["users"][0]["email"], "during@example.com");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a dead Redis must not stall requests: {:?}",
        started.elapsed()
    );

    // Back up on the same port: the cache is used again.
    let _redis = OwnRedis::start_on(redis.port).await;
    let mut back = false;
    for _ in 0..50 {
        app.list_users(&admin.access, "").await;
        let before = app.state.db.statements_run();
        app.list_users(&admin.access, "").await;
        if app.state.db.statements_run() == before {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the cache should serve again once Redis is back");
}

#[tokio::test]
async fn redis_never_reachable_is_a_cache_miss_not_an_error() {
    let app = TestApp::spawn_with(&[("REDIS_URL", &format!("redis://127.0.0.1:{}", free_port()))]).await;
    let admin = app.admin().await;
    for _ in 0..3 {
        assert_eq!(app.list_users(&admin.access, "").await.status, StatusCode::OK);
    }
    assert_eq!(app.health().await.status, StatusCode::OK);
}

async fn assert_unavailable_quickly(app: &TestApp, token: &str) {
    let checks = [
        ("login", app.login("a@example.com", "whatever-pass").await),
        ("register", app.register(TestApp::registration("b@example.com")).await),
        ("list", app.list_users(token, "").await),
        ("profile", app.profile(token).await),
    ];
    for (what, r) in checks {
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {}", r.body);
        assert_eq!(r.code(), "SERVICE_UNAVAILABLE");
        assert!(r.headers.contains_key("retry-after"));
        assert!(!r.body.to_string().contains("127.0.0.1"), "no internals in {}", r.body);
    }
    let r = app.health().await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"]["details"]["postgres"], "down");
}

async fn admin_token(app: &TestApp) -> String {
    let admin = growstack::auth::Subject {
        user: uuid::Uuid::now_v7(),
        role: Role::Admin,
        version: 0,
        family: uuid::Uuid::now_v7(),
    };
    app.state.tokens.sign(&admin, TokenType::Access, chrono::Utc::now().timestamp()).await.unwrap()
}

#[tokio::test]
async fn postgres_refusing_connections_is_a_fast_503() {
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", free_port());
    let app = TestApp::spawn_with(&[("DATABASE_URL", &url)]).await;
    let token = admin_token(&app).await;
    let started = Instant::now();
    assert_unavailable_quickly(&app, &token).await;
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // Not ready, but alive: the load balancer keeps the instance.
    let live = app.call(http::Method::GET, "/health/live", None, None).await;
    assert_eq!(live.status, StatusCode::OK, "{}", live.body);
}

#[tokio::test]
async fn postgres_that_never_answers_is_a_503_within_3_seconds() {
    // Accepts TCP connections and never speaks: the worst kind of unreachable.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_with(&[("DATABASE_URL", &format!("postgres://postgres@127.0.0.1:{port}/postgres"))]).await;
    let token = admin_token(&app).await;
    for request in 0..2 {
        let started = Instant::now();
        let r = app.list_users(&token, "").await;
        let took = started.elapsed();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert!(took < Duration::from_secs(3), "request {request} took {took:?}");
    }
    // The error is not cached: once the database is back (a working app on the same Redis
    // key space), the list is served.
    silent.abort();
    let working = TestApp::spawn_with(&[("REDIS_KEY_PREFIX", app.vars["REDIS_KEY_PREFIX"].as_str())]).await;
    let admin = working.admin().await;
    assert_eq!(working.list_users(&admin.access, "").await.status, StatusCode::OK);
}

/// Terminates this test's connections (by the application name its URL gives them), as an
/// administrator's shutdown, an Aurora failover or an RDS Proxy restart would.
async fn terminate_backends(app: &TestApp) -> i64 {
    app.pg()
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&app.schema],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_read_on_a_killed_connection_runs_again_and_a_write_answers_503() {
    let app = TestApp::spawn().await;
    let reader = app.state.db.reader().await.unwrap();
    reader.query("SELECT 1", &[]).await.unwrap();
    assert!(terminate_backends(&app).await >= 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rows = growstack::db::read_only(reader.query("SELECT 2", &[])).await;
    assert_eq!(rows.expect("retried on a fresh connection")[0].get::<_, i32>(0), 2);

    // Outside a read-only request nothing runs twice: the statement may have committed.
    let writer = app.state.db.writer().await.unwrap();
    writer.query("SELECT 1", &[]).await.unwrap();
    assert!(terminate_backends(&app).await >= 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let error = writer.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(error, growstack::Error::Unavailable(_)), "a lost connection is a 503, not a bug: {error:?}");
    drop((reader, writer));
    // The dead connections left the pool: the next request needs no restart.
    assert_eq!(app.state.db.writer().await.unwrap().query_one("SELECT 3", &[]).await.unwrap().get::<_, i32>(0), 3);
}

#[tokio::test]
async fn backends_killed_under_load_answer_503_at_worst_never_500() {
    // Redis unreachable, so every list is a Postgres statement; the per-user events budget out
    // of the way (a fast machine sent more than 600 tracks a minute here, and got 429s).
    let redis = format!("redis://127.0.0.1:{}", free_port());
    let app = TestApp::spawn_with(&[("REDIS_URL", &redis), ("EVENTS_PER_USER_PER_MINUTE", "100000000")]).await;
    let admin = app.admin().await;
    let user = app.user(&app.email("load")).await;
    let until = Instant::now() + Duration::from_millis(1500);
    let client = |n: usize| {
        let (app, admin, user) = (&app, &admin, &user);
        async move {
            let mut seen = Vec::new();
            while Instant::now() < until {
                let r = if n.is_multiple_of(2) {
                    app.list_users(&admin.access, "").await
                } else {
                    let body = serde_json::json!({ "eventName": "screen_viewed" });
                    app.json(http::Method::POST, "/api/events/track", Some(&user.access), body).await
                };
                let retry_after = r.headers.get("retry-after").map(|v| v.to_str().unwrap().to_owned());
                seen.push((n.is_multiple_of(2), r.status, retry_after));
            }
            seen
        }
    };
    let killer = async {
        let mut killed = 0;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            killed += terminate_backends(&app).await;
        }
        killed
    };
    let (seen, killed) = futures::join!(futures::future::join_all((0..8).map(client)), killer);
    let seen: Vec<_> = seen.into_iter().flatten().collect();
    assert!(killed >= 5, "connections were killed under load ({killed})");
    for (read, status, retry_after) in &seen {
        assert!(
            [StatusCode::OK, StatusCode::CREATED, StatusCode::SERVICE_UNAVAILABLE].contains(status),
            "{} answered {status}",
            if *read { "a list" } else { "a track" }
        );
        if *status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(retry_after.as_deref(), Some("1"));
        }
    }
    let reads = seen.iter().filter(|(read, _, _)| *read).count();
    let failed_reads = seen.iter().filter(|(read, s, _)| *read && *s != StatusCode::OK).count();
    assert!(reads > 20 && failed_reads * 10 <= reads, "{failed_reads} of {reads} lists failed: reads are retried");
    // And no restart is needed.
    assert_eq!(app.list_users(&admin.access, "").await.status, StatusCode::OK);
    let body = serde_json::json!({ "eventName": "after" });
    assert_eq!(app.json(http::Method::POST, "/api/events/track", Some(&user.access), body).await.status, 201);
}

/// Both queues refuse every message: SQS down, as far as the app can tell.
const QUEUES_DOWN: [(&str, &str); 2] = [
    ("EMAIL_QUEUE_URL", "http://127.0.0.1:1/000000000000/missing-email"),
    ("NOTIFICATION_QUEUE_URL", "http://127.0.0.1:1/000000000000/missing-notification"),
];

#[tokio::test]
async fn registrations_while_the_queues_refuse_work_all_get_their_emails_once_after() {
    let app = TestApp::spawn_with(&QUEUES_DOWN).await;
    let emails: Vec<String> = (0..20).map(|i| app.email(&format!("outage{i}"))).collect();
    let registrations = emails.iter().map(|email| app.register(TestApp::registration(email)));
    for r in futures::future::join_all(registrations).await {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    assert_eq!(app.count("users").await, 20);
    assert_eq!(app.count("outbox WHERE sent_at IS NULL").await, 40, "a welcome and a verification each, kept");

    // The queues are back: the relay (every minute in AWS) sends them, each once, even run
    // by two at the same moment.
    let (one, other) = (app.relay(), app.relay());
    let (a, b) = futures::join!(one.run(), other.run());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 40, "{a:?} {b:?}");
    assert_eq!(app.count("outbox WHERE sent_at IS NULL").await, 0);
    assert_eq!(app.relay().run().await.unwrap().sent, 0, "nothing is sent twice");
    // The workers, on the queues that are back.
    let notifications = growstack::notifications::NotificationWorker {
        email_queue: app.relay().email,
        ..app.state.notification_worker()
    };
    loop {
        let handled = app.drain_once(&app.aws.notification_queue_url, notifications.clone()).await;
        if handled + app.drain_email_once().await == 0 {
            break;
        }
    }
    for email in &emails {
        let mail = growstack_tests::emails_to(email).await;
        let subjects: Vec<String> = mail.iter().map(|m| m["subject"].to_string()).collect();
        assert_eq!(mail.len(), 2, "{email}: a welcome and a verification email, once each: {subjects:?}");
    }
}

#[tokio::test]
async fn a_staged_job_commits_with_its_change_and_waits_for_the_relay() {
    let app = TestApp::spawn_with(&QUEUES_DOWN).await;
    let staged = {
        let conn = app.state.db.writer().await.unwrap();
        let job = growstack::jobs::NotificationJob::by_email(
            uuid::Uuid::now_v7(),
            growstack::jobs::NotificationType::ReferralReward,
            "t",
            "c",
            &growstack::jobs::Mail::RewardGranted(growstack::jobs::RewardGranted {
                first_name: None,
                amount: rust_decimal::Decimal::ONE,
                currency: None,
            }),
        );
        // A transaction that fails takes its staged job with it.
        let failed: growstack::error::Result<()> = conn
            .atomically(async |conn| {
                growstack::outbox::stage(
                    conn,
                    growstack::outbox::Destination::Notification,
                    std::slice::from_ref(&job),
                )
                .await?;
                Err(growstack::Error::Conflict("the change failed"))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(app.count("outbox").await, 0, "rolled back with the change");
        conn.atomically(async |conn| {
            growstack::outbox::stage(conn, growstack::outbox::Destination::Notification, std::slice::from_ref(&job))
                .await
        })
        .await
        .unwrap()
    };
    app.state.relay().send_now(&staged).await;
    assert_eq!(app.count("outbox WHERE sent_at IS NULL AND available_at <= now()").await, 1, "released to the relay");
    // The app's own scheduler still meets a refusing queue: the row waits, and the backlog
    // its alarm watches is written.
    let report = app.state.scheduler().run(&[growstack::scheduler::Task::OutboxRelay]).await.unwrap();
    assert_eq!((report.outbox.sent, report.outbox.failed, report.outbox.pending), (0, 1, 1), "{report:?}");
    let emf = app.emf.lock().unwrap().join("\n");
    assert!(emf.contains("\"OutboxOldestPendingSeconds\"") && emf.contains("\"outbox-relay\""), "{emf}");
    assert!(app.state.metrics.prometheus_text().contains("growstack_outbox_pending 1"));
    assert_eq!(app.relay().run().await.unwrap().sent, 0, "leased by the run that failed");
    app.pg().await.execute("UPDATE outbox SET available_at = now()", &[]).await.unwrap();
    assert_eq!(app.relay().run().await.unwrap().sent, 1, "the lease lapsed");
    assert_eq!(app.queue_depth(&app.aws.notification_queue_url).await, 1);
}

#[tokio::test]
async fn an_admins_send_while_the_queue_refuses_work_is_accepted_and_sent_later() {
    let app = TestApp::spawn_with(&QUEUES_DOWN).await;
    let admin = app.admin().await;
    let user = app.user(&app.email("told")).await;
    let body = serde_json::json!({ "userId": user.id, "title": "Hello", "content": "Savings goals are here." });
    let r = app.json(http::Method::POST, "/api/notifications/send", Some(&admin.access), body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let body = serde_json::json!({ "userIds": [user.id, admin.id], "title": "Hi", "content": "Two of you." });
    let r = app.json(http::Method::POST, "/api/notifications/batch", Some(&admin.access), body).await;
    assert_eq!((r.status, r.data()["queued"].as_i64()), (StatusCode::ACCEPTED, Some(2)), "{}", r.body);
    let kept = app.count("outbox WHERE sent_at IS NULL AND destination = 'notification'").await;
    assert_eq!(kept, 3 + 1, "the three sends and the registered user's welcome");
    assert_eq!(app.relay().run().await.unwrap().sent as i64, app.count("outbox").await);
    assert_eq!(app.queue_depth(&app.aws.notification_queue_url).await, 4);
}

#[tokio::test]
async fn a_statement_that_loses_a_deadlock_runs_again() {
    let app = TestApp::spawn().await;
    let key = (uuid::Uuid::now_v7().as_u128() % 1_000_000_000) as i32;
    // Another session holds lock 2 and will want lock 1; our one statement takes lock 1, then
    // waits for 2. Ours waits first, so Postgres's deadlock check (after deadlock_timeout)
    // finds the cycle in ours and aborts it (40P01); run again once the other commits, it
    // succeeds.
    let other = app.pg().await;
    other.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({key}, 2)")).await.unwrap();
    let conn = app.state.db.writer().await.unwrap();
    let sql = format!("SELECT pg_advisory_xact_lock({key}, 1), pg_advisory_xact_lock({key}, 2), 7");
    let theirs = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        other.batch_execute(&format!("SELECT pg_advisory_xact_lock({key}, 1); COMMIT")).await
    };
    let (ours, theirs) = futures::join!(conn.query_one(&sql, &[]), theirs);
    theirs.expect("the other session gets its lock once ours is aborted, and commits");
    assert_eq!(ours.expect("ours ran again").get::<_, i32>(2), 7);
}

/// The finding: a reader failover meant minutes of 503 on every read. While the reader
/// cannot be reached, reads go to the writer (for `READER_FALLBACK`, then the reader is
/// tried again), and every read answers.
#[tokio::test]
async fn reads_fall_back_to_the_writer_while_the_reader_is_unreachable() {
    let nowhere = format!("postgres://postgres@127.0.0.1:{}/postgres", free_port());
    let app = TestApp::spawn_with(&[("DATABASE_READ_URL", &nowhere)]).await;
    assert!(!app.state.db.reading_from_writer());
    let admin = app.admin().await;
    let r = app.get_user(&admin.access, &admin.id.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(app.state.db.reading_from_writer(), "the failed reader is set aside");
    for _ in 0..3 {
        assert_eq!(app.get_user(&admin.access, &admin.id.to_string()).await.status, StatusCode::OK);
    }
    assert_eq!(app.list_users(&admin.access, "").await.status, StatusCode::OK);
}
