//! One JSON log line per request, with method, route, status, duration and request id.

use std::io::Write;
use std::sync::{Arc, Mutex};

use growstack_tests::{event, TestApp};
use serde_json::Value;

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn matching(&self, message: &str) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("every log line is JSON"))
            .filter(|v| v["message"] == message)
            .collect()
    }

    fn requests(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("every log line is JSON"))
            .filter(|v| v["message"] == "request")
            .collect()
    }
}

#[tokio::test]
async fn one_json_line_per_request() {
    let lines = Lines::default();
    let writer = lines.clone();
    let _guard = tracing::subscriber::set_default(growstack::telemetry::subscriber(move || writer.clone()));
    let app = TestApp::spawn().await;

    let user = app.unverified_user("log@example.com").await;
    app.get_user(&user.access, &user.id.to_string()).await;
    let endpoint = growstack::app::ENDPOINTS.iter().find(|e| e.function == "health").unwrap();
    app.invoke(endpoint, event("health", &[])).await;

    let logged = lines.requests();
    // A line logged inside a request carries the request's id too.
    let registered = lines.matching("user registered");
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0]["spans"][0]["request_id"], logged[0]["request_id"], "{}", registered[0]);
    assert_eq!(logged.len(), 3, "{logged:?}");
    assert_eq!(logged[0]["method"], "POST");
    assert_eq!(logged[0]["route"], "/api/auth/register");
    assert_eq!(logged[0]["status"], 201);
    assert_eq!(logged[1]["route"], "/api/users/{id}", "the route template, not the raw path");
    assert_eq!(logged[1]["status"], 403);
    assert_eq!(logged[2]["request_id"], event("health", &[])["requestContext"]["requestId"]);
    for line in &logged {
        assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
        assert!(line["request_id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(line["timestamp"].is_string());
        assert!(!line.to_string().contains("log@example.com"), "no emails in logs");
    }
}

/// Every datagram the fake daemon received until it went quiet, as segment documents.
fn received(daemon: &std::net::UdpSocket) -> Vec<Value> {
    let mut documents = Vec::new();
    let mut buf = [0u8; 65_536];
    while let Ok(n) = daemon.recv(&mut buf) {
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let (header, body) = text.split_once('\n').expect("a header line, then the document");
        assert_eq!(header, r#"{"format":"json","version":1}"#);
        documents.push(serde_json::from_str(body).unwrap());
    }
    documents
}

#[tokio::test]
async fn spans_reach_xray_as_subsegments_of_the_invocation() {
    use growstack::xray::XRayLayer;
    use tracing::Instrument;

    let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
    let layer = XRayLayer::new(daemon.local_addr().unwrap(), "events-track", 0.0).unwrap();
    let _guard = tracing::subscriber::set_default(growstack::telemetry::subscriber_with(std::io::sink, Some(layer)));
    let app = TestApp::spawn().await;
    let user = app.user("xray@example.com").await;
    assert!(received(&daemon).is_empty(), "requests outside a trace send nothing");
    let track = growstack::app::ENDPOINTS.iter().find(|e| e.function == "events-track").unwrap();
    let as_user = [("REPLACE_WITH_ACCESS_TOKEN", user.access.as_str())];

    // What lambda_runtime does around each invocation, with the header Lambda gives it.
    let root = "1-6787815c-b1c2d3e4f5a6b7c8d9e0f1a2";
    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some(format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1"));
    let span = lambda_runtime::layers::trace::request_span(&context);
    let response = app.invoke(track, event("events-track", &as_user)).instrument(span).await;
    assert_eq!(response["statusCode"], 201);

    let documents = received(&daemon);
    let named =
        |name: &str| documents.iter().find(|d| d["name"] == name).unwrap_or_else(|| panic!("{name}: {documents:?}"));
    let invoke = named("Lambda runtime invoke");
    let request = named("request");
    let handler = named("track");
    assert_eq!(invoke["parent_id"], "53995c3f42cd8ad8", "under the function's own segment");
    assert_eq!(request["parent_id"], invoke["id"]);
    assert_eq!(handler["parent_id"], request["id"]);
    assert_eq!(handler["annotations"]["user_id"], user.id.to_string(), "span fields become annotations");
    assert_eq!(request["annotations"]["request_id"], "Kd3fO5M-oAMEVgg=");
    for document in &documents {
        assert_eq!(document["trace_id"], root);
        assert_eq!(document["type"], "subsegment");
        assert_eq!(document["id"].as_str().unwrap().len(), 16);
        assert!(document["end_time"].as_f64() >= document["start_time"].as_f64(), "{document}");
    }

    // A trace Lambda did not sample sends nothing.
    context.xray_trace_id = Some(format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=0"));
    let span = lambda_runtime::layers::trace::request_span(&context);
    app.invoke(track, event("events-track", &as_user)).instrument(span).await;
    assert!(received(&daemon).is_empty());
}
