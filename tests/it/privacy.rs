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
            "SELECT DISTINCT c.table_name::text AS t, c.column_name::text AS c
             FROM information_schema.columns c
             WHERE c.table_schema = current_schema() AND c.data_type = 'uuid'
               AND (c.column_name IN ('user_id', 'actor_id', 'created_by', 'referrer_id', 'referred_by', 'held_by')
                    OR c.column_name LIKE '%\\_user\\_id'
                    OR EXISTS (
                        SELECT 1 FROM information_schema.key_column_usage k
                        JOIN information_schema.referential_constraints r
                          ON r.constraint_name = k.constraint_name AND r.constraint_schema = k.constraint_schema
                        JOIN information_schema.constraint_column_usage u
                          ON u.constraint_name = r.unique_constraint_name AND u.constraint_schema = r.unique_constraint_schema
                        WHERE k.table_schema = c.table_schema AND k.table_name = c.table_name
                          AND k.column_name = c.column_name AND u.table_name = 'users'))
             UNION SELECT 'users', 'id'",
            &[],
        )
        .await
        .unwrap();
    let found: std::collections::BTreeSet<(String, String)> = rows.iter().map(|r| (r.get("t"), r.get("c"))).collect();
    let covered: std::collections::BTreeSet<(String, String)> =
        growstack::privacy::COVERED.iter().map(|(t, c, _)| (t.to_string(), c.to_string())).collect();
    // Partitions of `events` are the same table.
    let found: std::collections::BTreeSet<_> =
        found.into_iter().filter(|(t, _)| !t.starts_with("events_") || t == "events_dedupe").collect();
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
