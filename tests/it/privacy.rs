//! What is kept about people, and for how long.

use chrono::{Datelike, Duration, Utc};
use growstack::scheduler::Task;
use growstack_tests::TestApp;
use serde_json::{json, Value};
use uuid::Uuid;

/// The housekeeping task removes the client's address and agent from events older than
/// `PII_RETENTION_DAYS`, and nothing else: not newer events', not the rest of the metadata,
/// not any other column.
#[tokio::test]
async fn the_retention_job_removes_old_addresses_and_agents_and_nothing_else() {
    let app = TestApp::spawn_with(&[("PII_RETENTION_DAYS", "30")]).await;
    let ada = app.user(&app.email("ada")).await;
    let pg = app.pg().await;
    let today = Utc::now();
    let oldest = today - Duration::days(70);
    let mut month = oldest.date_naive().with_day(1).unwrap();
    while month <= today.date_naive() {
        let next = month.checked_add_months(chrono::Months::new(1)).unwrap();
        let name = growstack::events::partitions::name(month);
        pg.execute("SELECT growstack_ensure_events_partition($1, $2, $3)", &[&name, &month, &next]).await.unwrap();
        month = next;
    }
    let client = json!({ "ip": "203.0.113.7", "userAgent": "GrowStack/2.3 (Android)", "screen": "home" });
    // (days ago, metadata): old ones past the setting, one just inside it, new ones.
    let rows: [(i64, Value); 6] = [
        (70, client.clone()),
        (45, json!({ "ip": "203.0.113.8" })),
        (31, json!({ "userAgent": "curl/8", "build": 42 })),
        (29, client.clone()),
        (1, client.clone()),
        (40, json!({ "screen": "kyc" })),
    ];
    let mut ids = Vec::new();
    for (days, metadata) in &rows {
        let id = Uuid::now_v7();
        pg.execute(
            "INSERT INTO events (id, user_id, event_name, properties, metadata, occurred_at, source, activity)
             VALUES ($1, $2, 'app_opened', '{\"n\": 1}', $3, $4, 'client', true)",
            &[&id, &ada.id, metadata, &(today - Duration::days(*days))],
        )
        .await
        .unwrap();
        ids.push(id);
    }
    let snapshot = || async {
        let rows = pg
            .query(
                "SELECT id, user_id, event_name, properties, metadata, occurred_at, received_at, source, activity
                 FROM events WHERE id = ANY($1) ORDER BY occurred_at",
                &[&ids],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                json!({
                    "id": r.get::<_, Uuid>("id"), "user": r.get::<_, Uuid>("user_id"),
                    "name": r.get::<_, String>("event_name"), "properties": r.get::<_, Value>("properties"),
                    "metadata": r.get::<_, Value>("metadata"),
                    "occurred": r.get::<_, chrono::DateTime<Utc>>("occurred_at").to_rfc3339(),
                    "received": r.get::<_, chrono::DateTime<Utc>>("received_at").to_rfc3339(),
                    "source": r.get::<_, String>("source"), "activity": r.get::<_, bool>("activity"),
                })
            })
            .collect::<Vec<Value>>()
    };
    let before = snapshot().await;
    let report = app.state.scheduler().run(&[Task::Housekeeping]).await.unwrap();
    assert_eq!(report.client_info_scrubbed, 3, "{report:?}");
    let after = snapshot().await;
    // Oldest first: 70, 45, 40, 31, 29, 1 days ago.
    let expected_metadata = [
        json!({ "screen": "home" }),
        json!({}),
        json!({ "screen": "kyc" }),
        json!({ "build": 42 }),
        client.clone(),
        client.clone(),
    ];
    for (i, (was, is)) in before.iter().zip(&after).enumerate() {
        assert_eq!(is["metadata"], expected_metadata[i], "row {i}");
        let mut was = was.clone();
        was["metadata"] = is["metadata"].clone();
        assert_eq!(&was, is, "row {i}: nothing but the address and agent changed");
    }
    // Again: nothing left to do, and the mark stays where the cutoff was.
    let again = app.state.scheduler().run(&[Task::Housekeeping]).await.unwrap();
    assert_eq!(again.client_info_scrubbed, 0);
    assert_eq!(snapshot().await, after);
    let mark: chrono::DateTime<Utc> =
        pg.query_one("SELECT scrubbed_before FROM pii_scrub_marks", &[]).await.unwrap().get(0);
    assert!((mark - (Utc::now() - Duration::days(30))).num_seconds().abs() < 60, "{mark}");
    // An event arriving now can be dated 7 days back at most: behind the mark none can land.
    let late = app
        .json(
            http::Method::POST,
            "/api/events/track",
            Some(&ada.access),
            json!({ "eventName": "tap", "timestamp": (Utc::now() - Duration::days(31)).to_rfc3339() }),
        )
        .await;
    assert_eq!(late.status, http::StatusCode::BAD_REQUEST, "{}", late.body);
}

