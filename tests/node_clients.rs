//! The Node version's clients, replayed: the calls of its API documentation
//! (`node-version/API.md`) and of its code that the answers must keep serving. A first part of
//! the replay; the rest comes with the API contract's issue.

use growstack_tests::TestApp;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn register_and_login_answer_the_tokens_where_node_clients_read_them() {
    let app = TestApp::spawn().await;
    let email = app.email("node");
    let body = json!({ "email": email, "password": "securepassword", "firstName": "John", "lastName": "Doe", "phone": "+1234567890" });
    let r = app.json(Method::POST, "/api/auth/register", None, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.data()["user"]["email"], email.as_str());
    assert_eq!(r.data()["tokens"]["accessToken"], r.data()["accessToken"]);
    assert_eq!(r.data()["tokens"]["refreshToken"], r.data()["refreshToken"]);

    let r =
        app.json(Method::POST, "/api/auth/login", None, json!({ "email": email, "password": "securepassword" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let access = r.data()["tokens"]["accessToken"].as_str().expect("tokens.accessToken").to_owned();
    let r = app.call(Method::GET, "/api/users/profile", Some(&access), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn an_admin_blocks_with_is_blocked_as_the_node_client_sends_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("blocked")).await;
    let path = format!("/api/users/{}/block", user.id);
    let r = app.json(Method::PATCH, &path, Some(&admin.access), json!({ "isBlocked": true })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["blocked"], true, "{}", r.body);
    let r = app.json(Method::PATCH, &path, Some(&admin.access), json!({ "isBlocked": false })).await;
    assert_eq!(r.data()["blocked"], false, "{}", r.body);
}
