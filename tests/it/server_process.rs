//! The `growstack` server binary as an operator runs it: it refuses to start without its
//! secrets, and a flood of logins neither grows it without bound nor brings it down.
//! scripts/test.sh builds the binary before the tests run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use growstack_tests::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// target/<profile>/growstack, beside the directory this test binary runs from.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join("growstack");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --bin growstack` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// One HTTP/1.1 request on a fresh connection; the status code, or 0 if the connection failed.
async fn request(port: u16, method: &str, path: &str, body: &str) -> u16 {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else { return 0 };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(body.as_bytes()).await.is_err() {
        return 0;
    }
    let mut response = Vec::new();
    if stream.read_to_end(&mut response).await.is_err() {
        return 0;
    }
    String::from_utf8_lossy(&response).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The peak resident set of a process, in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_server_refuses_to_start_without_its_secrets() {
    let output = Command::new(server_binary())
        .arg("serve")
        .env_clear()
        .env("PORT", growstack_tests::free_port().to_string())
        .env("METRICS_PORT", growstack_tests::free_port().to_string())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JWT_ACCESS_SECRET and JWT_REFRESH_SECRET"), "{stderr}");
    assert!(stderr.contains("GROWSTACK_ENV=local"), "the message says how to run locally: {stderr}");
}

/// The operator commands take no token keys: a shell with the database's settings and no
/// JWT secret (nor `GROWSTACK_ENV=local`) runs a scheduler task.
#[tokio::test]
async fn an_operator_command_needs_no_token_keys() {
    let app = TestApp::spawn().await;
    let output = Command::new(server_binary())
        .args(["run-task", "housekeeping"])
        .env_clear()
        .envs(app.vars.iter().filter(|(k, _)| !k.starts_with("JWT_") && *k != "GROWSTACK_ENV"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report: serde_json::Value = serde_json::from_str(last).expect("the task's report, as JSON");
    assert!(report.is_object(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_keeps_the_server_small_and_answering() {
    let app = TestApp::spawn().await;
    let port = growstack_tests::free_port();
    let server = Server(
        Command::new(server_binary())
            .arg("serve")
            .envs(&app.vars)
            .env("PORT", port.to_string())
            .env("METRICS_PORT", growstack_tests::free_port().to_string())
            .env("DATABASE_POOL_SIZE", "20")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while request(port, "GET", "/health", "").await != 200 {
        assert!(started.elapsed() < Duration::from_secs(20), "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = peak_rss_mib(server.0.id());

    let logins: Vec<_> = (0..100)
        .map(|i| {
            tokio::spawn(async move {
                let body = format!(r#"{{"email":"flood{i}@example.com","password":"guess-guess-{i}"}}"#);
                request(port, "POST", "/api/auth/login", &body).await
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for login in logins {
        *statuses.entry(login.await.unwrap()).or_insert(0) += 1;
    }
    let peak = peak_rss_mib(server.0.id());
    println!("login flood: answers {statuses:?}, peak RSS {before:.1} MiB before, {peak:.1} MiB after");
    for status in statuses.keys() {
        assert!([401, 429, 503].contains(status), "unexpected answer {status}: {statuses:?}");
    }
    assert!(peak < 300.0, "peak RSS {peak:.1} MiB");
    // Still serving afterwards.
    assert_eq!(request(port, "GET", "/health", "").await, 200);
}
