//! Test support: a [`TestApp`] owning its own Postgres schema and Redis key space, driving
//! the production router, with one method per endpoint; and a way to feed `events/`
//! payloads through lambda_http exactly as the Lambda runtime would.

pub mod runtime_api;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use growstack::endpoint::{router_for, Endpoint};
use growstack::server::router;
use growstack::worker::SqsWorker;
use growstack::{AppState, Config};
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::{Service, ServiceExt};
use uuid::Uuid;

/// Postgres server the tests use; each test gets its own schema in it.
pub fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// moto's server, standing in for SQS, SES v2 and DynamoDB (scripts/test.sh starts one on
/// port 5001, apart from the local run's).
pub fn aws_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:5001".to_owned())
}

/// The secret the tests' KYC provider signs its callbacks with.
pub const KYC_SECRET: &str = "test-kyc-webhook-secret-0123456789abcdef";

/// The sender the tests' SES identity verifies.
pub const SENDER: &str = "noreply@growstack.test";

pub fn test_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub raw: bytes::Bytes,
}

impl TestResponse {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub struct TestApp {
    /// The EMF lines the app has written, one JSON document each.
    pub emf: Arc<Mutex<Vec<String>>>,
    pub schema: String,
    pub aws: growstack::local::Provisioned,
    pub vars: HashMap<String, String>,
    pub state: AppState,
    pub router: Router,
    /// What each function invoked through [`TestApp::invoke`] used.
    pub invoked: Arc<Mutex<BTreeMap<&'static str, BTreeSet<growstack::uses::Resource>>>>,
}

/// A registered user and their tokens.
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

fn url_with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    // The application name tells this test's connections from others' (tests/faults.rs
    // terminates them).
    format!("{base}{sep}options=-c%20search_path%3D{schema}&application_name={schema}")
}

impl TestApp {
    /// `POST /api/onboarding/step` as the holder of `token`.
    pub async fn step(&self, token: &str, step: &str) -> TestResponse {
        self.json(http::Method::POST, "/api/onboarding/step", Some(token), serde_json::json!({ "step": step })).await
    }

    /// `POST /api/referrals/claim-reward` as the holder of `token`, with an `Idempotency-Key`
    /// when given one.
    pub async fn claim(&self, token: &str, referral: impl std::fmt::Display, key: Option<&str>) -> TestResponse {
        let mut request = http::Request::post("/api/referrals/claim-reward")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let body = serde_json::json!({ "referralId": referral.to_string() }).to_string();
        self.send(request.body(body.into()).unwrap()).await
    }

