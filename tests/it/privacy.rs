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