#[test]
fn the_setting_leaves_room_for_late_events() {
    let config = |days: &str| {
        growstack::config::Config::from_lookup(|k| match k {
            "PII_RETENTION_DAYS" => Some(days.to_owned()),
            "GROWSTACK_ENV" => Some("local".to_owned()),
            _ => None,
        })
    };
    assert!(config("7").is_err());
    assert_eq!(config("8").unwrap().pii_retention_days, 8);
}

/// Every column of the schema that refers to a user (a foreign key to `users`, or a uuid
/// column named for one) is covered by the export, or excluded with a reason: a new table
/// holding a user's rows fails this until the export takes it.
#[tokio::test]
async fn the_export_covers_every_column_that_refers_to_a_user() {
    let app = TestApp::spawn().await;
    let rows = app
        .pg()
        .await
        .query(
            // The catalog rather than information_schema, whose views over every test's
            // schema take minutes to join.
            "SELECT DISTINCT c.relname::text AS t, a.attname::text AS c
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'uuid'::regtype
               AND (a.attname IN ('user_id', 'actor_id', 'created_by', 'referrer_id', 'referred_by', 'held_by')
                    OR a.attname LIKE '%\\_user\\_id'
                    OR EXISTS (
                        SELECT 1 FROM pg_constraint k
                        WHERE k.contype = 'f' AND k.conrelid = c.oid AND a.attnum = ANY (k.conkey)
                          AND k.confrelid = (quote_ident(current_schema()) || '.users')::regclass))
             UNION SELECT 'users', 'id'",
            &[],
        )
        .await
        .unwrap();
    let found: std::collections::BTreeSet<(String, String)> = rows.iter().map(|r| (r.get("t"), r.get("c"))).collect();
    let covered: std::collections::BTreeSet<(String, String)> =
        growstack::privacy::COVERED.iter().map(|(t, c, _)| (t.to_string(), c.to_string())).collect();
    let missing: Vec<_> = found.difference(&covered).collect();
    assert!(missing.is_empty(), "columns that refer to a user and are not in privacy::COVERED: {missing:?}");
    let stale: Vec<_> = covered.difference(&found).collect();
    assert!(stale.is_empty(), "privacy::COVERED names columns the schema does not have: {stale:?}");

    // Every section named there is in a user's export.
    let ada = app.user(&app.email("ada")).await;
    let r = app.call(http::Method::GET, "/api/users/me/export", Some(&ada.access), None).await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    for (_, _, section) in growstack::privacy::COVERED {
        if !section.starts_with("not exported") {
            assert!(r.data().get(*section).is_some(), "{section} missing from the export");
        }
    }
}