    /// A migrated schema of its own and a Redis prefix of its own.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    /// As [`TestApp::spawn`], with some settings overridden.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        let schema = format!("t_{}", Uuid::now_v7().simple());
        let (client, conn) = tokio_postgres::connect(&test_database_url(), tokio_postgres::NoTls)
            .await
            .expect("test Postgres must be running (see README)");
        tokio::spawn(conn);
        client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
        let db_url = url_with_schema(&test_database_url(), &schema);
        let endpoint = aws_endpoint();
        let aws_config = Config::from_lookup(|k| match k {
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            "GROWSTACK_ENV" => Some("local".to_owned()),
            _ => None,
        })
        .unwrap();
        let plan = growstack::local::Plan {
            prefix: &schema,
            sender: SENDER,
            max_receive_count: 3,
            // Failed messages come back after a second, so retry paths run quickly.
            visibility_timeout: 1,
            archive: "growstack-tests",
        };
        let aws = growstack::local::provision(&growstack::aws::Aws::new(&aws_config).await, &plan)
            .await
            .expect("moto must be running (see README)");
        // JWT secrets for this app alone, in its variables so that a process started with them
        // (a function binary, the server) accepts the tokens the app issues.
        let secret = || format!("{}{}", Uuid::now_v7().simple(), Uuid::now_v7().simple());
        let (access_secret, refresh_secret) = (secret(), secret());
        let mut vars: HashMap<String, String> = [
            ("JWT_ACCESS_SECRET", access_secret.as_str()),
            ("JWT_REFRESH_SECRET", refresh_secret.as_str()),
            ("DATABASE_URL", db_url.as_str()),
            ("REDIS_URL", test_redis_url().as_str()),
            ("REDIS_KEY_PREFIX", &format!("test:{schema}:")),
            ("DATABASE_POOL_SIZE", "5"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("EMAIL_QUEUE_URL", aws.email_queue_url.as_str()),
            ("NOTIFICATION_QUEUE_URL", aws.notification_queue_url.as_str()),
            ("WEBHOOK_QUEUE_URL", aws.webhook_queue_url.as_str()),
            ("IDEMPOTENCY_TABLE", aws.idempotency_table.as_str()),
            ("EVENTS_FIREHOSE_STREAM", aws.events_stream.as_str()),
            ("EVENTS_ARCHIVE_BUCKET", aws.events_bucket.as_str()),
            ("EXPORTS_BUCKET", aws.exports_bucket.as_str()),
            ("EMAIL_FROM", SENDER),
            ("GROWSTACK_ENV", "local"),
            ("KYC_WEBHOOK_SECRET", KYC_SECRET),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in overrides {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        // Migrations always run against the real schema, even when the app under test is
        // pointed at a broken database.
        let migrate_config = Config::from_lookup(|k| match k {
            "DATABASE_URL" => Some(db_url.clone()),
            "GROWSTACK_ENV" => Some("local".to_owned()),
            _ => None,
        })
        .unwrap();
        growstack::migrate::run(&growstack::db::Db::new(&migrate_config).unwrap()).await.expect("migrations apply");
        let emf: Arc<Mutex<Vec<String>>> = Arc::default();
        let lines = emf.clone();
        let metrics = Arc::new(growstack::metrics::Metrics::with_sink(
            "GrowStack",
            Arc::new(move |line| lines.lock().unwrap().push(line)),
        ));
        let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let state = AppState::with_metrics(config, metrics).await.unwrap();
        TestApp { emf, schema, aws, vars, router: router(state.clone()), state, invoked: Arc::default() }
    }

    /// A plain client on this test's schema, for checking what was written.
    pub async fn pg(&self) -> tokio_postgres::Client {
        let (client, conn) =
            tokio_postgres::connect(&url_with_schema(&test_database_url(), &self.schema), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(conn);
        client
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.pg().await.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap().get(0)
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let raw = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        TestResponse { status, headers, body, raw }
    }

    /// A request with an optional bearer token and an optional raw body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_owned())),
            None => builder.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    pub async fn json(&self, method: Method, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.call(method, path, token, Some(&body.to_string())).await
    }

    pub fn registration(email: &str) -> Value {
        json!({
            "email": email,
            "password": "correct-horse-battery",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "phone": TestApp::phone(),
        })
    }

    /// A valid Nigerian mobile number, different each time.
    pub fn phone() -> String {
        const PREFIXES: [&str; 24] = [
            "701", "703", "705", "706", "708", "802", "803", "805", "806", "807", "808", "810", "811", "812", "813",
            "814", "815", "816", "901", "902", "903", "905", "906", "907",
        ];
        let n = rand_digits();
        format!("+234{}{:07}", PREFIXES[(n % 24) as usize], (n / 24) % 10_000_000)
    }

    pub async fn register(&self, body: Value) -> TestResponse {
        self.json(Method::POST, "/api/auth/register", None, body).await
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.json(Method::POST, "/api/auth/login", None, json!({ "email": email, "password": password })).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.json(Method::POST, "/api/auth/refresh-token", None, json!({ "refreshToken": refresh_token })).await
    }

    pub async fn profile(&self, token: &str) -> TestResponse {
        self.call(Method::GET, "/api/users/profile", Some(token), None).await
    }

    pub async fn update_profile(&self, token: &str, body: Value) -> TestResponse {
        self.json(Method::PUT, "/api/users/profile", Some(token), body).await
    }

    pub async fn list_users(&self, token: &str, query: &str) -> TestResponse {
        self.call(Method::GET, &format!("/api/users{query}"), Some(token), None).await
    }

    pub async fn get_user(&self, token: &str, id: &str) -> TestResponse {
        self.call(Method::GET, &format!("/api/users/{id}"), Some(token), None).await
    }

    pub async fn block(&self, token: &str, id: &str, blocked: bool) -> TestResponse {
        self.json(Method::PATCH, &format!("/api/users/{id}/block"), Some(token), json!({ "blocked": blocked })).await
    }

    pub async fn health(&self) -> TestResponse {
        self.call(Method::GET, "/health", None, None).await
    }

    /// Registers a new user and proves their address through `POST /api/auth/verify-email`
    /// with the link the verification email carries; returns them with their tokens.
    pub async fn user(&self, email: &str) -> TestUser {
        let user = self.unverified_user(email).await;
        self.verify(user.id).await;
        user
    }

    /// Ada, and Grace who signed up with Ada's code and verified her address; Grace's access
    /// token and the referral.
    pub async fn referred_pair(&self) -> (TestUser, Uuid, String, Uuid) {
        let ada = self.user(&self.email("ada")).await;
        let code = self.call(http::Method::GET, "/api/referrals/code", Some(&ada.access), None).await.data()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut body = TestApp::registration(&self.email("grace"));
        body["referralCode"] = serde_json::json!(code);
        let r = self.register(body).await;
        assert_eq!(r.status, http::StatusCode::CREATED, "{}", r.body);
        let grace: Uuid = r.data()["user"]["id"].as_str().unwrap().parse().unwrap();
        self.verify(grace).await;
        let referral: Uuid = self.pg().await.query_one("SELECT id FROM referrals", &[]).await.unwrap().get(0);
        (ada, grace, r.data()["accessToken"].as_str().unwrap().to_owned(), referral)
    }

    /// Verifies a user's address with the link they were sent.
    pub async fn verify(&self, id: Uuid) {
        let r = self.verify_email(&self.verification_token(id).await).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }

    /// The token of the link a verification email sent to user `id` carries.
    pub async fn verification_token(&self, id: Uuid) -> String {
        let user = growstack::users::by_id(&self.state.db.writer().await.unwrap(), id).await.unwrap().unwrap();
        let link = growstack::auth::verification_link(&self.state, &user).await.unwrap();
        link.split_once("token=").unwrap().1.to_owned()
    }

    pub async fn verify_email(&self, token: &str) -> TestResponse {
        self.json(Method::POST, "/api/auth/verify-email", None, json!({ "token": token })).await
    }

    /// Posts a KYC provider callback with `body`, signed at `timestamp` with `secret`.
    pub async fn kyc_callback(&self, body: &str, secret: &str, timestamp: i64) -> TestResponse {
        let signature = growstack::kyc::signature::sign(secret.as_bytes(), body.as_bytes(), timestamp);
        let request = Request::post("/api/webhooks/kyc")
            .header("content-type", "application/json")
            .header("x-growstack-signature", signature)
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.send(request).await
    }

    /// The KYC provider's verdict on `user` (`successful` or `failed`), signed now.
    pub async fn kyc(&self, user: Uuid, status: &str) -> TestResponse {
        let body = json!({
            "eventId": format!("evt_{}", Uuid::now_v7().simple()),
            "userId": user,
            "status": status,
            "reference": "kyc-ref-1",
            "occurredAt": chrono::Utc::now().to_rfc3339(),
            "identityRef": format!("bvn-sha256:{user}"),
        });
        let r = self.kyc_callback(&body.to_string(), KYC_SECRET, chrono::Utc::now().timestamp()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r
    }

    pub async fn logout(&self, refresh_token: &str) -> TestResponse {
        self.json(Method::POST, "/api/auth/logout", None, json!({ "refreshToken": refresh_token })).await
    }

    pub async fn logout_all(&self, access: &str) -> TestResponse {
        self.call(Method::POST, "/api/auth/logout-all", Some(access), None).await
    }

    pub async fn change_password(&self, access: &str, current: &str, new: &str) -> TestResponse {
        let body = json!({ "currentPassword": current, "newPassword": new });
        self.json(Method::PUT, "/api/users/password", Some(access), body).await
    }

    pub async fn set_role(&self, token: &str, id: &str, role: &str) -> TestResponse {
        self.json(Method::PATCH, &format!("/api/users/{id}/role"), Some(token), json!({ "role": role })).await
    }

    /// Registers a new user with a unique email, leaving the address unverified.
    pub async fn unverified_user(&self, email: &str) -> TestUser {
        let r = self.register(Self::registration(email)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        TestUser {
            id: r.data()["user"]["id"].as_str().unwrap().parse().unwrap(),
            email: email.to_owned(),
            password: "correct-horse-battery".to_owned(),
            access: r.data()["accessToken"].as_str().unwrap().to_owned(),
            refresh: r.data()["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    /// An admin, made the way an operator makes one (`growstack create-admin`), logged in.
    pub async fn admin(&self) -> TestUser {
        let email = "admin@growstack.test";
        let password = "admin-password-1";
        growstack::server::create_admin(&self.state, email, password.to_owned()).await.unwrap();
        let r = self.login(email, password).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        TestUser {
            id: r.data()["user"]["id"].as_str().unwrap().parse().unwrap(),
            email: email.to_owned(),
            password: password.to_owned(),
            access: r.data()["accessToken"].as_str().unwrap().to_owned(),
            refresh: r.data()["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    /// Feeds an API Gateway HTTP API event through lambda_http into a router serving only
    /// `endpoint`, as the function's Lambda would; returns the Lambda response as JSON.
    pub async fn invoke(&self, endpoint: &'static Endpoint, event: Value) -> Value {
        let request: lambda_http::request::LambdaRequest =
            serde_json::from_value(event).expect("a valid API Gateway event");
        let mut adapter = lambda_http::Adapter::from(router_for([endpoint], self.state.clone()));
        let event = lambda_http::LambdaEvent::new(request, lambda_http::Context::default());
        let (response, used) = growstack::uses::recording(adapter.ready().await.unwrap().call(event)).await;
        self.invoked.lock().unwrap().entry(endpoint.function).or_default().extend(used);
        serde_json::to_value(response.unwrap()).unwrap()
    }

    /// Checks that each function invoked here used the keys its endpoint declares, so that
    /// the grants derived from the declarations (tests/consistency.rs) are no wider than what
    /// the code does: the tokens' private keys, and the link key, above all.
    pub fn assert_keys_used_as_declared(&self) {
        use growstack::uses::Resource::{LinkKey, TokenPublicKeysWrite, TokenSigningKey};
        for (function, used) in self.invoked.lock().unwrap().iter() {
            let declared = growstack::app::ENDPOINTS.iter().find(|e| e.function == *function).unwrap().uses;
            for key in [TokenSigningKey, TokenPublicKeysWrite, LinkKey] {
                assert_eq!(used.contains(&key), declared.contains(&key), "{function} and {key:?}: used {used:?}");
            }
        }
    }
}

impl TestApp {
    /// A unique address for this test, so that its emails can be told from other tests'.
    pub fn email(&self, name: &str) -> String {
        format!("{name}.{}@example.com", self.schema)
    }

    /// Polls a queue once (short wait) through `worker`, as Lambda's event source would.
    pub async fn drain_once(&self, url: &str, worker: impl SqsWorker) -> usize {
        growstack::worker::poll_once(&self.state.aws.sqs, url, Duration::from_secs(1), |e| async move {
            worker.handle(e).await
        })
        .await
        .unwrap()
    }

    pub async fn drain_email_once(&self) -> usize {
        self.drain_once(&self.aws.email_queue_url, self.state.email_worker()).await
    }

    pub async fn drain_notifications_once(&self) -> usize {
        self.drain_once(&self.aws.notification_queue_url, self.state.notification_worker()).await
    }

    /// Runs both workers until neither queue gives them anything.
    pub async fn run_workers(&self) {
        loop {
            let notifications = self.drain_notifications_once().await;
            let emails = self.drain_email_once().await;
            if notifications == 0 && emails == 0 {
                return;
            }
        }
    }

    /// The outbox relay on this test's own queues, whatever queue URLs the app was given
    /// (a test that makes the app's queues refuse work relays once they "recover").
    pub fn relay(&self) -> growstack::outbox::Relay {
        use growstack::queue::Queue;
        use growstack::uses::Resource;
        let sqs = self.state.aws.sqs.clone();
        growstack::outbox::Relay {
            db: self.state.db.clone(),
            email: Queue::new(sqs.clone(), Some(self.aws.email_queue_url.clone()), Resource::EmailQueue),
            notification: Queue::new(
                sqs.clone(),
                Some(self.aws.notification_queue_url.clone()),
                Resource::NotificationQueue,
            ),
            webhook: Queue::new(sqs, Some(self.aws.webhook_queue_url.clone()), Resource::WebhookQueue),
        }
    }

    /// Messages waiting in a queue (visible or in flight), as SQS counts them.
    pub async fn queue_depth(&self, url: &str) -> usize {
        let attrs = self
            .state
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        attrs.values().map(|v| v.parse::<usize>().unwrap_or(0)).sum()
    }
}

/// The emails moto's SES has accepted for `to`: `{source, destinations, subject, body}`.
pub async fn emails_to(to: &str) -> Vec<Value> {
    let data = moto_data().await;
    data["ses"]["Message"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| m["destinations"]["ToAddresses"].as_array().is_some_and(|a| a.iter().any(|d| d == to)))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// moto's whole state, from `/moto-api/data.json`. moto builds the dump while other tests
/// keep changing its state and now and then fails to; such an answer is asked again.
pub async fn moto_data() -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let endpoint = aws_endpoint();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
                if let Ok(value) = serde_json::from_str(body) {
                    return value;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto's /moto-api/data.json did not answer with JSON");
}

fn rand_digits() -> u64 {
    (Uuid::now_v7().as_u128() % 999_999_999) as u64
}

/// The payload in `events/<name>.json`, with `REPLACE_WITH_*` placeholders substituted.
pub fn event(name: &str, replacements: &[(&str, &str)]) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events").join(format!("{name}.json"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

/// `events/webhooks-kyc.json` for `user`, signed with `secret` as the provider signs it, now.
pub fn signed_kyc_event(user: &str, event_id: &str, secret: &str) -> Value {
    let now = chrono::Utc::now();
    let mut payload = event(
        "webhooks-kyc",
        &[
            ("REPLACE_WITH_USER_ID", user),
            ("REPLACE_WITH_EVENT_ID", event_id),
            ("REPLACE_WITH_OCCURRED_AT", &now.to_rfc3339()),
        ],
    );
    let body = payload["body"].as_str().unwrap_or_default().to_owned();
    let signature = growstack::kyc::signature::sign(secret.as_bytes(), body.as_bytes(), now.timestamp());
    payload["headers"]["x-growstack-signature"] = Value::String(signature);
    payload
}

/// The description of an endpoint a test makes up, which the document never shows.
pub fn undocumented(_: &mut growstack::openapi::Schemas) -> growstack::openapi::Described {
    growstack::openapi::Described { path: String::new(), methods: Vec::new(), operation: Default::default() }
}

/// The decoded body of a Lambda response produced by [`TestApp::invoke`].
pub fn lambda_body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Redis server of this test's own, so stopping it disturbs no other test.
pub struct OwnRedis {
    pub port: u16,
    child: std::process::Child,
}

impl OwnRedis {
    pub async fn start_on(port: u16) -> OwnRedis {
        let mut child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (the test script installs it)");
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        for _ in 0..100 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING").query_async::<String>(&mut c).await.is_ok() {
                    return OwnRedis { port, child };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
