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
