//! Sign-up, sign-in and tokens, against real Postgres and Redis.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use growstack::auth::TokenType;
use growstack_tests::TestApp;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn register_login_profile_update() {
    let app = TestApp::spawn().await;
    let r = app.register(TestApp::registration("Ada@Example.com")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["success"], true);
    let user = &r.data()["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["role"], "user");
    assert_eq!(user["onboardingStep"], "email");
    assert!(user.get("passwordHash").is_none() && !r.body.to_string().contains("argon2"));
    let code = user["referralCode"].as_str().unwrap();
    assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));

    let r = app.login("ada@example.com", "correct-horse-battery").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["expiresIn"], 3600);
    assert!(r.data()["user"]["lastActiveAt"].is_string());
    let access = r.data()["accessToken"].as_str().unwrap().to_owned();

    let r = app.profile(&access).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["firstName"], "Ada");

    let r = app.update_profile(&access, json!({ "firstName": "Augusta", "lastName": "King" })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["firstName"], "Augusta");
    assert_eq!(app.profile(&access).await.data()["lastName"], "King");

    // The stored hash is Argon2id.
    let hash: String = app.pg().await.query_one("SELECT password_hash FROM users", &[]).await.unwrap().get(0);
    assert!(hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn a_hash_of_earlier_settings_is_made_again_at_sign_in() {
    let app = TestApp::spawn().await;
    let r = app.register(TestApp::registration("lin@example.com")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let pg = app.pg().await;
    let stored = || async { pg.query_one("SELECT password_hash FROM users", &[]).await.unwrap().get::<_, String>(0) };
    // The crate's default settings, which every hash had before.
    let salt = SaltString::generate(&mut OsRng);
    let old = Argon2::default().hash_password(b"correct-horse-battery", &salt).unwrap().to_string();
    pg.execute("UPDATE users SET password_hash = $1", &[&old]).await.unwrap();

    // A wrong password changes nothing.
    assert_eq!(app.login("lin@example.com", "not-the-password").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stored().await, old);

    let r = app.login("lin@example.com", "correct-horse-battery").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = stored().await;
    assert!(new.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{new}");
    // The session just started is still good, and the password still signs in.
    let access = r.data()["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(app.profile(&access).await.status, StatusCode::OK);
    assert_eq!(app.login("lin@example.com", "correct-horse-battery").await.status, StatusCode::OK);
    assert_eq!(stored().await, new, "a current hash is left alone");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = TestApp::spawn().await;
    app.user("grace@example.com").await;
    let wrong = app.login("grace@example.com", "not-the-password").await;
    let unknown = app.login("nobody@example.com", "not-the-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn duplicate_email_or_phone_is_a_conflict() {
    let app = TestApp::spawn().await;
    let first = TestApp::registration("dup@example.com");
    assert_eq!(app.register(first.clone()).await.status, StatusCode::CREATED);

    let mut same_email = TestApp::registration("DUP@example.com");
    same_email["phone"] = json!("+2348099999999");
    let r = app.register(same_email).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "CONFLICT");

    let mut same_phone = TestApp::registration("other@example.com");
    same_phone["phone"] = first["phone"].clone();
    assert_eq!(app.register(same_phone).await.status, StatusCode::CONFLICT);
    assert_eq!(app.count("users").await, 1);
}

/// The finding: `2348006649584` and `002348006649584` beside `+2348006649584` were three
/// accounts. Now a number is one number however it is typed (the default region's national
/// form too), and a spelling libphonenumber cannot read is a 400.
#[tokio::test]
async fn one_number_is_one_account_however_it_is_typed() {
    let app = TestApp::spawn().await;
    let first = app.register(TestApp::registration(&app.email("first"))).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let phone = first.data()["user"]["phone"].as_str().unwrap().to_owned();
    let national = format!("0{} {}", &phone[4..7], &phone[7..]);
    for (n, spelling) in
        [phone.trim_start_matches('+').to_owned(), national, format!("009{}", &phone[1..])].into_iter().enumerate()
    {
        let mut again = TestApp::registration(&app.email(&format!("again-{n}")));
        again["phone"] = json!(spelling);
        let r = app.register(again).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{spelling}: {}", r.body);
    }
    let mut unreadable = TestApp::registration(&app.email("unreadable"));
    unreadable["phone"] = json!(format!("00{}", &phone[1..]));
    let r = app.register(unreadable).await;
    assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("phone")));
    assert_eq!(app.count("users").await, 1);

    // Stored in E.164, and a profile change takes another account's number in any spelling.
    let second = app.user(&app.email("second")).await;
    let r = app.update_profile(&second.access, json!({ "phone": format!("0{}", &phone[4..]) })).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = app.update_profile(&second.access, json!({ "phone": "0803 123 4567" })).await;
    assert_eq!((r.status, r.data()["phone"].as_str()), (StatusCode::OK, Some("+2348031234567")));
}

/// Numbers stored before they were parsed are rewritten once by the migration step; those
/// it cannot keep (unreadable, or another account's once normalised) are emptied and listed
/// in `phone_conflicts`, the older account keeping a number two spelled differently.
#[tokio::test]
async fn stored_numbers_are_normalised_once_and_the_conflicts_reported() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        ids.push(app.user(&app.email(name)).await.id);
    }
    let pg = app.pg().await;
    // As the earlier parse kept them: spaces and dashes dropped, nothing else.
    // Oldest first: a, b, c, d, e.
    let stored = ["2348006649584", "+2348006649584", "08031234567", "002348006649584", "+2348051112222"];
    for (age, (id, phone)) in ids.iter().zip(stored).enumerate() {
        pg.execute(
            "UPDATE users SET phone = $2, created_at = now() - make_interval(days => 10 - $3) WHERE id = $1",
            &[id, &phone, &(age as i32)],
        )
        .await
        .unwrap();
    }
    pg.execute("DELETE FROM data_fixes WHERE name = 'phones_e164'", &[]).await.unwrap();
    growstack::migrate::run(&app.state.db).await.unwrap();
    let phones: Vec<Option<String>> = {
        let mut out = Vec::new();
        for id in &ids {
            out.push(pg.query_one("SELECT phone FROM users WHERE id = $1", &[id]).await.unwrap().get(0));
        }
        out
    };
    assert_eq!(
        phones,
        [None, Some("+2348006649584".into()), Some("+2348031234567".into()), None, Some("+2348051112222".into())],
        "b held the number in E.164 already and keeps it; a's spelling of it is a duplicate; d is unreadable"
    );
    let conflicts = pg
        .query(
            "SELECT user_id, stored, normalised, held_by, reason FROM phone_conflicts ORDER BY found_at, user_id",
            &[],
        )
        .await
        .unwrap();
    type Conflict = (uuid::Uuid, String, Option<String>, Option<uuid::Uuid>, String);
    let conflicts: Vec<Conflict> =
        conflicts.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect();
    assert_eq!(
        conflicts,
        [
            (ids[0], "2348006649584".into(), Some("+2348006649584".into()), Some(ids[1]), "duplicate".into()),
            (ids[3], "002348006649584".into(), None, None, "invalid".into()),
        ]
    );
    let report: serde_json::Value =
        pg.query_one("SELECT report FROM data_fixes WHERE name = 'phones_e164'", &[]).await.unwrap().get(0);
    assert_eq!(report, json!({ "checked": 5, "rewritten": 1, "invalid": 1, "duplicates": 1 }));
    // Once: a number stored oddly after the fix is left alone by the next migration.
    pg.execute("UPDATE users SET phone = '08099999999' WHERE id = $1", &[&ids[0]]).await.unwrap();
    growstack::migrate::run(&app.state.db).await.unwrap();
    let phone: Option<String> = pg.query_one("SELECT phone FROM users WHERE id = $1", &[&ids[0]]).await.unwrap().get(0);
    assert_eq!(phone.as_deref(), Some("08099999999"));
}

