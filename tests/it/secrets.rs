//! Keys and credentials from Secrets Manager (moto's, here): read at run time, rotated while
//! the app runs, picked up within the cache's lifetime with no restart; tokens and links
//! signed with the previous key keep working until they expire, and stop once that key is
//! dropped.

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

/// The three key secrets of one test, in moto: the signing seed, the (empty) public keys,
/// the link key.
struct KeySecrets {
    signing: String,
    public: String,
    links: String,
    client: aws_sdk_secretsmanager::Client,
}

impl KeySecrets {
    async fn create(probe: &TestApp, signing: serde_json::Value) -> KeySecrets {
        let client = probe.state.aws.secrets.clone();
        let name = |what: &str| format!("{}-{what}", probe.schema);
        let keys = KeySecrets { signing: name("signing"), public: name("public"), links: name("links"), client };
        for (id, value) in [
            (&keys.signing, signing),
            (&keys.public, serde_json::json!({ "keys": [] })),
            (&keys.links, serde_json::json!({ "kid": "l1", "key": key() })),
        ] {
            keys.client.create_secret().name(id).secret_string(value.to_string()).send().await.unwrap();
        }
        keys
    }

    /// The settings of a process that reads them; `issuer` whether it is told the signing key.
    fn settings<'a>(&'a self, issuer: bool, database_url: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
        let mut vars = vec![
            ("TOKEN_SIGNING_KEY_ID", if issuer { self.signing.as_str() } else { "" }),
            ("TOKEN_PUBLIC_KEYS_ID", self.public.as_str()),
            ("LINK_KEY_ID", self.links.as_str()),
            ("JWT_ACCESS_SECRET", ""),
            ("JWT_REFRESH_SECRET", ""),
            ("GROWSTACK_ENV", "production"),
            ("SECRETS_CACHE_SECONDS", "1"),
        ];
        vars.extend(database_url.map(|url| ("DATABASE_URL", url)));
        vars
    }

    async fn public_kids(&self) -> Vec<String> {
        let value = self.client.get_secret_value().secret_id(&self.public).send().await.unwrap();
        let value: serde_json::Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
        value["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    }

    /// Rotates the signing key, then waits out the one-second cache.
    async fn rotate(&self, value: serde_json::Value) {
        self.client.put_secret_value().secret_id(&self.signing).secret_string(value.to_string()).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
}

/// Tokens are signed with Ed25519 keys whose seed only an issuer reads; a process given the
/// public keys alone checks them, and cannot sign (the finding: every function could mint an
/// admin's token). The issuer lists its public keys itself; a rotation reaches everyone
/// within the cache's lifetime and signs nobody out; dropping a generation stops its tokens.
#[tokio::test]
async fn tokens_are_signed_by_issuers_alone_and_rotate_without_a_restart_or_a_sign_out() {
    let probe = TestApp::spawn().await;
    let (k1, k2, k3) = (key(), key(), key());
    let keys = KeySecrets::create(&probe, serde_json::json!({ "kid": "k1", "key": k1 })).await;
    let issuer = TestApp::spawn_with(&keys.settings(true, None)).await;
    assert!(issuer.state.config.jwt_access_secret.is_none(), "no key in the environment");
    let database_url = issuer.vars["DATABASE_URL"].clone();
    let verifier = TestApp::spawn_with(&keys.settings(false, Some(&database_url))).await;

    assert!(keys.public_kids().await.is_empty(), "nothing listed before the first sign-in");
    let user = issuer.unverified_user(&issuer.email("rotating")).await;
    assert_eq!(kid(&user.access), "k1");
    assert_eq!(keys.public_kids().await, ["k1"], "the issuer listed its key before signing with it");
    assert_eq!(verifier.profile(&user.access).await.status, StatusCode::OK, "the public keys check it");
    let r = verifier.register(TestApp::registration(&verifier.email("no-signing-key"))).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "a process without the seed mints nothing: {}", r.body);
    let old_link = issuer.verification_token(user.id).await;

    // Rotate: k2 signs from now on, k1 still verifies, everywhere.
    keys.rotate(serde_json::json!({ "kid": "k2", "key": k2, "previousKid": "k1", "previousKey": k1 })).await;
    let r = issuer.refresh(&user.refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let access = r.data()["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(kid(&access), "k2", "new tokens are signed with the new key");
    assert_eq!(keys.public_kids().await, ["k2", "k1"]);
    for app in [&issuer, &verifier] {
        assert_eq!(app.profile(&user.access).await.status, StatusCode::OK, "a k1 token still verifies");
        assert_eq!(app.profile(&access).await.status, StatusCode::OK, "a k2 token verifies at once");
    }
    assert_eq!(verifier.verify_email(&old_link).await.status, StatusCode::OK, "a link mailed before still works");

    // Rotate at once, naming no previous key (a leaked key): what k1 and k2 signed stops.
    keys.rotate(serde_json::json!({ "kid": "k3", "key": k3 })).await;
    let fresh = issuer.login(&user.email, &user.password).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    let k3_token = fresh.data()["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(keys.public_kids().await, ["k3"]);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for app in [&issuer, &verifier] {
        assert_eq!(app.profile(&user.access).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.profile(&access).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.profile(&k3_token).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn an_unreadable_key_secret_is_a_503_not_a_500() {
    let app = TestApp::spawn_with(&[
        ("TOKEN_SIGNING_KEY_ID", "no-such-secret"),
        ("TOKEN_PUBLIC_KEYS_ID", "no-such-secret"),
        ("LINK_KEY_ID", "no-such-secret"),
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
        growstack::migrate::run(&growstack::db::Db::with_secrets(&migrating, store()).unwrap()).await.unwrap();
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
    let done = growstack::events::partitions::drop_expired(&conn, 60, Some(growstack::events::export::WATERMARK))
        .await
        .unwrap();
    assert_eq!(done.dropped, vec!["events_y2020m01".to_owned()]);
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