#[tokio::test]
async fn a_user_gets_everything_held_about_them_and_staff_exports_are_audited() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ada = app.user(&app.email("ada")).await;
    let r = app
        .json(http::Method::POST, "/api/events/track", Some(&ada.access), json!({ "eventName": "app_opened" }))
        .await;
    assert_eq!(r.status, http::StatusCode::CREATED);
    let export = app.call(http::Method::GET, "/api/users/me/export", Some(&ada.access), None).await;
    let doc = export.data();
    assert_eq!(doc["profile"]["email"], ada.email.as_str());
    assert!(doc["profile"].get("password_hash").is_none(), "no password hash");
    assert!(!export.body.to_string().contains("token_hash"), "no token material");
    assert_eq!(doc["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(doc["events"][0]["event_name"], "app_opened");
    assert_eq!(doc["eventsTotal"], doc["events"].as_array().unwrap().len());
    // Three a day.
    for _ in 0..2 {
        assert_eq!(app.call(http::Method::GET, "/api/users/me/export", Some(&ada.access), None).await.status, 200);
    }
    let r = app.call(http::Method::GET, "/api/users/me/export", Some(&ada.access), None).await;
    assert_eq!(r.status, http::StatusCode::TOO_MANY_REQUESTS);

    let path = format!("/api/admin/users/{}/export", ada.id);
    assert_eq!(app.call(http::Method::GET, &path, Some(&ada.access), None).await.status, 403);
    let r = app.call(http::Method::GET, &path, Some(&admin.access), None).await;
    assert_eq!(
        (r.status, r.body["error"]["details"]["field"].as_str()),
        (http::StatusCode::BAD_REQUEST, Some("reason"))
    );
    let r = app.call(http::Method::GET, &format!("{path}?reason=NDPA%20request%2042"), Some(&admin.access), None).await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["profile"]["id"], ada.id.to_string());
    let audit: (String, Value) = {
        let row =
            app.pg().await.query_one("SELECT action, after FROM audit_log WHERE entity = 'user'", &[]).await.unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((audit.0.as_str(), &audit.1["reason"]), ("exported", &json!("NDPA request 42")));
    // It shows in the user's own next export, as an audit row about them.
    let missing = format!("/api/admin/users/{}/export?reason=x", Uuid::now_v7());
    assert_eq!(app.call(http::Method::GET, &missing, Some(&admin.access), None).await.status, 404);
}

/// The exports' daily budget holds for requests sent at once, with Redis and (each instance
/// counting alone) without it.
#[tokio::test]
async fn the_export_budget_holds_for_requests_sent_at_once() {
    let dead_redis = format!("redis://127.0.0.1:{}", growstack_tests::free_port());
    for app in [TestApp::spawn().await, TestApp::spawn_with(&[("REDIS_URL", &dead_redis)]).await] {
        let ada = app.user(&app.email("ada")).await;
        let calls = (0..8).map(|_| app.call(http::Method::GET, "/api/users/me/export", Some(&ada.access), None));
        let statuses: Vec<http::StatusCode> = futures::future::join_all(calls).await.iter().map(|r| r.status).collect();
        let passed = statuses.iter().filter(|s| **s == http::StatusCode::OK).count();
        let limited = statuses.iter().filter(|s| **s == http::StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((passed, limited), (3, 5), "{statuses:?}");
    }
}

/// Letters only (names are validated as names), different each run.
fn letters() -> String {
    Uuid::now_v7()
        .simple()
        .to_string()
        .chars()
        .rev()
        .take(10)
        .map(|c| (b'a' + c.to_digit(16).unwrap() as u8) as char)
        .collect()
}

/// A request from a given address and device.
async fn from(
    app: &TestApp,
    method: http::Method,
    path: &str,
    token: Option<&str>,
    body: Value,
    ip: &str,
    agent: &str,
) -> growstack_tests::TestResponse {
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("x-forwarded-for", ip)
        .header("user-agent", agent);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.send(request.body(axum::body::Body::from(body.to_string())).unwrap()).await
}

/// Where any of `needles` (lower-cased) is left: every base table of the test's schema (the
/// events' partitions included), every Redis key under its prefix (names and values), every
/// item of its DynamoDB table.
async fn traces(app: &TestApp, needles: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let pg = app.pg().await;
    let tables: Vec<String> = pg
        .query(
            "SELECT relname::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() > 30, "{tables:?}");
    for table in &tables {
        for needle in needles {
            let n: i64 = pg
                .query_one(&format!("SELECT count(*) FROM {table} x WHERE strpos(lower(x::text), $1) > 0"), &[needle])
                .await
                .unwrap()
                .get(0);
            if n > 0 {
                found.push(format!("postgres {table}: {needle} ×{n}"));
            }
        }
    }
    let mut redis = redis::Client::open(growstack_tests::test_redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("test:{}:*", app.schema)).query_async(&mut redis).await.unwrap();
    assert!(!keys.is_empty());
    for key in &keys {
        let kind: String = redis::cmd("TYPE").arg(key).query_async(&mut redis).await.unwrap();
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(key).query_async(&mut redis).await.unwrap()],
            "set" => redis::cmd("SMEMBERS").arg(key).query_async(&mut redis).await.unwrap(),
            "hash" => redis::cmd("HGETALL").arg(key).query_async(&mut redis).await.unwrap(),
            "zset" => redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).query_async(&mut redis).await.unwrap(),
            "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query_async(&mut redis).await.unwrap(),
            other => panic!("{key}: a {other} key"),
        };
        let text = format!(
            "{key} {}",
            values.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect::<Vec<_>>().join(" ")
        )
        .to_lowercase();
        found.extend(needles.iter().filter(|n| text.contains(n.as_str())).map(|n| format!("redis {key}: {n}")));
    }
    let items = app.state.aws.dynamodb().scan().table_name(&app.aws.idempotency_table).send().await.unwrap();
    assert!(items.count() > 0, "the workers recorded their jobs");
    for item in items.items() {
        let text = format!("{item:?}").to_lowercase();
        found.extend(
            needles.iter().filter(|n| text.contains(n.as_str())).map(|n| format!("dynamodb {:?}: {n}", item.get("pk"))),
        );
    }
    found
}

