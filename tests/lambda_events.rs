//! Every payload in events/ fed through lambda_http into its function's handler, as
//! `sam local invoke -e events/<function>.json` would, against real Postgres and Redis.

use growstack::app::ENDPOINTS;
use growstack::Endpoint;
use growstack_tests::{event, lambda_body, TestApp};
use serde_json::Value;

fn endpoint(function: &str) -> &'static Endpoint {
    ENDPOINTS.iter().find(|e| e.function == function).unwrap_or_else(|| panic!("no endpoint {function}"))
}

async fn invoke(app: &TestApp, function: &str, replacements: &[(&str, &str)]) -> (u64, Value, Value) {
    let response = app.invoke(endpoint(function), event(function, replacements)).await;
    let status = response["statusCode"].as_u64().unwrap();
    (status, lambda_body(&response), response)
}

#[tokio::test]
async fn every_event_runs_through_its_function() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;

    let (status, body, response) = invoke(&app, "health", &[]).await;
    assert_eq!(status, 200, "{body}");
    let request_id = event("health", &[])["requestContext"]["requestId"].clone();
    assert_eq!(response["headers"]["x-request-id"], request_id, "API Gateway's request id is used");

    let (status, body, _) = invoke(&app, "auth-register", &[]).await;
    assert_eq!(status, 201, "{body}");
    let user_id = body["data"]["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["user"]["deviceFingerprint"], "fp-7f3a9c");

    let (status, body, _) = invoke(&app, "auth-login", &[]).await;
    assert_eq!(status, 200, "{body}");
    let access = body["data"]["accessToken"].as_str().unwrap().to_owned();
    let refresh = body["data"]["refreshToken"].as_str().unwrap().to_owned();

    let (status, body, _) = invoke(&app, "auth-refresh-token", &[("REPLACE_WITH_REFRESH_TOKEN", &refresh)]).await;
    assert_eq!(status, 200, "{body}");

    let as_user = [("REPLACE_WITH_ACCESS_TOKEN", access.as_str())];
    let (status, body, _) = invoke(&app, "users-profile-get", &as_user).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["email"], "ada@example.com");

    let (status, body, _) = invoke(&app, "users-profile-update", &as_user).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["firstName"], "Augusta");

    let as_admin = [("REPLACE_WITH_ACCESS_TOKEN", admin.access.as_str())];
    let (status, body, _) = invoke(&app, "users-list", &as_admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["users"].as_array().unwrap().len(), 2);

    let sample_id = "0192f0c4-8a6e-7c3a-9d1e-3b5f4a2c1d0e";
    let (status, _, _) = invoke(&app, "users-get", &as_admin).await;
    assert_eq!(status, 404, "the sample id belongs to nobody here");
    let real = [as_admin[0], (sample_id, user_id.as_str())];
    let (status, body, _) = invoke(&app, "users-get", &real).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], user_id);

    let (status, body, _) = invoke(&app, "users-block", &real).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["blocked"], true);
    let (status, _, _) = invoke(&app, "auth-login", &[]).await;
    assert_eq!(status, 403, "blocked by the previous event");

    // A user's token on an admin function, and no token at all.
    let (status, body, _) = invoke(&app, "users-list", &as_user).await;
    assert_eq!(status, 403, "{body}");
    let (status, body, _) = invoke(&app, "users-list", &[("Bearer REPLACE_WITH_ACCESS_TOKEN", "")]).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn a_function_serves_only_its_own_route() {
    let app = TestApp::spawn().await;
    // The login event sent to the register function's router finds no route there.
    let response = app.invoke(endpoint("auth-register"), event("auth-login", &[])).await;
    assert_eq!(response["statusCode"], 404);
}

#[tokio::test]
async fn the_migrate_function_applies_migrations_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let payload = event("migrate", &[]);
    for _ in 0..2 {
        let event = lambda_runtime::LambdaEvent::new(payload.clone(), lambda_runtime::Context::default());
        let out = growstack::lambda::migrate_handler(&app.state.db, event).await.unwrap();
        assert_eq!(out["migrated"], true);
    }
    assert_eq!(app.count("refinery_schema_history").await, 1);
}
