//! API keys for the operator's servers: made by an admin and shown once, accepted only where
//! the registry's declaration names a scope the key holds (checked here for every route, from
//! the registry), revoked at once, limited per key even when sent at once; server events for
//! any user, a metric only server events count, and the payout loop through the API alone.

use growstack::app::ENDPOINTS;
use growstack_tests::{TestApp, TestResponse};
use http::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// A key with `scopes`, made by `admin`: its secret and id.
async fn key(app: &TestApp, admin: &str, scopes: &[&str]) -> (String, String) {
    let r = app
        .json(Method::POST, "/api/admin/api-keys", Some(admin), json!({ "name": "core banking", "scopes": scopes }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (r.data()["key"].as_str().unwrap().to_owned(), r.data()["id"].as_str().unwrap().to_owned())
}

/// The path of an endpoint with its parameters filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') { Uuid::now_v7().to_string() } else { segment.to_owned() })
        .collect::<Vec<_>>()
        .join("/")
}

async fn with_key(app: &TestApp, method: Method, path: &str, key: &str, body: Option<Value>) -> TestResponse {
    let body = body.map(|b| b.to_string());
    app.call(method, path, Some(key), body.as_deref()).await
}

#[tokio::test]
async fn a_key_is_shown_once_stored_as_a_hash_and_listed_without_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (secret, id) = key(&app, &admin.access, &["rewards:read", "rewards:read"]).await;
    assert!(secret.starts_with("gs_") && secret.len() == 46, "{secret}");
    let listed = app.call(Method::GET, "/api/admin/api-keys", Some(&admin.access), None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let row = &listed.data()["apiKeys"][0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["prefix"], &secret[..11]);
    assert_eq!(row["scopes"], json!(["rewards:read"]), "a scope named twice is kept once");
    assert!(row.get("key").is_none() && !listed.body.to_string().contains(&secret));
    // Nothing in the database holds the secret: only its SHA-256.
    let pg = app.pg().await;
    let stored: Vec<u8> = pg.query_one("SELECT secret_hash FROM api_keys", &[]).await.unwrap().get(0);
    assert_eq!(stored, growstack::signing::sha256(secret.as_bytes()));
    let dump: String =
        pg.query_one("SELECT (SELECT string_agg(t::text, '') FROM api_keys t) || (SELECT string_agg(a::text, '') FROM audit_log a)", &[])
            .await
            .unwrap()
            .get(0);
    assert!(!dump.contains(&secret[11..]), "the secret's random part is stored nowhere");
    let audit: String =
        pg.query_one("SELECT action FROM audit_log WHERE entity = 'api_key'", &[]).await.unwrap().get(0);
    assert_eq!(audit, "created");
    // It works, and its use is recorded.
    let r = with_key(&app, Method::GET, "/api/admin/rewards", &secret, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let used = app.call(Method::GET, "/api/admin/api-keys", Some(&admin.access), None).await;
    assert!(used.data()["apiKeys"][0]["lastUsedAt"].is_string());
}

#[tokio::test]
async fn only_admins_make_keys_and_bad_definitions_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let user = app.user(&app.email("plain")).await;
    let good = json!({ "name": "x", "scopes": ["users:read"] });
    let r = app.json(Method::POST, "/api/admin/api-keys", Some(&user.access), good.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (body, field) in [
        (json!({ "name": " ", "scopes": ["users:read"] }), "name"),
        (json!({ "name": "x".repeat(101), "scopes": ["users:read"] }), "name"),
        (json!({ "name": "x", "scopes": [] }), "scopes"),
        (json!({ "name": "x", "scopes": ["users:write"] }), "scopes"),
    ] {
        let r = app.json(Method::POST, "/api/admin/api-keys", Some(&admin.access), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.body);
    }
    let r = app.json(Method::POST, "/api/admin/api-keys", Some(&admin.access), json!({"name": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("api_keys").await, 0);
    // A key cannot manage keys, even one holding every scope.
    let (secret, id) = key(&app, &admin.access, &["events:write", "rewards:read", "rewards:write", "users:read"]).await;
    let r = with_key(&app, Method::POST, "/api/admin/api-keys", &secret, Some(good)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = with_key(&app, Method::DELETE, &format!("/api/admin/api-keys/{id}"), &secret, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let missing = format!("/api/admin/api-keys/{}", Uuid::now_v7());
    assert_eq!(app.call(Method::DELETE, &missing, Some(&admin.access), None).await.status, StatusCode::NOT_FOUND);
}

/// For every route of the registry: a key is refused where the declaration names no scope,
/// refused without the scope it names, and let through (to the handler) with it.
#[tokio::test]
async fn scopes_are_enforced_on_every_route_from_the_registry() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let all = ["events:write", "rewards:read", "rewards:write", "users:read"];
    let (every, _) = key(&app, &admin.access, &all).await;
    let mut keyed = 0;
    for endpoint in ENDPOINTS {
        let path = concrete(endpoint.path);
        let method = endpoint.method.clone();
        match endpoint.key_scope {
            None => {
                let r = with_key(&app, method, &path, &every, Some(json!({}))).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {}", endpoint.function, r.body);
                assert!(r.body["error"]["message"].as_str().unwrap().contains("API keys are not accepted"));
            }
            Some(scope) => {
                keyed += 1;
                let others: Vec<&str> = all.iter().copied().filter(|s| *s != scope.as_str()).collect();
                let (without, _) = key(&app, &admin.access, &others).await;
                let r = with_key(&app, method.clone(), &path, &without, Some(json!({}))).await;
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{} without {}: {}",
                    endpoint.function,
                    scope.as_str(),
                    r.body
                );
                let (only, _) = key(&app, &admin.access, &[scope.as_str()]).await;
                let r = with_key(&app, method, &path, &only, Some(json!({}))).await;
                assert!(
                    ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&r.status),
                    "{} with {}: {} {}",
                    endpoint.function,
                    scope.as_str(),
                    r.status,
                    r.body
                );
            }
        }
    }
    assert!(keyed >= 5, "events, rewards and users routes take keys");
    // A forged key with a real prefix, and one of the wrong shape.
    let forged = format!("{}{}", &every[..11], "A".repeat(35));
    assert_eq!(with_key(&app, Method::GET, "/api/users", &forged, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(with_key(&app, Method::GET, "/api/users", "gs_nope", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (secret, id) = key(&app, &admin.access, &["users:read"]).await;
    assert_eq!(with_key(&app, Method::GET, "/api/users", &secret, None).await.status, StatusCode::OK);
    let r = app.call(Method::DELETE, &format!("/api/admin/api-keys/{id}"), Some(&admin.access), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.data()["revokedAt"].is_string());
    let r = with_key(&app, Method::GET, "/api/users", &secret, None).await;
    assert_eq!((r.status, r.body["error"]["message"].as_str()), (StatusCode::UNAUTHORIZED, Some("API key revoked")));
    // Revoking again changes nothing, and is audited once.
    let again = app.call(Method::DELETE, &format!("/api/admin/api-keys/{id}"), Some(&admin.access), None).await;
    assert_eq!(again.data()["revokedAt"], r_revoked(&app, &admin.access).await);
    let revocations: i64 = app
        .pg()
        .await
        .query_one("SELECT count(*) FROM audit_log WHERE entity = 'api_key' AND action = 'revoked'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(revocations, 1);
}

async fn r_revoked(app: &TestApp, admin: &str) -> Value {
    app.call(Method::GET, "/api/admin/api-keys", Some(admin), None).await.data()["apiKeys"][0]["revokedAt"].clone()
}

/// The per-key limit holds for requests sent at once, with Redis and (each instance
/// counting alone) without it.
#[tokio::test]
async fn a_keys_rate_holds_for_requests_sent_at_once() {
    let app = TestApp::spawn_with(&[("API_KEY_REQUESTS_PER_MINUTE", "5")]).await;
    let admin = app.admin().await;
    let (secret, _) = key(&app, &admin.access, &["users:read"]).await;
    let calls = (0..12).map(|_| with_key(&app, Method::GET, "/api/users", &secret, None));
    let statuses: Vec<StatusCode> = futures::future::join_all(calls).await.into_iter().map(|r| r.status).collect();
    let passed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((passed, limited), (5, 7), "{statuses:?}");
    // Another key has its own budget.
    let (other, _) = key(&app, &admin.access, &["users:read"]).await;
    assert_eq!(with_key(&app, Method::GET, "/api/users", &other, None).await.status, StatusCode::OK);

    let dead_redis = format!("redis://127.0.0.1:{}", growstack_tests::free_port());
    let away = TestApp::spawn_with(&[("API_KEY_REQUESTS_PER_MINUTE", "5"), ("REDIS_URL", &dead_redis)]).await;
    let admin = away.admin().await;
    let (secret, _) = key(&away, &admin.access, &["users:read"]).await;
    let calls = (0..12).map(|_| with_key(&away, Method::GET, "/api/users", &secret, None));
    let passed = futures::future::join_all(calls).await.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(passed, 5, "with Redis away");
}

#[tokio::test]
async fn server_events_name_their_users_and_count_as_activity() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let ada = app.user(&app.email("ada")).await;
    let (secret, key_id) = key(&app, &admin.access, &["events:write"]).await;
    let now = chrono::Utc::now().to_rfc3339();
    let batch = json!({ "events": [
        { "userId": ada.id, "eventName": "deposit_made", "properties": { "amount": 5000 }, "eventId": "dep-1", "timestamp": now },
        { "userId": ada.id, "eventName": "deposit_made", "eventId": "dep-1" },
        { "userId": Uuid::now_v7(), "eventName": "deposit_made" },
        { "eventName": "deposit_made" },
        { "userId": ada.id, "eventName": "user_registered" },
        { "userId": "nope", "eventName": "deposit_made" },
        { "userId": ada.id, "eventName": "card_activated", "metadata": { "ip": "6.6.6.6" } },
    ]});
    let r = with_key(&app, Method::POST, "/api/events/batch", &secret, Some(batch)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((r.data()["accepted"].as_u64(), r.data()["duplicates"].as_u64()), (Some(2), Some(1)), "{}", r.body);
    let rejected: Vec<u64> =
        r.data()["rejected"].as_array().unwrap().iter().map(|x| x["index"].as_u64().unwrap()).collect();
    assert_eq!(rejected, vec![2, 3, 4, 5], "{}", r.body);
    let rows = app
        .pg()
        .await
        .query(
            "SELECT event_name, source, activity, metadata FROM events WHERE user_id = $1 ORDER BY event_name",
            &[&ada.id],
        )
        .await
        .unwrap();
    let server: Vec<(String, String, bool)> = rows
        .iter()
        .filter(|r| r.get::<_, String>("source") == "server")
        .map(|r| (r.get("event_name"), r.get("source"), r.get("activity")))
        .collect();
    assert_eq!(
        server,
        vec![("card_activated".into(), "server".into(), true), ("deposit_made".into(), "server".into(), true)]
    );
    for row in rows.iter().filter(|r| r.get::<_, String>("source") == "server") {
        let metadata: Value = row.get("metadata");
        assert!(metadata.get("ip").is_none(), "the operator's address is not the user's: {metadata}");
    }
    let last_active: Option<chrono::DateTime<chrono::Utc>> =
        app.pg().await.query_one("SELECT last_active_at FROM users WHERE id = $1", &[&ada.id]).await.unwrap().get(0);
    assert!(last_active.is_some(), "server events are the user's activity");
    let audit: (Option<Uuid>, Value) = {
        let row = app
            .pg()
            .await
            .query_one("SELECT api_key_id, after FROM audit_log WHERE entity = 'events'", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(audit.0.map(|k| k.to_string()), Some(key_id));
    assert_eq!((&audit.1["accepted"], &audit.1["rejected"]), (&json!(2), &json!(4)));
    // A signed-in user's batch is unchanged: their own events, source client.
    let r = app
        .json(Method::POST, "/api/events/batch", Some(&ada.access), json!({ "events": [{ "eventName": "tap" }] }))
        .await;
    assert_eq!(r.data()["accepted"], 1);
}

#[tokio::test]
async fn a_server_only_metric_ignores_a_clients_forged_conversion() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let definition = |key: &str, source: &str| {
        json!({
            "key": key, "name": "Deposits",
            "variants": [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}],
            "metric": {"eventName": "deposit_made", "windowHours": 168, "source": source},
        })
    };
    let mut ids = Vec::new();
    for (key, source) in [("server-deposits", "server"), ("any-deposits", "any")] {
        let r = app.json(Method::POST, "/api/experiments", Some(&admin.access), definition(key, source)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.data()["experiment"]["metric"]["source"], source);
        let id = r.data()["experiment"]["id"].as_str().unwrap().to_owned();
        let r = app
            .json(Method::PATCH, &format!("/api/experiments/{id}"), Some(&admin.access), json!({"status": "active"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        ids.push(id);
    }
    let r = app.json(Method::POST, "/api/experiments", Some(&admin.access), definition("bad-source", "client")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let ada = app.user(&app.email("ada")).await;
    for id in &ids {
        let r = app.call(Method::GET, &format!("/api/experiments/{id}/assignment"), Some(&ada.access), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let conversions = |id: String| {
        let app = &app;
        let token = admin.access.clone();
        async move {
            let r = app.call(Method::GET, &format!("/api/experiments/{id}/results"), Some(&token), None).await;
            r.data()["results"]["variants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["conversions"].as_i64().unwrap())
                .sum::<i64>()
        }
    };
    // Ada's app claims a deposit: the server-only metric does not count it.
    let forged = json!({ "eventName": "deposit_made" });
    assert_eq!(
        app.json(Method::POST, "/api/events/track", Some(&ada.access), forged).await.status,
        StatusCode::CREATED
    );
    assert_eq!(conversions(ids[0].clone()).await, 0);
    assert_eq!(conversions(ids[1].clone()).await, 1);
    // The core banking backend reports the real one.
    let (secret, _) = key(&app, &admin.access, &["events:write"]).await;
    let real = json!({ "events": [{ "userId": ada.id, "eventName": "deposit_made", "eventId": "txn-9" }] });
    assert_eq!(with_key(&app, Method::POST, "/api/events/batch", &secret, Some(real)).await.data()["accepted"], 1);
    assert_eq!(conversions(ids[0].clone()).await, 1);
}

/// `reward.available` → the operator's backend pays → marks it paid with a `rewards:write`
/// key; a retry with the same reference gets the same answer, another reference a 409.
#[tokio::test]
async fn the_payout_loop_runs_through_the_api_alone() {
    let app = TestApp::spawn_with(&[("REFERRED_REWARD_AMOUNT", "100.00")]).await;
    let admin = app.admin().await;
    let (_, grace, _, _) = app.referred_pair().await;
    app.kyc(grace, "successful").await;

    let (reader, _) = key(&app, &admin.access, &["rewards:read"]).await;
    let (payer, payer_id) = key(&app, &admin.access, &["rewards:write"]).await;
    let available = with_key(&app, Method::GET, "/api/admin/rewards?status=available", &reader, None).await;
    assert_eq!(available.status, StatusCode::OK, "{}", available.body);
    let reward = available.data()["rewards"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/admin/rewards/{reward}");
    // The reading key cannot pay; the paying key can.
    let pay = json!({ "status": "paid", "externalRef": "CBA-7781" });
    assert_eq!(with_key(&app, Method::PATCH, &path, &reader, Some(pay.clone())).await.status, StatusCode::FORBIDDEN);
    let first = with_key(&app, Method::PATCH, &path, &payer, Some(pay.clone())).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        (first.data()["status"].as_str(), first.data()["externalRef"].as_str()),
        (Some("paid"), Some("CBA-7781"))
    );
    let retry = with_key(&app, Method::PATCH, &path, &payer, Some(pay)).await;
    assert_eq!((retry.status, retry.data()), (StatusCode::OK, first.data()), "a retry gets the same answer");
    let other =
        with_key(&app, Method::PATCH, &path, &payer, Some(json!({ "status": "paid", "externalRef": "CBA-9" }))).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);
    let audit: Vec<(Option<Uuid>, Option<Uuid>, String)> = app
        .pg()
        .await
        .query("SELECT actor_id, api_key_id, action FROM audit_log WHERE entity = 'reward'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(audit, vec![(None, Some(payer_id.parse().unwrap()), "paid".to_owned())], "one write, by the key");
}
