//! The OpenAPI document: generated from the code, committed as `openapi.json`, served with
//! Swagger UI. (schemathesis runs the whole document against a server in scripts/test.sh.)

use growstack_tests::TestApp;
use http::{Method, StatusCode};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let committed = std::fs::read_to_string(root().join("openapi.json")).unwrap_or_default();
    assert!(
        committed == growstack::app::openapi_json(),
        "openapi.json is not what the code generates: run scripts/openapi.sh and commit the file"
    );
}

#[tokio::test]
async fn the_server_serves_the_document_and_swagger_ui_without_a_cdn() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let generated: serde_json::Value = serde_json::from_str(&growstack::app::openapi_json()).unwrap();
    assert_eq!(r.body, generated);
    assert_eq!(r.body["openapi"], "3.1.0");

    let r = app.call(Method::GET, "/api-docs/", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let page = String::from_utf8_lossy(&r.raw);
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(!page.contains("https://"), "Swagger UI must not load from a CDN: {page}");
    let r = app.call(Method::GET, "/api-docs/swagger-initializer.js", None, None).await;
    assert!(String::from_utf8_lossy(&r.raw).contains("/openapi.json"));
    let r = app.call(Method::GET, "/api-docs/swagger-ui-bundle.js", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.raw.len() > 100_000, "the bundle is embedded");
}

#[test]
fn every_endpoint_has_one_operation_naming_its_function() {
    let document: serde_json::Value = serde_json::from_str(&growstack::app::openapi_json()).unwrap();
    for endpoint in growstack::app::ENDPOINTS {
        let method = endpoint.method.as_str().to_lowercase();
        let operation = &document["paths"][endpoint.path][&method];
        assert_eq!(operation["operationId"], endpoint.function, "{} {}", endpoint.method, endpoint.path);
        assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()));
        // docs/api.md's endpoint table says what each does from it.
        assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{}: a doc comment", endpoint.function);
    }
}