/// After an erasure nothing that names or locates the person is left anywhere we keep data —
/// every table, key and item scanned for each detail — while the ledger keeps their reward and
/// analytics their events; the address stays suppressed, the sessions and the referral code
/// stop working, and the operator hears `user.erased`.
#[tokio::test]
async fn an_erased_account_leaves_no_name_email_phone_or_ip_behind() {
    let app = TestApp::spawn_with(&[("TRUSTED_PROXY_HOPS", "1"), ("REFERRED_REWARD_AMOUNT", "250.00")]).await;
    let admin = app.admin().await;
    let r = app
        .json(
            http::Method::POST,
            "/api/admin/webhooks",
            Some(&admin.access),
            json!({ "url": "http://127.0.0.1:9/hooks", "events": ["user.registered", "user.erased", "reward.voided"] }),
        )
        .await;
    assert_eq!(r.status, http::StatusCode::CREATED, "{}", r.body);
    let bob = app.user(&app.email("bob")).await;
    let code = app.call(http::Method::GET, "/api/referrals/code", Some(&bob.access), None).await.data()["code"]
        .as_str()
        .unwrap()
        .to_owned();

    // Zofia signs up with Bob's code from her phone, signs in (once wrongly), tracks events.
    let (first, last) = (format!("Zofia{}", letters()), format!("Quist{}", letters()));
    let email = app.email(&format!("zofia{}", letters())).to_lowercase();
    let phone = TestApp::phone();
    let (ip, agent) = ("198.51.100.231".to_owned(), format!("ZofiaPhone/{}", letters()));
    let device = format!("device-{}", letters());
    let body = json!({ "email": email, "password": "correct-horse-battery", "firstName": first, "lastName": last,
                       "phone": phone, "referralCode": code, "deviceFingerprint": device });
    let r = from(&app, http::Method::POST, "/api/auth/register", None, body, &ip, &agent).await;
    assert_eq!(r.status, http::StatusCode::CREATED, "{}", r.body);
    let zofia: Uuid = r.data()["user"]["id"].as_str().unwrap().parse().unwrap();
    app.verify(zofia).await;
    let wrong = json!({ "email": email, "password": "not-her-password" });
    assert_eq!(from(&app, http::Method::POST, "/api/auth/login", None, wrong, &ip, &agent).await.status, 401);
    let right = json!({ "email": email, "password": "correct-horse-battery" });
    let r = from(&app, http::Method::POST, "/api/auth/login", None, right, &ip, &agent).await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    let (access, refresh) =
        (r.data()["accessToken"].as_str().unwrap().to_owned(), r.data()["refreshToken"].as_str().unwrap().to_owned());
    for name in ["app_opened", "deposit_made"] {
        let event = json!({ "eventName": name, "properties": { "nickname": first, "contact": phone, "amount": 5000 } });
        let r = from(&app, http::Method::POST, "/api/events/track", Some(&access), event, &ip, &agent).await;
        assert_eq!(r.status, http::StatusCode::CREATED, "{}", r.body);
    }
    // KYC passes: the referral completes, Bob claims (once, by key), and both sides earn a
    // reward; finance voids hers.
    assert_eq!(app.kyc(zofia, "successful").await.status, 200);
    let pg = app.pg().await;
    let referral: Uuid = pg.query_one("SELECT id FROM referrals", &[]).await.unwrap().get(0);
    let r = app.claim(&bob.access, referral, Some("claim-1")).await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    let reward: Uuid = pg.query_one("SELECT id FROM rewards WHERE user_id = $1", &[&zofia]).await.unwrap().get(0);
    let r = app
        .json(
            http::Method::PATCH,
            &format!("/api/admin/rewards/{reward}"),
            Some(&admin.access),
            json!({ "status": "voided", "reason": format!("duplicate of {first} {last}'s other account") }),
        )
        .await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    // Her address bounced once; staff listed the users (a cached page); the workers ran.
    growstack::email::suppress(
        &app.state.db.writer().await.unwrap(),
        &email,
        growstack::email::Category::All,
        growstack::email::Reason::Bounce,
    )
    .await
    .unwrap();
    assert_eq!(app.list_users(&admin.access, "").await.status, 200);
    app.run_workers().await;
    let needles: Vec<String> =
        [&email, &phone, &first, &last, &ip, &agent, &device].iter().map(|n| n.to_lowercase()).collect();
    let before = traces(&app, &needles).await;
    // The scan finds what is there: Postgres and Redis held her details before (DynamoDB
    // holds none by design: job ids and message ids only).
    for kind in ["postgres", "redis"] {
        assert!(before.iter().any(|t| t.starts_with(kind)), "{kind}: {before:?}");
    }

    // The wrong password erases nothing.
    let r = from(
        &app,
        http::Method::DELETE,
        "/api/users/me",
        Some(&access),
        json!({ "password": "nope-nope-nope" }),
        &ip,
        &agent,
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["details"]["field"].as_str()),
        (http::StatusCode::BAD_REQUEST, Some("password")),
        "{}",
        r.body
    );
    assert_eq!(app.login(&email, "correct-horse-battery").await.status, 200);
    let events_before: i64 =
        pg.query_one("SELECT count(*) FROM events WHERE user_id = $1", &[&zofia]).await.unwrap().get(0);
    let r = from(
        &app,
        http::Method::DELETE,
        "/api/users/me",
        Some(&access),
        json!({ "password": "correct-horse-battery" }),
        &ip,
        &agent,
    )
    .await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.data()["userId"].as_str(), r.data()["archivePurged"].as_bool()),
        (Some(zofia.to_string().as_str()), Some(false))
    );
    app.run_workers().await;
    // A cached page listed again after, as staff would.
    assert_eq!(app.list_users(&admin.access, "").await.status, 200);

    let left = traces(&app, &needles).await;
    assert!(left.is_empty(), "left behind: {left:#?}");

    // Every session is over; the account cannot sign in; her code refers nobody.
    // Refused as revoked (401) or, where the revocation is not seen yet, as inactive (403).
    assert!(matches!(app.profile(&access).await.status.as_u16(), 401 | 403));
    assert!(matches!(app.refresh(&refresh).await.status.as_u16(), 401 | 403));
    assert_eq!(app.login(&email, "correct-horse-battery").await.status, 401);
    let her_code: String =
        pg.query_one("SELECT referral_code FROM users WHERE id = $1", &[&zofia]).await.unwrap().get(0);
    let mut invited = TestApp::registration(&app.email("eve"));
    invited["referralCode"] = json!(her_code);
    assert_eq!(app.register(invited).await.status, http::StatusCode::BAD_REQUEST);
    // Never mailed again, though the address is not stored.
    let conn = app.state.db.writer().await.unwrap();
    assert!(growstack::email::is_suppressed(&conn, &email.to_uppercase(), None).await.unwrap());
    // The ledger keeps her reward, analytics her (anonymous) events; staff see a pseudonym.
    assert_eq!(
        pg.query_one("SELECT count(*) FROM rewards WHERE user_id = $1", &[&zofia]).await.unwrap().get::<_, i64>(0),
        1
    );
    let events_after: i64 =
        pg.query_one("SELECT count(*) FROM events WHERE user_id = $1", &[&zofia]).await.unwrap().get(0);
    assert_eq!(events_after, events_before);
    let shown = app.get_user(&admin.access, &zofia.to_string()).await;
    assert_eq!(
        (shown.data()["status"].as_str(), shown.data()["phone"].as_str()),
        (Some("deleted"), None),
        "{}",
        shown.body
    );
    // Audited as her own request; the operator is told.
    let audit = pg
        .query_one("SELECT actor_id, action FROM audit_log WHERE entity = 'user' AND entity_id = $1", &[&zofia])
        .await
        .unwrap();
    assert_eq!((audit.get::<_, Uuid>(0), audit.get::<_, String>(1)), (zofia, "erased".to_owned()));
    let told: i64 = pg
        .query_one(
            "SELECT count(*) FROM webhook_events WHERE type = 'user.erased' AND data->>'id' = $1",
            &[&zofia.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(told, 1);
    // On the archive's erasure list at once.
    let listed = app
        .state
        .aws
        .s3()
        .get_object()
        .bucket(&app.aws.events_bucket)
        .key(format!("erasures/{zofia}.json"))
        .send()
        .await
        .unwrap();
    let line: Value = serde_json::from_slice(&listed.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(line["userId"], zofia.to_string());
}

/// Staff erase an account with a reason (audited); not their own; a second erasure answers
/// as the first and changes nothing.
#[tokio::test]
async fn staff_erase_with_a_reason_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ada = app.user(&app.email("ada")).await;
    let path = format!("/api/admin/users/{}/erase", ada.id);
    assert_eq!(app.json(http::Method::POST, &path, Some(&ada.access), json!({ "reason": "x" })).await.status, 403);
    let r = app.json(http::Method::POST, &path, Some(&admin.access), json!({})).await;
    assert_eq!(
        (r.status, r.body["error"]["details"]["field"].as_str()),
        (http::StatusCode::BAD_REQUEST, Some("reason"))
    );
    let own = format!("/api/admin/users/{}/erase", admin.id);
    assert_eq!(app.json(http::Method::POST, &own, Some(&admin.access), json!({ "reason": "x" })).await.status, 403);
    let missing = format!("/api/admin/users/{}/erase", Uuid::now_v7());
    assert_eq!(app.json(http::Method::POST, &missing, Some(&admin.access), json!({ "reason": "x" })).await.status, 404);
    assert_eq!(app.profile(&ada.access).await.status, 200, "nothing erased by the refusals");

    let first = app.json(http::Method::POST, &path, Some(&admin.access), json!({ "reason": "NDPA request 7" })).await;
    assert_eq!(first.status, http::StatusCode::OK, "{}", first.body);
    let again = app.json(http::Method::POST, &path, Some(&admin.access), json!({ "reason": "NDPA request 7" })).await;
    assert_eq!((again.status, &again.data()["erasedAt"]), (http::StatusCode::OK, &first.data()["erasedAt"]));
    let pg = app.pg().await;
    let audits: Vec<(Uuid, Value)> = pg
        .query("SELECT actor_id, after FROM audit_log WHERE entity = 'user' AND action = 'erased'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(audits, vec![(admin.id, json!({ "reason": "NDPA request 7" }))]);
    assert!(matches!(app.profile(&ada.access).await.status.as_u16(), 401 | 403));
    // The export of an erased account shows the pseudonym and nothing else of hers.
    let r = app
        .call(http::Method::GET, &format!("/api/admin/users/{}/export?reason=check", ada.id), Some(&admin.access), None)
        .await;
    assert_eq!(r.data()["profile"]["status"], "deleted");
    assert!(!r.body.to_string().contains(&ada.email), "{}", r.body);
}

/// The user ids of the records in an archived object, gunzipped as needed (Firehose gzips,
/// moto's does not); `None` for a line that is not a record.
fn archived_owners(bytes: &[u8]) -> Vec<Option<String>> {
    use std::io::Read;
    let mut text = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut text).unwrap();
    } else {
        text = bytes.to_vec();
    }
    String::from_utf8(text)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str::<Value>(l).ok().and_then(|v| v["userId"].as_str().map(str::to_owned)))
        .collect()
}

