//! Sessions and accounts tried as an attacker would: stolen refresh tokens, sign-outs,
//! blocked and demoted users holding live access tokens, password guessing from many IPs,
//! fraud scores, and unproven email addresses.

use growstack_tests::{emails_to, TestApp, TestResponse, TestUser};
use http::{Method, StatusCode};
use serde_json::json;

fn pair(r: &TestResponse) -> (String, String) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (r.data()["accessToken"].as_str().unwrap().to_owned(), r.data()["refreshToken"].as_str().unwrap().to_owned())
}

async fn invite(app: &TestApp, token: &str, email: &str) -> TestResponse {
    app.json(Method::POST, "/api/referrals", Some(token), json!({ "email": email })).await
}

/// A second admin, made with `growstack create-admin`, signed in.
async fn second_admin(app: &TestApp) -> TestUser {
    let email = app.email("admin2");
    growstack::server::create_admin(&app.state, &email, "second-admin-pass".to_owned()).await.unwrap();
    let (access, refresh) = pair(&app.login(&email, "second-admin-pass").await);
    let id = app.profile(&access).await.data()["id"].as_str().unwrap().parse().unwrap();
    TestUser { id, email, password: "second-admin-pass".to_owned(), access, refresh }
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("reuse")).await;
    let (_, newer) = pair(&app.refresh(&user.refresh).await);
    // The first token again: the thief (or the victim) replays it.
    let r = app.refresh(&user.refresh).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // …and the newer token of the same family is dead too.
    assert_eq!(app.refresh(&newer).await.status, StatusCode::UNAUTHORIZED);
    // Another sign-in is another family, untouched.
    let (_, other) = pair(&app.login(&user.email, &user.password).await);
    let (_, rotated) = pair(&app.refresh(&other).await);
    pair(&app.refresh(&rotated).await);
    // Only hashes are stored.
    let raw: i64 = app
        .pg()
        .await
        .query_one("SELECT count(*) FROM refresh_tokens WHERE token_hash = convert_to($1, 'UTF8')", &[&rotated])
        .await
        .unwrap()
        .get(0);
    assert_eq!(raw, 0);
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_yield_at_most_one_session() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let user = app.user(&app.email("race")).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, token) = (app.clone(), user.refresh.clone());
            tokio::spawn(async move {
                let r = app.refresh(&token).await;
                (r.status, r.data()["refreshToken"].as_str().map(str::to_owned))
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (status, token) = t.await.unwrap();
        match status {
            StatusCode::OK => winners.extend(token),
            other => assert_eq!(other, StatusCode::UNAUTHORIZED),
        }
    }
    assert!(winners.len() <= 1, "{winners:?}");
    // The losers replayed a used token: whatever the winner got is revoked as well.
    for token in winners {
        assert_eq!(app.refresh(&token).await.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_logout_all_every_one() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("logout")).await;
    let r = app.logout(&user.refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.refresh(&user.refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.logout(&user.refresh).await.status, StatusCode::OK, "signing out twice is harmless");
    assert_eq!(app.logout("not-a-token").await.status, StatusCode::UNAUTHORIZED);

    let (phone_access, phone_refresh) = pair(&app.login(&user.email, &user.password).await);
    let (laptop_access, laptop_refresh) = pair(&app.login(&user.email, &user.password).await);
    assert_eq!(app.logout_all(&laptop_access).await.status, StatusCode::OK);
    for access in [&phone_access, &laptop_access] {
        let r = app.profile(access).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    for refresh in [&phone_refresh, &laptop_refresh] {
        assert_eq!(app.refresh(refresh).await.status, StatusCode::UNAUTHORIZED);
    }
    let (access, _) = pair(&app.login(&user.email, &user.password).await);
    assert_eq!(app.profile(&access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_blocked_users_access_token_stops_working_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("blocked")).await;
    assert_eq!(app.block(&admin.access, &user.id.to_string(), true).await.status, StatusCode::OK);
    // The very next request, on write routes and read routes alike.
    let r = app.step(&user.access, "phone").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(invite(&app, &user.access, &app.email("friend")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.profile(&user.access).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.refresh(&user.refresh).await.status, StatusCode::FORBIDDEN);
    // Unblocked, the old tokens stay dead: the user signs in again.
    assert_eq!(app.block(&admin.access, &user.id.to_string(), false).await.status, StatusCode::OK);
    assert_eq!(app.profile(&user.access).await.status, StatusCode::UNAUTHORIZED);
    let (access, _) = pair(&app.login(&user.email, &user.password).await);
    assert_eq!(app.step(&access, "phone").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_blocked_admin_cannot_unblock_itself_even_with_redis_down() {
    // Redis unreachable: revocations cannot be published, and reads fall back to the
    // token's claims; admin writes still load the admin from Postgres.
    let dead_redis = format!("redis://127.0.0.1:{}", growstack_tests::free_port());
    let app = TestApp::spawn_with(&[("REDIS_URL", &dead_redis)]).await;
    let admin = app.admin().await;
    let other = second_admin(&app).await;
    let victim = app.user(&app.email("victim")).await;
    let r = app.block(&other.access, &admin.id.to_string(), true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let r = app.block(&admin.access, &admin.id.to_string(), false).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(app.block(&admin.access, &victim.id.to_string(), true).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.set_role(&admin.access, &victim.id.to_string(), "admin").await.status, StatusCode::FORBIDDEN);
    let send = json!({ "userId": victim.id, "title": "Hi", "content": "From a blocked admin" });
    let r = app.json(Method::POST, "/api/notifications/send", Some(&admin.access), send).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "every admin write loads the admin: {}", r.body);
    let blocked: bool =
        app.pg().await.query_one("SELECT blocked FROM users WHERE id = $1", &[&admin.id]).await.unwrap().get(0);
    assert!(blocked);
}

#[tokio::test]
async fn with_redis_away_staff_and_writes_are_checked_against_postgres() {
    let mut redis = growstack_tests::OwnRedis::start_on(growstack_tests::free_port()).await;
    let app = TestApp::spawn_with(&[("REDIS_URL", &format!("redis://127.0.0.1:{}", redis.port))]).await;
    let admin = app.admin().await;
    let demoted = second_admin(&app).await;
    let blocked = app.user(&app.email("blocked-tracker")).await;
    let plain = app.user(&app.email("plain-reader")).await;
    assert_eq!(app.list_users(&demoted.access, "").await.status, StatusCode::OK);
    redis.stop();
    assert_eq!(app.set_role(&admin.access, &demoted.id.to_string(), "user").await.status, StatusCode::OK);
    assert_eq!(app.block(&admin.access, &blocked.id.to_string(), true).await.status, StatusCode::OK);
    // Past what this process remembers of the changes: only Postgres knows now.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = app.list_users(&demoted.access, "").await;
    // The demotion revoked the token (401); were it not so, the database's role refuses it.
    assert!(
        [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&r.status),
        "a demoted admin's token reads no staff data: {}",
        r.body
    );
    let r = app.json(Method::POST, "/api/events/track", Some(&blocked.access), json!({ "eventName": "tap" })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a blocked user writes nothing: {}", r.body);
    // A plain user's own reads stay open on the token.
    assert_eq!(app.profile(&plain.access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn nobody_changes_their_own_block_state_or_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let me = admin.id.to_string();
    for r in [
        app.block(&admin.access, &me, false).await,
        app.block(&admin.access, &me, true).await,
        app.set_role(&admin.access, &me, "user").await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    let user = app.user(&app.email("plain")).await;
    assert_eq!(app.set_role(&user.access, &user.id.to_string(), "admin").await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.set_role(&admin.access, &user.id.to_string(), "overlord").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_role_change_reaches_the_tokens_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let staff = app.user(&app.email("staff")).await;
    let r = app.set_role(&admin.access, &staff.id.to_string(), "admin").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.data()["role"], "admin");
    // The token that says "user" is revoked; a new sign-in carries the new role.
    assert_eq!(app.profile(&staff.access).await.status, StatusCode::UNAUTHORIZED);
    let (access, _) = pair(&app.login(&staff.email, &staff.password).await);
    assert_eq!(app.list_users(&access, "").await.status, StatusCode::OK);
    // Demoted again: the admin token stops opening admin routes.
    assert_eq!(app.set_role(&admin.access, &staff.id.to_string(), "analyst").await.status, StatusCode::OK);
    assert_eq!(app.list_users(&access, "").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("pw")).await;
    let r = app.change_password(&user.access, "not-the-password", "a-new-passphrase").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["field"], "currentPassword");
    let r = app.change_password(&user.access, &user.password, "short").await;
    assert_eq!(r.body["error"]["details"]["field"], "newPassword");

    let (access, refresh) = pair(&app.change_password(&user.access, &user.password, "a-new-passphrase").await);
    assert_eq!(app.profile(&user.access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.refresh(&user.refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.profile(&access).await.status, StatusCode::OK, "this device stays signed in");
    pair(&app.refresh(&refresh).await);
    assert_eq!(app.login(&user.email, &user.password).await.status, StatusCode::UNAUTHORIZED);
    pair(&app.login(&user.email, "a-new-passphrase").await);
}

fn login_from(ip: &str, email: &str, password: &str) -> http::Request<axum::body::Body> {
    http::Request::post("/api/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", ip)
        .body(axum::body::Body::from(json!({ "email": email, "password": password }).to_string()))
        .unwrap()
}

fn retry_after(r: &TestResponse) -> u64 {
    r.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

/// How many answers of each status: (200, 401, 429).
fn tally(answers: &[TestResponse]) -> (usize, usize, usize) {
    let count = |status| answers.iter().filter(|r| r.status == status).count();
    let (ok, wrong, limited) =
        (count(StatusCode::OK), count(StatusCode::UNAUTHORIZED), count(StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(ok + wrong + limited, answers.len(), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    (ok, wrong, limited)
}

#[tokio::test]
async fn guesses_from_many_addresses_back_off_the_account_without_keeping_its_owner_out() {
    let app = TestApp::spawn_with(&[("TRUSTED_PROXY_HOPS", "1")]).await;
    let user = app.user(&app.email("guessed")).await;
    let bystander = app.user(&app.email("bystander")).await;
    for i in 0..10 {
        let r = app.send(login_from(&format!("198.51.100.{i}"), &user.email, "guess-guess")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}: {}", r.body);
    }
    // Ten failures from anywhere: every check on the account now waits a second, whatever
    // the address, even with the right password; the upper-cased address is the same account.
    let r = app.send(login_from("198.51.100.10", &user.email, "guess-guess")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(retry_after(&r), 1);
    let r = app.send(login_from("203.0.113.99", &user.email.to_uppercase(), &user.password)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Other accounts, from the same addresses, are not slowed.
    let r = app.send(login_from("198.51.100.1", &bystander.email, &bystander.password)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Each further failure doubles the wait…
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = app.send(login_from("198.51.100.11", &user.email, "guess-guess")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = app.send(login_from("203.0.113.99", &user.email, &user.password)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&r), 2);
    // …but once it has passed, the owner signs in from their own address.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = app.send(login_from("203.0.113.99", &user.email, &user.password)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Unknown addresses back off the same way, so a lockout reveals nothing.
    for i in 0..10 {
        app.send(login_from(&format!("192.0.2.{i}"), "nobody@example.com", "guess-guess")).await;
    }
    assert_eq!(
        app.send(login_from("192.0.2.99", "nobody@example.com", "guess-guess")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn one_address_gets_ten_checks_per_account_per_window_and_the_owner_elsewhere_still_signs_in() {
    // The backoff at its shortest, so that only the per-address budget is left to see.
    let app = TestApp::spawn_with(&[("TRUSTED_PROXY_HOPS", "1"), ("LOGIN_BACKOFF_MAX_SECONDS", "1")]).await;
    let user = app.user(&app.email("aimed")).await;
    for i in 0..10 {
        let r = app.send(login_from("198.51.100.7", &user.email, "guess-guess")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}: {}", r.body);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = app.send(login_from("198.51.100.7", &user.email, &user.password)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the address has spent its budget: {}", r.body);
    assert!((800..=900).contains(&retry_after(&r)), "the rest of the window: {}", retry_after(&r));
    let r = app.send(login_from("203.0.113.5", &user.email, &user.password)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Right passwords give their budget back: signing in often from one place locks nothing.
    for _ in 0..12 {
        let r = app.send(login_from("203.0.113.5", &user.email, &user.password)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
}

/// 59 wrong passwords and the right one, sent at once.
async fn sixty_at_once(app: &TestApp, email: &str, password: &str, same_ip: bool) -> Vec<TestResponse> {
    let requests = (0..60).map(|i| {
        let ip = if same_ip { "198.51.100.60".to_owned() } else { format!("198.51.100.{i}") };
        let guess = if i == 37 { password.to_owned() } else { format!("guess-{i:02}-guess") };
        app.send(login_from(&ip, email, &guess))
    });
    futures::future::join_all(requests).await
}

#[tokio::test]
async fn guesses_sent_at_once_get_no_more_checks_than_one_after_another() {
    let app = TestApp::spawn_with(&[("TRUSTED_PROXY_HOPS", "1")]).await;
    for same_ip in [true, false] {
        let user = app.user(&app.email(if same_ip { "burst-one" } else { "burst-many" })).await;
        let answers = sixty_at_once(&app, &user.email, &user.password, same_ip).await;
        let (ok, wrong, limited) = tally(&answers);
        // One check at a time per account, and never more than the budget of ten failures.
        assert!(ok + wrong <= 10, "same address {same_ip}: {ok} × 200, {wrong} × 401, {limited} × 429");
        assert!(limited >= 50);
        for r in answers.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS) {
            assert!(retry_after(r) >= 1);
        }
    }
}

#[tokio::test]
async fn with_redis_away_guessing_is_still_limited() {
    let app = TestApp::spawn_with(&[
        ("TRUSTED_PROXY_HOPS", "1"),
        ("REDIS_URL", &format!("redis://127.0.0.1:{}", growstack_tests::free_port())),
    ])
    .await;
    let user = app.user(&app.email("no-redis")).await;
    let (ok, wrong, _) = tally(&sixty_at_once(&app, &user.email, &user.password, false).await);
    assert!(ok + wrong <= 10, "{ok} × 200, {wrong} × 401");

    let other = app.user(&app.email("no-redis-serial")).await;
    let mut statuses = Vec::new();
    for i in 0..40 {
        statuses.push(app.send(login_from(&format!("198.51.100.{i}"), &other.email, "guess-guess")).await.status);
    }
    let wrong = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(wrong <= 11, "{wrong} wrong passwords checked of 40");
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS));
    let r = app.send(login_from("203.0.113.1", &other.email, &other.password)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
}

#[tokio::test]
async fn password_changes_sent_at_once_get_no_more_checks_than_the_budget() {
    let app = TestApp::spawn_with(&[("TRUSTED_PROXY_HOPS", "1")]).await;
    let user = app.user(&app.email("changer")).await;
    let change = |i: usize| {
        let current = if i == 29 { user.password.clone() } else { format!("guess-{i:02}-guess") };
        let request = http::Request::put("/api/users/password")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", user.access))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .body(axum::body::Body::from(
                json!({ "currentPassword": current, "newPassword": "an-entirely-new-passphrase" }).to_string(),
            ))
            .unwrap();
        app.send(request)
    };
    let answers = futures::future::join_all((0..30).map(change)).await;
    let checked = answers.iter().filter(|r| r.status != StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked <= 10, "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(answers
        .iter()
        .all(|r| [StatusCode::OK, StatusCode::BAD_REQUEST, StatusCode::TOO_MANY_REQUESTS].contains(&r.status)));
}

#[tokio::test]
async fn fraud_scores_are_for_staff_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app.register(TestApp::registration(&app.email("farm"))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(!r.raw.windows(10).any(|w| w == b"fraudScore"), "{}", r.body);
    let id = r.data()["user"]["id"].as_str().unwrap().to_owned();
    let access = r.data()["accessToken"].as_str().unwrap().to_owned();
    for answer in [app.profile(&access).await, app.login(&app.email("farm"), "correct-horse-battery").await] {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(!answer.body.to_string().contains("fraudScore"), "{}", answer.body);
    }
    let staff = app.get_user(&admin.access, &id).await;
    assert_eq!(staff.data()["fraudScore"], 0);
}

#[tokio::test]
async fn an_address_is_proven_by_the_emailed_link_before_inviting_or_claiming() {
    let app = TestApp::spawn().await;
    let address = app.email("unproven");
    let user = app.unverified_user(&address).await;
    assert!(app.profile(&user.access).await.data()["emailVerifiedAt"].is_null());

    // Unverified: no invitations, no claims, no `email` step by hand.
    let r = invite(&app, &user.access, &app.email("friend")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .json(
            Method::POST,
            "/api/referrals/claim-reward",
            Some(&user.access),
            json!({ "referralId": uuid::Uuid::now_v7() }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(app.step(&user.access, "email").await.status, StatusCode::FORBIDDEN);

    // The link in the email that sign-up sent.
    app.run_workers().await;
    let mail = emails_to(&address).await;
    let verification = mail.iter().find(|m| m["subject"] == "Confirm your email address").expect("verification email");
    let body = verification["body"].as_str().unwrap();
    let token: String = body
        .split("verify-email?token=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
        .collect();

    let forged = format!("{}x", token);
    assert_eq!(app.verify_email(&forged).await.status, StatusCode::BAD_REQUEST);
    let r = app.verify_email(&token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.data()["user"]["emailVerifiedAt"].is_string());
    assert_eq!(app.verify_email(&token).await.status, StatusCode::CONFLICT, "the link works once");
    let r = app.call(Method::POST, "/api/auth/resend-verification", Some(&user.access), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "already verified");

    assert_eq!(invite(&app, &user.access, &app.email("friend")).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn verification_can_be_resent_a_few_times_an_hour() {
    let app = TestApp::spawn().await;
    let address = app.email("resend");
    let user = app.unverified_user(&address).await;
    for _ in 0..3 {
        let r = app.call(Method::POST, "/api/auth/resend-verification", Some(&user.access), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = app.call(Method::POST, "/api/auth/resend-verification", Some(&user.access), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    app.run_workers().await;
    let sent = emails_to(&address).await.iter().filter(|m| m["subject"] == "Confirm your email address").count();
    assert_eq!(sent, 4, "sign-up's and three resends");
}

#[tokio::test]
async fn a_referral_completes_only_once_the_referred_address_is_verified() {
    let app = TestApp::spawn().await;
    let ada = app.user(&app.email("ada")).await;
    let code = app.profile(&ada.access).await.data()["referralCode"].as_str().unwrap().to_owned();
    let mut body = TestApp::registration(&app.email("grace"));
    body["referralCode"] = json!(code);
    let r = app.register(body).await;
    let grace: uuid::Uuid = r.data()["user"]["id"].as_str().unwrap().parse().unwrap();
    let grace_access = r.data()["accessToken"].as_str().unwrap().to_owned();
    for s in ["phone", "bvn", "selfie"] {
        assert_eq!(app.step(&grace_access, s).await.status, StatusCode::OK);
    }
    app.kyc(grace, "successful").await;
    let pg = app.pg().await;
    let status = || async { pg.query_one("SELECT status FROM referrals", &[]).await.unwrap().get::<_, String>(0) };
    assert_eq!(status().await, "pending", "not counted while the address is unproven");
    app.verify(grace).await;
    assert_eq!(status().await, "completed", "verifying completes it");
}

/// The console's session: asked for with `X-GrowStack-Session: cookie`, the refresh token is
/// an HttpOnly cookie and never in a body a script could read; refresh and sign-out read the
/// cookie only when the header comes with it (a cross-site form sends the cookie alone).
#[tokio::test]
async fn a_cookie_session_keeps_the_refresh_token_out_of_every_body() {
    let app = TestApp::spawn().await;
    let user = app.user(&app.email("console")).await;
    let send = |path: &'static str, body: serde_json::Value, cookie: Option<String>, header: bool| {
        let app = &app;
        async move {
            let mut request = http::Request::post(path).header("content-type", "application/json");
            if header {
                request = request.header("x-growstack-session", "cookie");
            }
            if let Some(cookie) = cookie {
                request = request.header("cookie", format!("theme=dark; growstack_refresh={cookie}"));
            }
            app.send(request.body(axum::body::Body::from(body.to_string())).unwrap()).await
        }
    };
    let cookie_of = |r: &TestResponse| -> String {
        let set = r.headers.get("set-cookie").expect("a cookie").to_str().unwrap().to_owned();
        assert!(set.ends_with("; Path=/api/auth; Max-Age=604800; HttpOnly; Secure; SameSite=Strict"), "{set}");
        set.trim_start_matches("growstack_refresh=").split(';').next().unwrap().to_owned()
    };
    let login = send("/api/auth/login", json!({ "email": user.email, "password": user.password }), None, true).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(!login.body.to_string().contains("refreshToken"), "{}", login.body);
    let first = cookie_of(&login);
    assert!(login.data()["accessToken"].is_string());

    // The cookie without the header is no session: a cross-site form carries exactly that.
    let forged = send("/api/auth/refresh-token", json!({}), Some(first.clone()), false).await;
    assert_eq!(
        (forged.status, &forged.body["error"]["details"]["field"]),
        (StatusCode::BAD_REQUEST, &json!("refreshToken"))
    );
    let refreshed = send("/api/auth/refresh-token", json!({}), Some(first.clone()), true).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert!(!refreshed.body.to_string().contains("refreshToken"));
    let second = cookie_of(&refreshed);
    assert_ne!(second, first);
    assert_eq!(app.profile(refreshed.data()["accessToken"].as_str().unwrap()).await.status, StatusCode::OK);

    let out = send("/api/auth/logout", json!({}), Some(second.clone()), true).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let cleared = out.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cleared.starts_with("growstack_refresh=; Path=/api/auth; Max-Age=0;"), "{cleared}");
    let after = send("/api/auth/refresh-token", json!({}), Some(second), true).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    // Without the header, a body token works as it always has, and sets no cookie.
    let plain = app.login(&user.email, &user.password).await;
    assert!(plain.headers.get("set-cookie").is_none());
    assert!(plain.data()["refreshToken"].is_string() && plain.data()["tokens"]["refreshToken"].is_string());
}
