//! When Redis or Postgres goes away: Redis is optional and the API keeps answering from
//! Postgres; without Postgres the API answers 503 quickly instead of hanging.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use growstack::auth::TokenType;
use growstack::users::Role;
use growstack_tests::TestApp;
use http::StatusCode;

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Redis server of this test's own, so stopping it disturbs no other test.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    async fn start_on(port: u16) -> OwnRedis {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (the test script installs it)");
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        for _ in 0..100 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING").query_async::<String>(&mut c).await.is_ok() {
                    return OwnRedis { port, child };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

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