/// Every version of every archived object: (key, version, owners).
async fn archive_versions(app: &TestApp) -> Vec<(String, String, Vec<Option<String>>)> {
    let s3 = app.state.aws.s3();
    let mut out = Vec::new();
    let mut markers: (Option<String>, Option<String>) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(&app.aws.events_bucket)
            .prefix("events/")
            .set_key_marker(markers.0.clone())
            .set_version_id_marker(markers.1.clone())
            .send()
            .await
            .unwrap();
        for version in page.versions() {
            let (key, id) = (version.key().unwrap().to_owned(), version.version_id().unwrap().to_owned());
            let got = s3.get_object().bucket(&app.aws.events_bucket).key(&key).version_id(&id).send().await.unwrap();
            out.push((key, id, archived_owners(&got.body.collect().await.unwrap().into_bytes())));
        }
        if !page.is_truncated().unwrap_or(false) {
            return out;
        }
        markers = (page.next_key_marker().map(str::to_owned), page.next_version_id_marker().map(str::to_owned));
    }
}

/// The archive: an erased account's records leave every archived object and every version
/// of it, gzipped or not, in slices that resume where the last stopped; everyone else's stay;
/// the erasure counts as purged once the pass ends, and nothing more is done after.
#[tokio::test]
async fn the_archive_is_rewritten_without_an_erased_account() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ada = app.user(&app.email("ada")).await;
    let bob = app.user(&app.email("bob")).await;
    for user in [&ada, &bob] {
        for name in ["app_opened", "deposit_made"] {
            let r = app
                .json(http::Method::POST, "/api/events/track", Some(&user.access), json!({ "eventName": name }))
                .await;
            assert_eq!(r.status, http::StatusCode::CREATED);
        }
    }
    let stored: i64 = app.count("events").await;
    let mut exported = 0;
    for _ in 0..100 {
        exported += app.state.scheduler().run(&[Task::EventsExport]).await.unwrap().events_exported as i64;
        if exported >= stored {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(exported, stored);
    // And an object as the real Firehose writes it: gzipped, with a line that is no record.
    let (ada_id, bob_id) = (ada.id.to_string(), bob.id.to_string());
    let gz_key = format!("events/dt=2026-01-01/{}.gz", app.schema);
    let lines =
        format!("{{\"id\":\"a\",\"userId\":\"{ada_id}\"}}\n{{\"id\":\"b\",\"userId\":\"{bob_id}\"}}\nnot json\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, lines.as_bytes()).unwrap();
    let s3 = app.state.aws.s3();
    s3.put_object().bucket(&app.aws.events_bucket).key(&gz_key).body(gz.finish().unwrap().into()).send().await.unwrap();
    let count = |versions: &[(String, String, Vec<Option<String>>)], id: &str| {
        versions.iter().flat_map(|(_, _, owners)| owners).filter(|o| o.as_deref() == Some(id)).count()
    };
    let pg = app.pg().await;
    let held = |user: Uuid| {
        let pg = &pg;
        async move {
            let n: i64 = pg.query_one("SELECT count(*) FROM events WHERE user_id = $1", &[&user]).await.unwrap().get(0);
            n as usize + 1
        }
    };
    let (ada_n, bob_n) = (held(ada.id).await, held(bob.id).await);
    let before = archive_versions(&app).await;
    assert_eq!(
        (count(&before, &ada_id), count(&before, &bob_id)),
        (ada_n, bob_n),
        "each event exported, and one gzipped"
    );

    let r = app
        .json(
            http::Method::POST,
            &format!("/api/admin/users/{}/erase", ada.id),
            Some(&admin.access),
            json!({ "reason": "request 9" }),
        )
        .await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    let waiting = app.state.archive().unwrap().backlog_days(&app.state.db).await.unwrap();
    assert!(waiting > 0.0 && waiting < 60.0 / 86400.0, "{waiting}");
    // Slices of one object at most (the budget is spent by then), two objects a listing.
    let archive =
        growstack::privacy::Archive { in_flight: std::time::Duration::ZERO, page: 2, ..app.state.archive().unwrap() };
    let (mut runs, mut removed, mut rewritten) = (0, 0, 0);
    loop {
        let run = archive.run(&app.state.db, std::time::Duration::from_millis(1)).await.unwrap();
        assert!(run.objects_read <= 1, "{run:?}");
        runs += 1;
        removed += run.records_removed;
        rewritten += run.objects_rewritten;
        if run.pass_finished {
            assert_eq!(run.purged, 1);
            break;
        }
        assert!(runs < 100_000);
    }
    assert!(runs > 2, "in slices: {runs}");
    assert_eq!(removed, ada_n as u64);
    assert!((1..=ada_n as u64).contains(&rewritten), "{rewritten}");

    let after = archive_versions(&app).await;
    assert_eq!((count(&after, &ada_id), count(&after, &bob_id)), (0, bob_n), "no version keeps hers; his all stay");
    let gz = s3.get_object().bucket(&app.aws.events_bucket).key(&gz_key).send().await.unwrap();
    let bytes = gz.body.collect().await.unwrap().into_bytes();
    assert!(bytes.starts_with(&[0x1f, 0x8b]), "still gzipped");
    assert_eq!(archived_owners(&bytes), vec![Some(bob_id.clone()), None], "the other lines as they were");
    let purged: bool = pg
        .query_one("SELECT archive_purged_at IS NOT NULL FROM erasures WHERE user_id = $1", &[&ada.id])
        .await
        .unwrap()
        .get(0);
    assert!(purged);
    assert_eq!(app.count("archive_rewrite").await, 0);
    // Nothing waits: a run reads nothing.
    let idle = archive.run(&app.state.db, std::time::Duration::from_secs(5)).await.unwrap();
    assert_eq!(idle, growstack::privacy::Rewritten::default());
    // The task reports the backlog its alarm watches: none now.
    let report = app.state.scheduler().run(&[Task::ArchiveErasures]).await.unwrap();
    assert_eq!(report.archive.backlog_days, 0.0);
    let line = app.emf.lock().unwrap().iter().rev().find(|l| l.contains("ErasureArchiveBacklogDays")).cloned().unwrap();
    let line: Value = serde_json::from_str(&line).unwrap();
    assert_eq!((&line["ErasureArchiveBacklogDays"], &line["Task"]), (&json!(0.0), &json!("archive-erasures")));
    assert_eq!(
        app.call(
            http::Method::POST,
            &format!("/api/admin/users/{}/erase", ada.id),
            Some(&admin.access),
            Some(r#"{"reason":"x"}"#)
        )
        .await
        .data()["archivePurged"],
        true
    );
}

/// The Athena view `events_live` leaves an erased account's records out: its SQL, as the
/// template stores it (base64 JSON in the Glue table), run on the archive's columns in
/// Postgres (it is plain SQL both engines read alike); its columns are the events table's
/// with dt; and every saved query reads the view, never the table.
#[tokio::test]
async fn the_archive_view_excludes_erased_accounts() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let resources = &template["Resources"];
    let view = &resources["EventsLiveView"]["Properties"]["TableInput"];
    assert_eq!(view["TableType"].as_str(), Some("VIRTUAL_VIEW"));
    assert_eq!(view["Parameters"]["presto_view"].as_str(), Some("true"));
    let serde_yaml_ng::Value::Tagged(join) = &view["ViewOriginalText"] else { panic!("a !Join") };
    let parts = join.value.as_sequence().unwrap()[1].as_sequence().unwrap();
    assert_eq!((parts[0].as_str(), parts[2].as_str()), (Some("/* Presto View: "), Some(" */")));
    let serde_yaml_ng::Value::Tagged(sub) = &parts[1]["Fn::Base64"] else { panic!("{:?}", parts[1]) };
    let json_text =
        sub.value.as_str().unwrap().replace("${EventsGlueDatabase}", "db").replace("${AWS::AccountId}", "1");
    let definition: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!((definition["catalog"].as_str(), definition["schema"].as_str()), (Some("awsdatacatalog"), Some("db")));

    let table = &resources["EventsGlueTable"]["Properties"]["TableInput"];
    let mut columns: Vec<String> = table["StorageDescriptor"]["Columns"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap().to_owned())
        .chain(table["PartitionKeys"].as_sequence().unwrap().iter().map(|c| c["Name"].as_str().unwrap().to_owned()))
        .collect();
    let in_view: Vec<(String, String)> = definition["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["type"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(in_view, columns.iter().map(|c| (c.clone(), "varchar".to_owned())).collect::<Vec<_>>());
    let described: Vec<String> = view["StorageDescriptor"]["Columns"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(described, columns);

    // The SQL on the archive's shape: Ada erased, Bob not.
    let app = TestApp::spawn().await;
    let pg = app.pg().await;
    let athena = format!("{}_athena", app.schema);
    columns.iter_mut().for_each(|c| c.push_str(" text"));
    pg.batch_execute(&format!(
        "CREATE SCHEMA {athena}; SET search_path = {athena};
         CREATE TABLE events ({}); CREATE TABLE erasures (userid text, erasedat text);
         INSERT INTO events (id, userid, eventname, dt) VALUES ('1', 'ada', 'app_opened', '2026-12-01'),
            ('2', 'bob', 'app_opened', '2026-12-01'), ('3', 'ada', 'deposit_made', '2026-12-02'), ('4', NULL, 'x', '2026-12-02');
         INSERT INTO erasures VALUES ('ada', '2026-12-03T00:00:00Z');",
        columns.join(", ")
    ))
    .await
    .unwrap();
    let sql = definition["originalSql"].as_str().unwrap();
    let kept: Vec<String> = pg
        .query(&format!("SELECT id FROM ({sql}) v ORDER BY id"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept, ["2", "4"]);
    pg.batch_execute(&format!("DROP SCHEMA {athena} CASCADE")).await.unwrap();

    let queries: Vec<&serde_yaml_ng::Value> = resources
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Athena::NamedQuery"))
        .collect();
    assert!(!queries.is_empty());
    for query in queries {
        let text = format!("{:?}", query["Properties"]["QueryString"]);
        assert!(text.contains("FROM events_live") && !text.contains("EventsGlueTable"), "{text}");
    }
}

/// A plain HTTP GET of a URL on moto (a presigned one): status and body.
async fn fetch(url: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("moto speaks http");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&response[9..12]).parse().unwrap();
    (status, response[split + 4..].to_vec())
}

/// A history over 10,000 events: the export answers at once with the newest 10,000 and asks
/// for the full one (once, however often asked); the task writes it to S3 and mails whoever
/// asked a link, which answers with a short-lived URL of the whole file for 24 hours; a
/// forged token finds nothing; an erasure ends the link.
#[tokio::test]
async fn a_long_history_is_exported_whole_through_a_mailed_link() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ada = app.user(&app.email("ada")).await;
    let pg = app.pg().await;
    pg.execute(
        "INSERT INTO events (id, user_id, event_name, properties, metadata, occurred_at, source, activity)
         SELECT gen_random_uuid(), $1, 'screen_viewed', jsonb_build_object('n', n), '{}', now() - make_interval(secs => n), 'client', true
         FROM generate_series(1, 10050) n",
        &[&ada.id],
    )
    .await
    .unwrap();
    let total: i64 = pg.query_one("SELECT count(*) FROM events WHERE user_id = $1", &[&ada.id]).await.unwrap().get(0);
    let r = app.call(http::Method::GET, "/api/users/me/export", Some(&ada.access), None).await;
    assert_eq!(r.status, http::StatusCode::OK, "{}", r.body);
    assert_eq!((r.data()["eventsTotal"].as_i64(), r.data()["events"].as_array().unwrap().len()), (Some(total), 10_000));
    assert_eq!(r.data()["fullExport"]["status"], "pending");
    let id = r.data()["fullExport"]["id"].as_str().unwrap().to_owned();
    let again = app.call(http::Method::GET, "/api/users/me/export", Some(&ada.access), None).await;
    assert_eq!(again.data()["fullExport"]["id"], id.as_str(), "one waiting export, not two");

    let report = app.state.scheduler().run(&[Task::UserExports]).await.unwrap();
    assert_eq!((report.exports.ready, report.exports.failed), (1, 0));
    assert_eq!(app.state.scheduler().run(&[Task::UserExports]).await.unwrap().exports.ready, 0, "written once");
    app.run_workers().await;
    let mails = growstack_tests::emails_to(&ada.email).await;
    let mail = mails.iter().find(|m| m["subject"] == "Your GrowStack data is ready").expect("the link mailed");
    let body = mail["body"].as_str().unwrap();
    let start = body.find("/api/exports/").unwrap();
    let link: String = body[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<').collect();
    assert!(link.starts_with(&format!("/api/exports/{id}?token=")), "{link}");

    let forged = format!("/api/exports/{id}?token=not-the-token");
    assert_eq!(app.call(http::Method::GET, &forged, None, None).await.status, 404);
    assert_eq!(app.call(http::Method::GET, &format!("/api/exports/{id}"), None, None).await.status, 400);
    let r = app.call(http::Method::GET, &link, None, None).await;
    assert_eq!(r.status, http::StatusCode::FOUND, "{}", r.body);
    assert_eq!(r.headers["cache-control"], "no-store");
    let location = r.headers["location"].to_str().unwrap().to_owned();
    assert!(location.contains("X-Amz-Expires=300"), "{location}");
    let (status, file) = fetch(&location).await;
    assert_eq!(status, 200);
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&file[..]), &mut text).unwrap();
    let whole: Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(whole["profile"]["email"], ada.email.as_str());
    assert_eq!((whole["eventsTotal"].as_i64(), whole["events"].as_array().unwrap().len() as i64), (Some(total), total));
    let times: Vec<&str> =
        whole["events"].as_array().unwrap().iter().map(|e| e["occurred_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // 24 hours on, the link has expired.
    pg.execute("UPDATE user_exports SET expires_at = now() - interval '1 second'", &[]).await.unwrap();
    assert_eq!(app.call(http::Method::GET, &link, None, None).await.status, http::StatusCode::GONE);
    pg.execute("UPDATE user_exports SET expires_at = now() + interval '1 hour'", &[]).await.unwrap();
    // Staff answering her get their own, mailed to them; her erasure ends every link.
    let staff = app
        .call(http::Method::GET, &format!("/api/admin/users/{}/export?reason=r", ada.id), Some(&admin.access), None)
        .await;
    assert_ne!(staff.data()["fullExport"]["id"], id.as_str());
    let r = app
        .json(
            http::Method::POST,
            &format!("/api/admin/users/{}/erase", ada.id),
            Some(&admin.access),
            json!({ "reason": "r" }),
        )
        .await;
    assert_eq!(r.status, http::StatusCode::OK);
    assert_eq!(app.call(http::Method::GET, &link, None, None).await.status, 404);
    assert_eq!(app.count("user_exports").await, 0);
}