#[tokio::test]
async fn bad_input_is_a_validation_error_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let valid = TestApp::registration("val@example.com");
    let mut cases: Vec<(String, &str)> =
        vec![("{not json".to_owned(), "malformed JSON"), ("[]".to_owned(), "an array"), (String::new(), "empty body")];
    for field in ["email", "password", "firstName", "lastName", "phone"] {
        let mut missing = valid.clone();
        missing.as_object_mut().unwrap().remove(field);
        cases.push((missing.to_string(), "missing field"));
        let mut wrong_type = valid.clone();
        wrong_type[field] = json!(12345);
        cases.push((wrong_type.to_string(), "wrong type"));
    }
    for (field, value) in [
        ("email", json!(format!("{}@example.com", "a".repeat(300)))),
        ("email", json!("not-an-email")),
        ("firstName", json!("x".repeat(101))),
        ("lastName", json!("")),
        ("password", json!("short")),
        ("password", json!("p".repeat(129))),
        ("phone", json!("12")),
        ("deviceFingerprint", json!("f".repeat(257))),
        ("referralCode", json!("!!")),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        cases.push((body.to_string(), "invalid value"));
    }
    for (body, what) in &cases {
        let r = app.call(Method::POST, "/api/auth/register", None, Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {body} -> {}", r.body);
        assert_eq!(r.code(), "VALIDATION_ERROR", "{what}");
        assert_eq!(r.body["success"], false);
    }
    // A field error names the field.
    let mut body = valid.clone();
    body["firstName"] = json!(5);
    assert_eq!(app.register(body).await.body["error"]["details"]["field"], "firstName");

    // Not JSON at all, and oversized.
    let r = app
        .send(
            http::Request::post("/api/auth/register")
                .header("content-type", "text/plain")
                .body("hello".into())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let huge = json!({ "email": "a@b.io", "password": "x".repeat(100_000) }).to_string();
    let r = app.call(Method::POST, "/api/auth/register", None, Some(&huge)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "VALIDATION_ERROR");

    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("referrals").await, 0);
}

