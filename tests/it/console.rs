//! The console's files, served at `/console/` by the always-on binary (its browser tests are
//! scripts/console_e2e.sh).

use growstack_tests::TestApp;
use http::{Method, StatusCode};

#[tokio::test]
async fn the_built_console_is_served_with_its_routes_falling_back_to_the_app() {
    let dir = std::env::temp_dir().join(format!("growstack-console-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>GrowStack console</title>").unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log('app')").unwrap();
    let app = TestApp::spawn_with(&[("CONSOLE_DIR", dir.to_str().unwrap())]).await;

    let r = app.call(Method::GET, "/console", None, None).await;
    assert_eq!(r.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers["location"], "/console/");
    let r = app.call(Method::GET, "/console/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.raw).contains("GrowStack console"));
    let r = app.call(Method::GET, "/console/assets/app.js", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"].to_str().unwrap().contains("javascript"));
    // A route of the app itself, reloaded in the browser: the app answers it.
    let r = app.call(Method::GET, "/console/experiments/123", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.raw).contains("GrowStack console"));
    // Its own scripts only, framed by nobody, never sniffed.
    let r = app.call(Method::GET, "/console/", None, None).await;
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"));
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    // The API is untouched, and its answers are neither sniffed nor kept by caches.
    let r = app.call(Method::GET, "/api/users/profile", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.headers.contains_key("content-security-policy"));
    let login = app.login(&app.user(&app.email("headers")).await.email, "correct-horse-battery").await;
    for answer in [&r, &login] {
        assert_eq!(answer.headers["x-content-type-options"], "nosniff");
        assert_eq!(answer.headers["cache-control"], "no-store");
        assert!(answer.headers["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn without_a_built_console_the_path_is_not_found() {
    let app = TestApp::spawn_with(&[("CONSOLE_DIR", "/nonexistent/console")]).await;
    let r = app.call(Method::GET, "/console/", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "NOT_FOUND");
}
