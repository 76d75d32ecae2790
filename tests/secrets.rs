//! JWT keys from Secrets Manager (moto's, here): read at run time, rotated while the app
//! runs, picked up within the cache's lifetime with no restart; tokens and links signed with
//! the previous key keep working until they expire, and stop once that key is dropped.

use std::time::Duration;

use growstack_tests::TestApp;
use http::StatusCode;
use uuid::Uuid;

fn key() -> String {
    format!("{}{}", Uuid::now_v7().simple(), Uuid::now_v7().simple())
}

fn kid(token: &str) -> String {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&header).unwrap();
    value["kid"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn jwt_keys_rotate_in_secrets_manager_without_a_restart_or_a_sign_out() {
    // The secret first, then an app that reads its keys from it (and from nowhere else).
    let probe = TestApp::spawn().await;
    let name = format!("{}-jwt", probe.schema);
    let (k1, k2, k3) = (key(), key(), key());
    let secrets = probe.state.aws.secrets.clone();
    secrets
        .create_secret()
        .name(&name)
        .secret_string(serde_json::json!({ "kid": "k1", "key": k1 }).to_string())
        .send()
        .await
        .unwrap();
    let app = TestApp::spawn_with(&[
        ("JWT_SECRET_ID", name.as_str()),
        ("JWT_ACCESS_SECRET", ""),
        ("JWT_REFRESH_SECRET", ""),
        ("GROWSTACK_ENV", "production"),
        ("SECRETS_CACHE_SECONDS", "1"),
    ])
    .await;
    assert!(app.state.config.jwt_access_secret.is_none(), "no key in the environment");
    let user = app.unverified_user(&app.email("rotating")).await;
    assert_eq!(kid(&user.access), "k1");
    let old_link = app.verification_token(user.id).await;

    // Rotate: k2 signs from now on, k1 still verifies.
    let rotate = |value: serde_json::Value| {
        let secrets = secrets.clone();
        let name = name.clone();
        async move {
            secrets.put_secret_value().secret_id(name).secret_string(value.to_string()).send().await.unwrap();
            // The cache lives a second.
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
    };
    rotate(serde_json::json!({ "kid": "k2", "key": k2, "previousKid": "k1", "previousKey": k1 })).await;
    assert_eq!(app.profile(&user.access).await.status, StatusCode::OK, "a k1 token still verifies");
    let r = app.refresh(&user.refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let access = r.data()["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(kid(&access), "k2", "new tokens are signed with the new key");
    assert_eq!(app.verify_email(&old_link).await.status, StatusCode::OK, "a link mailed before still works");

    // Drop k1: what it signed stops working; k2's tokens carry on.
    let k1_token = user.access.clone();
    rotate(serde_json::json!({ "kid": "k3", "key": k3, "previousKid": "k2", "previousKey": k2 })).await;
    assert_eq!(app.profile(&k1_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.profile(&access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreadable_key_secret_is_a_503_not_a_500() {
    let app = TestApp::spawn_with(&[
        ("JWT_SECRET_ID", "no-such-secret"),
        ("JWT_ACCESS_SECRET", ""),
        ("JWT_REFRESH_SECRET", ""),
        ("GROWSTACK_ENV", "production"),
    ])
    .await;
    let r = app.login("nobody@example.com", "whatever-password").await;
    assert!(r.status == StatusCode::UNAUTHORIZED, "a login that fails never needs the keys: {}", r.body);
    let r = app.call(http::Method::GET, "/api/users/profile", Some("a.b.c"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a malformed token fails before the keys are read");
    let r = app.register(TestApp::registration(&app.email("no-keys"))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
}

#[tokio::test]
async fn database_credentials_are_read_at_run_time_and_rotate_without_a_restart() {
    let probe = TestApp::spawn().await;
    let name = format!("{}-db", probe.schema);
    let role = format!("gs_t_{}", &probe.schema[2..18]);
    let pg = probe.pg().await;
    pg.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA {schema} TO {role};
         GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role};",
        schema = probe.schema
    ))
    .await
    .unwrap();
    let secrets = probe.state.aws.secrets.clone();
    let put =
        |username: &str| serde_json::json!({ "username": username, "password": "local-servers-trust" }).to_string();
    secrets.create_secret().name(&name).secret_string(put("postgres")).send().await.unwrap();
    let app = TestApp::spawn_with(&[("DATABASE_SECRET_ID", name.as_str()), ("SECRETS_CACHE_SECONDS", "1")]).await;
    let first = app.state.db.writer().await.unwrap();
    assert_eq!(whoami(&first).await, "postgres");

    // Rotated (to another login, so that the change shows): a new connection uses it.
    secrets.put_secret_value().secret_id(&name).secret_string(put(&role)).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = app.state.db.writer().await.unwrap();
    assert_eq!(whoami(&second).await, role, "read again, with no restart");
    drop((first, second));
    pg.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};")).await.ok();
}

async fn whoami(conn: &growstack::db::Conn) -> String {
    conn.query_one("SELECT current_user::text", &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn the_application_logs_in_with_a_dml_only_role_that_migrating_creates() {
    let probe = TestApp::spawn().await;
    let name = format!("{}-app-db", probe.schema);
    let role = format!("gs_t_{}", &probe.schema[18..34]);
    let secrets = probe.state.aws.secrets.clone();
    let secret = serde_json::json!({ "username": role, "password": "it's-a-pass" }).to_string();
    secrets.create_secret().name(&name).secret_string(secret).send().await.unwrap();
    let url = probe.vars["DATABASE_URL"].clone();
    let endpoint = probe.vars["AWS_ENDPOINT_URL"].clone();
    let config = |vars: &[(&str, &str)]| {
        let vars: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        growstack::Config::from_lookup(|k| vars.get(k).cloned()).unwrap()
    };
    let store = || std::sync::Arc::new(growstack::secrets::SecretStore::new(secrets.clone(), Duration::from_secs(60)));
    // The migration, as the master user: twice, as every deploy runs it.
    let migrating = config(&[
        ("DATABASE_URL", &url),
        ("APP_DATABASE_SECRET_ID", &name),
        ("AWS_ENDPOINT_URL", &endpoint),
        ("GROWSTACK_ENV", "local"),
    ]);
    for _ in 0..2 {
        growstack::db::Db::with_secrets(&migrating, store()).unwrap().migrate().await.unwrap();
    }
    // The application, as the role in the same secret.
    let serving = config(&[
        ("DATABASE_URL", &url),
        ("DATABASE_SECRET_ID", &name),
        ("AWS_ENDPOINT_URL", &endpoint),
        ("GROWSTACK_ENV", "local"),
    ]);
    let db = growstack::db::Db::with_secrets(&serving, store()).unwrap();
    let conn = db.writer().await.unwrap();
    assert_eq!(whoami(&conn).await, role);
    conn.execute(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code) VALUES ($1, 'dml@example.com', 'x', 'D', 'M', 'DML001')",
        &[&Uuid::now_v7()],
    )
    .await
    .expect("DML is granted");
    conn.execute("DELETE FROM users WHERE email = 'dml@example.com'", &[]).await.expect("DELETE too");
    for ddl in
        ["CREATE TABLE sneaky (id int)", "DROP TABLE users", "ALTER TABLE users ADD COLUMN x int", "TRUNCATE users"]
    {
        assert!(conn.batch_execute(ddl).await.is_err(), "{ddl} must be refused");
    }
    assert!(
        conn.query_one("SELECT count(*) FROM refinery_schema_history", &[]).await.is_err(),
        "migrations are not its business"
    );
    // Partition upkeep still works, through the definer functions.
    probe
        .pg()
        .await
        .batch_execute(
            "CREATE TABLE events_y2020m01 PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')",
        )
        .await
        .unwrap();
    assert!(growstack::events::partitions::ensure(&conn).await.unwrap() >= 4);
    let dropped = growstack::events::partitions::drop_expired(&conn, 60).await.unwrap();
    assert_eq!(dropped, vec!["events_y2020m01".to_owned()]);
    drop(conn);
    let pg = probe.pg().await;
    pg.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};")).await.ok();
}

/// A redis-server of this test's own that requires a password.
struct LockedRedis(std::process::Child);

impl Drop for LockedRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn redis_cmd(port: u16, password: &str, args: &[&str]) -> redis::RedisResult<String> {
    let client = redis::Client::open(format!("redis://:{password}@127.0.0.1:{port}"))?;
    let mut c = client.get_multiplexed_async_connection().await?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async::<redis::Value>(&mut c).await.map(|v| format!("{v:?}"))
}

#[tokio::test]
async fn the_redis_token_is_read_at_run_time_and_rotates_without_a_restart() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--requirepass", "first-token"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server must be installed (the test script installs it)");
    let _redis = LockedRedis(child);
    for _ in 0..100 {
        if redis_cmd(port, "first-token", &["PING"]).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let probe = TestApp::spawn().await;
    let name = format!("{}-redis", probe.schema);
    let secrets = probe.state.aws.secrets.clone();
    secrets.create_secret().name(&name).secret_string("first-token").send().await.unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[
        ("REDIS_URL", url.as_str()),
        ("REDIS_AUTH_SECRET_ID", name.as_str()),
        ("SECRETS_CACHE_SECONDS", "1"),
    ])
    .await;
    let cache = &app.state.cache;
    assert!(cache.ping().await, "AUTH with the token from the secret");
    assert!(cache.set(&cache.key("k"), b"v1", Duration::from_secs(60)).await);

    // Rotated on the server and in the secret; the server drops every connection.
    redis_cmd(port, "first-token", &["CONFIG", "SET", "requirepass", "second token/with+odd=chars"]).await.unwrap();
    redis_cmd(port, "second token/with+odd=chars", &["CLIENT", "KILL", "TYPE", "normal"]).await.ok();
    secrets.put_secret_value().secret_id(&name).secret_string("second token/with+odd=chars").send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut answered = false;
    for _ in 0..20 {
        if cache.get(&cache.key("k")).await.as_deref() == Some(&b"v1"[..]) {
            answered = true;
            break;
        }
        // A failure pauses Redis use for a moment (fail open): try again shortly.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(answered, "the new token was read and used, with no restart");
}

#[tokio::test]
async fn the_kyc_webhook_secret_comes_from_secrets_manager_and_rotates_without_a_restart() {
    let probe = TestApp::spawn().await;
    let name = format!("{}-kyc", probe.schema);
    let (old, new, other) = (key(), key(), key());
    let secrets = probe.state.aws.secrets.clone();
    secrets.create_secret().name(&name).secret_string(&old).send().await.unwrap();
    // The environment's secret is not the one that counts once a secret id is given.
    let app = TestApp::spawn_with(&[("KYC_WEBHOOK_SECRET_ID", name.as_str()), ("SECRETS_CACHE_SECONDS", "1")]).await;
    let user = app.user(&app.email("kyc-rotated")).await;
    let callback = |secret: String| {
        let app = &app;
        let body = serde_json::json!({
            "eventId": format!("evt_{}", Uuid::now_v7().simple()),
            "userId": user.id,
            "status": "failed",
            "reference": "kyc-ref-rotation",
            "occurredAt": chrono::Utc::now().to_rfc3339(),
        });
        async move { app.kyc_callback(&body.to_string(), &secret, chrono::Utc::now().timestamp()).await.status }
    };
    assert_eq!(callback(old.clone()).await, StatusCode::OK);
    assert_eq!(callback(growstack_tests::KYC_SECRET.to_owned()).await, StatusCode::UNAUTHORIZED);

    // Rotating: both the new and the old secret are taken, nothing else is.
    let rotating = serde_json::json!({ "current": new, "previous": old }).to_string();
    secrets.put_secret_value().secret_id(&name).secret_string(rotating).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(callback(new.clone()).await, StatusCode::OK);
    assert_eq!(callback(old.clone()).await, StatusCode::OK);
    assert_eq!(callback(other.clone()).await, StatusCode::UNAUTHORIZED);

    // Rotated: the old one no longer works.
    secrets.put_secret_value().secret_id(&name).secret_string(&new).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(callback(new).await, StatusCode::OK);
    assert_eq!(callback(old).await, StatusCode::UNAUTHORIZED);
}