#[tokio::test]
async fn tokens_are_checked() {
    let app = TestApp::spawn().await;
    let user = app.user("tok@example.com").await;

    let r = app.call(Method::GET, "/api/users/profile", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "UNAUTHORIZED");
    assert_eq!(app.profile("garbage").await.status, StatusCode::UNAUTHORIZED);

    // A refresh token is never an access token, and the other way round.
    assert_eq!(app.profile(&user.refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&user.access).await.status, StatusCode::UNAUTHORIZED);

    // Expired.
    let expired = app
        .state
        .tokens
        .sign(
            &growstack::auth::Subject {
                user: user.id,
                role: growstack::users::Role::User,
                version: 0,
                family: uuid::Uuid::now_v7(),
            },
            TokenType::Access,
            chrono::Utc::now().timestamp() - 3700,
        )
        .await
        .unwrap();
    let r = app.profile(&expired).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["message"], "token expired");

    // Refresh gives a working new pair.
    let r = app.refresh(&user.refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let access = r.data()["accessToken"].as_str().unwrap();
    assert_eq!(app.profile(access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn blocked_users_are_forbidden() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user("blocked@example.com").await;
    let r = app.block(&admin.access, &user.id.to_string(), true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["blocked"], true);

    assert_eq!(app.login(&user.email, &user.password).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.refresh(&user.refresh).await.status, StatusCode::FORBIDDEN);
    let r = app.profile(&user.access).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "FORBIDDEN");
    assert_eq!(app.update_profile(&user.access, json!({ "firstName": "X" })).await.status, StatusCode::FORBIDDEN);

    assert_eq!(app.block(&admin.access, &user.id.to_string(), false).await.status, StatusCode::OK);
    assert_eq!(app.login(&user.email, &user.password).await.status, StatusCode::OK);
    // Nobody changes their own block state.
    assert_eq!(app.block(&admin.access, &admin.id.to_string(), true).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_101st_auth_request_in_a_window_is_rate_limited() {
    let app = TestApp::spawn_with(&[("TRUSTED_PROXY_HOPS", "1")]).await;
    let from = |ip: &str| {
        http::Request::post("/api/auth/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", ip)
            .body(axum::body::Body::from("{}"))
            .unwrap()
    };
    for i in 0..100 {
        let r = app.send(from("203.0.113.7")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "request {i}");
    }
    let r = app.send(from("203.0.113.7")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.code(), "RATE_LIMITED");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Registration and refresh have budgets of their own; another client has its own too.
    let mut register = TestApp::registration("late@example.com").to_string();
    let r = app
        .send(
            http::Request::post("/api/auth/register")
                .header("content-type", "application/json")
                .header("x-forwarded-for", "203.0.113.7")
                .body(axum::body::Body::from(std::mem::take(&mut register)))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let refresh = http::Request::post("/api/auth/refresh-token")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "203.0.113.7")
        .body(axum::body::Body::from(r#"{"refreshToken":"x"}"#))
        .unwrap();
    assert_eq!(app.send(refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.send(from("198.51.100.1")).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rate_limit_is_configurable() {
    let app = TestApp::spawn_with(&[("AUTH_RATE_LIMIT_MAX", "2"), ("AUTH_RATE_LIMIT_WINDOW_SECONDS", "60")]).await;
    for _ in 0..2 {
        assert_eq!(app.login("a@b.io", "whatever-pass").await.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.login("a@b.io", "whatever-pass").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry <= 60);
}

#[tokio::test]
async fn registering_with_a_referral_code() {
    let app = TestApp::spawn().await;
    let referrer = app.user("referrer@example.com").await;
    let code = app.profile(&referrer.access).await.data()["referralCode"].as_str().unwrap().to_lowercase();

    let mut body = TestApp::registration("friend@example.com");
    body["referralCode"] = json!(code);
    let r = app.register(body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.data()["user"]["referredBy"], referrer.id.to_string());
    let row = app.pg().await.query_one("SELECT status, code FROM referrals", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "pending");
    assert_eq!(row.get::<_, String>(1), code.to_uppercase());

    // An unknown code is refused and creates nothing.
    let mut body = TestApp::registration("stranger@example.com");
    body["referralCode"] = json!("ZZZZZZ");
    let r = app.register(body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["details"]["field"], "referralCode");
    assert_eq!(app.count("users").await, 2);
    assert_eq!(app.count("referrals").await, 1);
}

#[tokio::test]
async fn a_user_can_be_referred_once() {
    let app = TestApp::spawn().await;
    let a = app.user("a@example.com").await;
    let b = app.user("b@example.com").await;
    let c = app.user("c@example.com").await;
    let pg = app.pg().await;
    let insert = "INSERT INTO referrals (id, referrer_id, referred_user_id, status) VALUES ($1, $2, $3, 'pending')";
    pg.execute(insert, &[&uuid::Uuid::now_v7(), &a.id, &c.id]).await.unwrap();
    let err = pg.execute(insert, &[&uuid::Uuid::now_v7(), &b.id, &c.id]).await.unwrap_err();
    assert_eq!(err.as_db_error().unwrap().constraint(), Some("referrals_referred_user_key"));
}
