//! The profile and the admin user routes, the list's single statement and its cache.

use growstack_tests::TestApp;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn admin_routes_need_an_admin() {
    let app = TestApp::spawn().await;
    let user = app.user("plain@example.com").await;
    for r in [
        app.list_users(&user.access, "").await,
        app.get_user(&user.access, &user.id.to_string()).await,
        app.block(&user.access, &user.id.to_string(), true).await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(r.code(), "FORBIDDEN");
    }
    assert_eq!(app.call(Method::GET, "/api/users", None, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn list_returns_referrals_newest_first_in_one_statement() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let referrer = app.user("referrer@example.com").await;
    let code = app.profile(&referrer.access).await.data()["referralCode"].as_str().unwrap().to_owned();
    for i in 0..12 {
        let mut body = TestApp::registration(&format!("friend{i}@example.com"));
        body["referralCode"] = json!(code);
        assert_eq!(app.register(body).await.status, StatusCode::CREATED);
    }

    let before = app.state.db.statements_run();
    let r = app.list_users(&admin.access, "?limit=100").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.state.db.statements_run() - before, 1, "the list must be one statement");

    let users = r.data()["users"].as_array().unwrap();
    assert_eq!(users.len(), 14);
    assert_eq!(users[0]["email"], "friend11@example.com");
    assert_eq!(users[13]["email"], "admin@growstack.test");
    let with_referrals = users.iter().find(|u| u["email"] == "referrer@example.com").unwrap();
    let referrals = with_referrals["referrals"].as_array().unwrap();
    assert_eq!(referrals.len(), 12);
    assert!(referrals.iter().all(|r| r["status"] == "pending" && r["id"].is_string()));
    assert_eq!(users[0]["referrals"], json!([]));
    assert!(users.iter().all(|u| u.get("passwordHash").is_none()));
    let created_at = users[0]["createdAt"].as_str().unwrap();
    assert!(created_at.parse::<chrono::DateTime<chrono::Utc>>().is_ok() && created_at.ends_with('Z'), "{created_at}");

    // Default page, paging, bounds.
    let r = app.list_users(&admin.access, "").await;
    assert_eq!(r.data()["users"].as_array().unwrap().len(), 10);
    assert_eq!(r.data()["pagination"], json!({ "limit": 10, "offset": 0 }));
    let r = app.list_users(&admin.access, "?limit=5&offset=10").await;
    let page = r.data()["users"].as_array().unwrap();
    assert_eq!(page.len(), 4);
    assert_eq!(page[0]["email"], "friend1@example.com");
    for bad in ["?limit=0", "?limit=101", "?limit=abc", "?offset=-1"] {
        let r = app.list_users(&admin.access, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.code(), "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn list_is_cached_and_writes_invalidate_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user("cached@example.com").await;

    let first = app.list_users(&admin.access, "?limit=10&offset=0").await;
    let before = app.state.db.statements_run();
    let second = app.list_users(&admin.access, "?offset=0&limit=10").await;
    assert_eq!(app.state.db.statements_run(), before, "a cache hit runs no statement");
    assert_eq!(first.raw, second.raw);
    assert_eq!(second.headers["content-type"], "application/json");

    // A profile change shows at once.
    app.update_profile(&user.access, json!({ "firstName": "Changed" })).await;
    let r = app.list_users(&admin.access, "?limit=10").await;
    assert_eq!(app.state.db.statements_run(), before + 3, "lookup, update, then one list statement");
    assert!(r.data()["users"].as_array().unwrap().iter().any(|u| u["firstName"] == "Changed"));

    // So do a registration and a block.
    app.user("newcomer@example.com").await;
    let r = app.list_users(&admin.access, "").await;
    assert_eq!(r.data()["users"][0]["email"], "newcomer@example.com");
    app.block(&admin.access, &user.id.to_string(), true).await;
    let r = app.list_users(&admin.access, "").await;
    let blocked =
        r.data()["users"].as_array().unwrap().iter().find(|u| u["email"] == "cached@example.com").unwrap().clone();
    assert_eq!(blocked["blocked"], true);
}

#[tokio::test]
async fn get_one_user() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user("one@example.com").await;
    let r = app.get_user(&admin.access, &user.id.to_string()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["email"], "one@example.com");
    let r = app.get_user(&admin.access, &uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "NOT_FOUND");
    let r = app.get_user(&admin.access, "not-a-uuid").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.block(&admin.access, &uuid::Uuid::now_v7().to_string(), true).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn profile_updates_are_checked() {
    let app = TestApp::spawn().await;
    let user = app.user("upd@example.com").await;
    let other = app.user("other@example.com").await;
    let other_phone = app.profile(&other.access).await.data()["phone"].clone();
    for (body, status) in [
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({ "role": "admin" }), StatusCode::BAD_REQUEST),
        (json!({ "email": "new@example.com" }), StatusCode::BAD_REQUEST),
        (json!({ "firstName": "" }), StatusCode::BAD_REQUEST),
        (json!({ "lastName": 7 }), StatusCode::BAD_REQUEST),
        (json!({ "phone": other_phone }), StatusCode::CONFLICT),
    ] {
        let r = app.update_profile(&user.access, body.clone()).await;
        assert_eq!(r.status, status, "{body} -> {}", r.body);
    }
    let profile = app.profile(&user.access).await;
    assert_eq!(profile.data()["role"], "user");
    assert_eq!(profile.data()["firstName"], "Ada");
}

#[tokio::test]
async fn create_admin_is_idempotent() {
    let app = TestApp::spawn().await;
    let first = growstack::server::create_admin(&app.state, "ops@example.com", "first-password".into()).await.unwrap();
    let second =
        growstack::server::create_admin(&app.state, "ops@example.com", "second-password".into()).await.unwrap();
    assert_eq!(first.id, second.id);
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.login("ops@example.com", "second-password").await.status, StatusCode::OK);
    // It also promotes an existing account.
    let user = app.user("promote@example.com").await;
    let promoted = growstack::server::create_admin(&app.state, &user.email, "promoted-pass".into()).await.unwrap();
    assert_eq!(promoted.id, user.id);
    assert_eq!(promoted.role, growstack::users::Role::Admin);
}

#[tokio::test]
async fn unknown_routes_answer_in_the_envelope() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/api/nope", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "NOT_FOUND");
    assert!(r.headers.contains_key("x-request-id"));
}

static PANICS: growstack::Endpoint = growstack::Endpoint {
    function: "test-panics",
    method: Method::GET,
    path: "/panics",
    route: || {
        axum::routing::get(|| async {
            if std::hint::black_box(true) {
                panic!("a bug");
            }
            "unreachable"
        })
    },
    doc: growstack_tests::undocumented,
    uses: &[],
    key_scope: None,
    tier: growstack::endpoint::Tier::Standard,
};

#[tokio::test]
async fn a_panicking_handler_answers_500_in_the_envelope() {
    let app = TestApp::spawn().await;
    let router = growstack::endpoint::router_for([&PANICS], app.state.clone());
    let response =
        tower::ServiceExt::oneshot(router, http::Request::get("/panics").body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value =
        serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 4096).await.unwrap()).unwrap();
    assert_eq!(body, json!({ "success": false, "error": { "code": "INTERNAL_ERROR", "message": "internal error" } }));
}
