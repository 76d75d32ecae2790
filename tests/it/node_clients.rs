//! The Node version's clients, replayed: every call of its API documentation
//! (`node-version/API.md`), with its request and the status and fields a client of it reads,
//! under `/api` and under `/api/v1` where those clients call it. Where the documentation and
//! the Node code disagree, the answer carries both names.

use growstack_tests::TestApp;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn register_and_login_answer_the_tokens_where_node_clients_read_them() {
    let app = TestApp::spawn().await;
    let email = app.email("node");
    let body = json!({ "email": email, "password": "securepassword", "firstName": "John", "lastName": "Doe", "phone": "+12025550123" });
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

/// Both mounts of a documented path.
fn mounts(path: &str) -> [String; 2] {
    [path.to_owned(), path.replacen("/api/", "/api/v1/", 1)]
}

#[tokio::test]
async fn every_documented_call_answers_as_the_documentation_says_under_both_mounts() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (n, base) in ["/api", "/api/v1"].into_iter().enumerate() {
        // Register User: 201, the user and the token.
        let email = app.email(&format!("node-doc-{n}"));
        let body = json!({ "email": email, "password": "securepassword", "firstName": "John", "lastName": "Doe",
            "phone": format!("+1202555014{n}") });
        let r = app.json(Method::POST, &format!("{base}/auth/register"), None, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{base}: {}", r.body);
        let user = &r.data()["user"];
        for field in ["id", "email", "firstName", "lastName", "role", "onboardingStep", "kycStatus"] {
            assert!(!user[field].is_null(), "{base}: user.{field}: {}", r.body);
        }
        assert_eq!(user["role"], "user");
        assert_eq!(user["kycStatus"], "pending");
        assert!(r.data()["token"].is_string(), "{}", r.body);

        // Login: 200 and the token.
        let r = app
            .json(
                Method::POST,
                &format!("{base}/auth/login"),
                None,
                json!({ "email": email, "password": "securepassword" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let token = r.data()["token"].as_str().expect("data.token").to_owned();
        assert_eq!(r.data()["tokens"]["accessToken"], token.as_str());

        // Get User Profile.
        let r = app.call(Method::GET, &format!("{base}/users/profile"), Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for field in ["id", "email", "firstName", "lastName", "role", "onboardingStep", "kycStatus", "referralCode"] {
            assert!(!r.data()[field].is_null(), "profile.{field}: {}", r.body);
        }
        assert!(r.data().as_object().unwrap().contains_key("referredBy"));

        // Update User Profile.
        let phone = format!("+1202555015{n}");
        let body = json!({ "firstName": "Jane", "lastName": "Doe", "phone": phone });
        let r = app.json(Method::PUT, &format!("{base}/users/profile"), Some(&token), body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.data()["firstName"], "Jane");
        assert_eq!(r.data()["phone"], phone.as_str());

        // Get Referral Stats.
        let r = app.call(Method::GET, &format!("{base}/referrals/stats"), Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for field in ["totalReferrals", "completedReferrals", "pendingReferrals", "totalRewards"] {
            assert!(!r.data()[field].is_null(), "stats.{field}: {}", r.body);
        }
        assert_eq!(r.data()["totalReferrals"], 0);

        // Get Referral Link.
        let r = app.call(Method::GET, &format!("{base}/referrals/link"), Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let code = r.data()["referralCode"].as_str().expect("referralCode").to_owned();
        assert!(r.data()["referralLink"].as_str().expect("referralLink").ends_with(&code));

        // Update Onboarding Step, with the metadata the Node version took.
        let body = json!({ "step": "phone", "metadata": { "documentType": "passport", "documentNumber": "AB123456" } });
        let r = app.json(Method::POST, &format!("{base}/onboarding/step"), Some(&token), body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.data()["onboardingStep"], "phone");
        // The documentation's `kyc` step: KYC completes on the provider's word, never the app's.
        let body = json!({ "step": "kyc", "metadata": { "documentType": "passport" } });
        let r = app.json(Method::POST, &format!("{base}/onboarding/step"), Some(&token), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.code(), "FORBIDDEN");

        // Get Onboarding Stats (Admin), with the documented range.
        let stats = format!("{base}/onboarding/stats?startDate=2024-03-01&endDate=2024-03-20");
        let r = app.call(Method::GET, &stats, Some(&admin.access), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.data()["totalUsers"], 0, "nobody signed up in March 2024");
        let r = app.call(Method::GET, &stats, Some(&token), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));

        // Get User Notifications (page, limit, status) and Mark Notification as Read.
        app.run_workers().await;
        let list = format!("{base}/notifications?page=1&limit=10&status=unread");
        let r = app.call(Method::GET, &list, Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let pagination = &r.data()["pagination"];
        for field in ["total", "page", "limit", "pages"] {
            assert!(pagination[field].is_i64(), "pagination.{field}: {}", r.body);
        }
        let first = &r.data()["notifications"][0];
        for field in ["id", "type", "channel", "status", "title", "content", "createdAt"] {
            assert!(!first[field].is_null(), "notification.{field}: {}", r.body);
        }
        let id = first["id"].as_str().unwrap();
        let r = app.call(Method::PUT, &format!("{base}/notifications/{id}/read"), Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.data()["id"], id);
        assert_eq!(r.data()["status"], "read");

        // Get User Analytics and Get Event Analytics (admin only).
        for path in ["users", "events"] {
            let url = format!("{base}/analytics/{path}?startDate=2024-03-01&endDate=2024-03-20");
            let r = app.call(Method::GET, &url, Some(&admin.access), None).await;
            assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
            let r = app.call(Method::GET, &url, Some(&token), None).await;
            assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
        }
        let url = format!("{base}/analytics/users?startDate=2024-03-01&endDate=2024-03-20");
        let r = app.call(Method::GET, &url, Some(&admin.access), None).await;
        for field in ["totalUsers", "activeUsers", "newUsers", "usersByRole", "usersByStatus"] {
            assert!(!r.data()[field].is_null(), "analytics.users.{field}: {}", r.body);
        }
        let url = format!("{base}/analytics/events?startDate=2024-03-01&endDate=2024-03-20");
        let r = app.call(Method::GET, &url, Some(&admin.access), None).await;
        assert_eq!(r.data()["totalEvents"], 0, "{}", r.body);
    }
}

#[tokio::test]
async fn the_documented_errors_keep_their_codes_and_statuses() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("errors")).await;
    for path in mounts("/api/users/profile") {
        let r = app.call(Method::GET, &path, None, None).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"));
        assert_eq!(r.body["success"], false);
        assert!(r.body["error"]["message"].is_string());
    }
    for path in mounts("/api/users") {
        let r = app.call(Method::GET, &path, Some(&user.access), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    }
    for path in mounts("/api/auth/register") {
        let r = app.json(Method::POST, &path, None, json!({ "email": "not-an-email", "password": "x" })).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"));
        assert!(r.body["error"]["details"]["field"].is_string(), "{}", r.body);
    }
    for path in mounts(&format!("/api/notifications/{}/read", uuid::Uuid::now_v7())) {
        let r = app.call(Method::PUT, &path, Some(&user.access), None).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    }
    for path in mounts("/api/no-such-route") {
        let r = app.call(Method::GET, &path, None, None).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    }
}

#[tokio::test]
async fn dates_outside_1970_to_9999_are_refused_before_any_statement() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("dates")).await;
    for date in ["-200000-01-01", "1969-12-31", "10000-01-01", "+002026-01-01T00:00:00Z"] {
        let r =
            app.call(Method::GET, &format!("/api/referrals/stats?startDate={date}"), Some(&user.access), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{date}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["field"], "startDate");
    }
}

#[tokio::test]
async fn a_nul_character_is_a_400_not_a_failed_statement() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("nul")).await;
    let r = app
        .call(
            Method::POST,
            "/api/onboarding/step",
            Some(&user.access),
            Some(r#"{"step": "phone", "metadata": {"a": "\u0000"}}"#),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"), "{}", r.body);
    let r = app.call(Method::GET, "/api/notifications?status=%00", Some(&user.access), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test]
async fn a_lambda_function_serves_its_v1_path_as_api_gateway_routes_it() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("v1-lambda")).await;
    let mut event = growstack_tests::event("users-profile-get", &[]);
    event["rawPath"] = json!("/api/v1/users/profile");
    event["routeKey"] = json!("GET /api/v1/users/profile");
    event["requestContext"]["http"]["path"] = json!("/api/v1/users/profile");
    event["requestContext"]["routeKey"] = json!("GET /api/v1/users/profile");
    event["headers"]["authorization"] = json!(format!("Bearer {}", user.access));
    let response = app.invoke(&growstack::users::PROFILE_GET, event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(growstack_tests::lambda_body(&response)["data"]["id"], user.id.to_string());
}
