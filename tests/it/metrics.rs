//! Metrics: every EMF document the code writes satisfies the Embedded Metric Format
//! specification, and the server's Prometheus text carries the same measurements.

use std::collections::HashSet;

use growstack::worker::SqsWorker;
use growstack_tests::TestApp;
use http::{Method, StatusCode};
use serde_json::{json, Value};

const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one document against the EMF specification; returns the metric names it defines.
fn check_emf(line: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let root = doc.as_object().expect("the root is an object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    assert!(aws["Timestamp"].as_i64().is_some_and(|t| t > 1_600_000_000_000), "Timestamp in ms: {line}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics is an array");
    assert!(!directives.is_empty());
    let mut names = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!((1..=255).contains(&namespace.len()));
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions");
            for dim in set {
                let dim = dim.as_str().expect("dimension names are strings");
                let value = root.get(dim).unwrap_or_else(|| panic!("dimension {dim} has no root member: {line}"));
                assert!(value.as_str().is_some_and(|v| !v.is_empty() && v.len() <= 1024), "dimension {dim}: {line}");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "1 to 100 metrics");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!((1..=255).contains(&name.len()));
            if let Some(unit) = metric.get("Unit") {
                assert!(UNITS.contains(&unit.as_str().unwrap()), "unit {unit}");
            }
            let value = &root[name];
            let numeric =
                value.is_number() || value.as_array().is_some_and(|a| a.len() <= 100 && a.iter().all(Value::is_number));
            assert!(numeric, "metric {name} must be a number: {line}");
            names.push(name.to_owned());
        }
    }
    names
}

#[test]
fn the_checker_rejects_what_the_specification_forbids() {
    let good = r#"{"_aws":{"Timestamp":1764316800000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["A"]],"Metrics":[{"Name":"M","Unit":"Count"}]}]},"A":"x","M":1}"#;
    assert_eq!(check_emf(good), vec!["M"]);
    for bad in [
        good.replace(r#""M":1"#, r#""M":"1""#),                  // value not a number
        good.replace(r#""A":"x","#, ""),                         // dimension without a value
        good.replace(r#""Unit":"Count""#, r#""Unit":"Apples""#), // unknown unit
        good.replace("1764316800000", "\"now\""),                // timestamp not a number
    ] {
        assert!(std::panic::catch_unwind(|| check_emf(&bad)).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn every_emf_document_is_valid_and_covers_the_measurements() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("metrics")).await;
    app.list_users(&admin.access, "").await; // miss
    app.list_users(&admin.access, "").await; // hit
    app.run_workers().await; // the welcome: a notification batch and an email
    app.state.metrics.cold_start("test-function");
    app.state.metrics.reward_paid("NGN", 500.0);
    let (event, _) = {
        let mut e = aws_lambda_events::event::sqs::SqsEvent::default();
        let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
        m.message_id = Some("poison".into());
        m.body = Some("not json".into());
        e.records.push(m);
        (e, ())
    };
    let response = app.state.email_worker().handle(event).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(app.profile(&user.access).await.status, StatusCode::OK);
    app.state.scheduler().run(&[growstack::scheduler::Task::DueNotifications]).await.unwrap();

    let lines = app.emf.lock().unwrap().clone();
    let mut seen = HashSet::new();
    for line in &lines {
        seen.extend(check_emf(line));
    }
    for metric in [
        "RequestDuration",
        "ColdStart",
        "MessagesProcessed",
        "MessagesFailed",
        "BatchDuration",
        "EmailsSent",
        "CacheHit",
        "CacheMiss",
        "RewardsPaid",
        "RewardAmount",
        "SchedulerRuns",
    ] {
        assert!(seen.contains(metric), "{metric} never written; saw {seen:?}");
    }
    // A request's document names its route template, method and status class.
    let request: Value = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|d| d["Route"] == "/api/users" && d["StatusClass"] == "2xx")
        .expect("a document for GET /api/users");
    assert_eq!(request["Method"], "GET");
    assert!(request["RequestDuration"].as_f64().unwrap() >= 0.0);
    let failed: Value = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|d| d["Queue"] == "email" && d["MessagesFailed"] == json!(1.0))
        .expect("the poison batch");
    assert_eq!(failed["MessagesProcessed"], json!(0.0));
    // The scheduler's heartbeat, by task.
    let heartbeat: Value = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|d| d["SchedulerRuns"] == json!(1.0))
        .expect("a scheduler heartbeat");
    assert_eq!(heartbeat["Task"], "due-notifications");
}

#[test]
fn with_a_service_every_metric_is_published_under_it_once() {
    let lines: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let sink = lines.clone();
    let metrics =
        growstack::metrics::Metrics::with_sink("GrowStack", std::sync::Arc::new(move |l| sink.lock().unwrap().push(l)))
            .with_service("growstack-staging");
    metrics.email_sent("welcome");
    let line = lines.lock().unwrap()[0].clone();
    assert_eq!(check_emf(&line), vec!["EmailsSent"]);
    let doc: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Service", "Template"]]),
        "each metric once, per stack"
    );
    assert_eq!(doc["Service"], "growstack-staging");
}

#[tokio::test]
async fn the_server_serves_prometheus_text() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.list_users(&admin.access, "").await;
    app.list_users(&admin.access, "").await;
    app.call(Method::GET, "/api/nope", None, None).await;

    let response = tower::ServiceExt::oneshot(
        growstack::server::metrics_router(app.state.clone()),
        http::Request::get("/metrics").body(axum::body::Body::empty()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text =
        String::from_utf8(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(r#"growstack_http_requests_total{method="GET",route="/api/users",status="200"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"growstack_http_requests_total{method="GET",route="unmatched",status="404"} 1"#), "{text}");
    assert!(text.contains("growstack_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains(r#"growstack_cache_lookups_total{cache="users-list",result="hit"} 1"#), "{text}");
    // Only the server's own router, on its own port, serves it: the API does not.
    assert_eq!(app.call(Method::GET, "/metrics", None, None).await.status, StatusCode::NOT_FOUND);
}
