//! TLS to the data tier: with `sslmode=require` and `rediss://`, the app verifies the
//! server's certificate and talks through TLS. Each test puts a TLS-terminating proxy with a
//! certificate from its own CA in front of the local Postgres and Redis, as RDS Proxy and
//! ElastiCache put TLS in front of theirs.

use std::sync::Arc;

use growstack_tests::{test_redis_url, TestApp};
use http::StatusCode;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A CA (written to a PEM file) and a server configuration for "localhost" signed by it.
fn certificates(dir: &std::path::Path) -> (std::path::PathBuf, Arc<rustls::ServerConfig>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "GrowStack test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&leaf_key, &ca).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(leaf.der().to_vec())], key)
        .unwrap();
    (ca_file, Arc::new(config))
}

/// Accepts TLS on a local port and relays the plaintext to `upstream`. For Postgres it first
/// answers the client's SSLRequest with 'S', as a TLS-enabled server does. Counts the TLS
/// sessions it terminated.
async fn tls_proxy(
    config: Arc<rustls::ServerConfig>,
    upstream: String,
    postgres: bool,
) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sessions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = sessions.clone();
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                if postgres {
                    let mut request = [0u8; 8];
                    if client.read_exact(&mut request).await.is_err() || request != [0, 0, 0, 8, 4, 210, 22, 47] {
                        return; // not an SSLRequest: a plaintext client is refused
                    }
                    client.write_all(b"S").await.unwrap();
                }
                let Ok(mut tls) = acceptor.accept(client).await else { return };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut server = TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    (port, sessions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_redis_over_verified_tls() {
    let dir = std::env::temp_dir().join(format!("growstack-tls-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_file, server_config) = certificates(&dir);
    let pg = url::Url::parse(&growstack_tests::test_database_url()).unwrap();
    let pg_upstream = format!("{}:{}", pg.host_str().unwrap(), pg.port().unwrap_or(5432));
    let redis = url::Url::parse(&test_redis_url()).unwrap();
    let redis_upstream = format!("{}:{}", redis.host_str().unwrap(), redis.port().unwrap_or(6379));
    let (pg_port, pg_sessions) = tls_proxy(server_config.clone(), pg_upstream, true).await;
    let (redis_port, redis_sessions) = tls_proxy(server_config, redis_upstream, false).await;

    // The same database and schema as a plain app, reached through the TLS proxy.
    let plain = TestApp::spawn().await;
    let mut via_tls = url::Url::parse(&plain.vars["DATABASE_URL"]).unwrap();
    via_tls.set_host(Some("localhost")).unwrap();
    via_tls.set_port(Some(pg_port)).unwrap();
    via_tls.query_pairs_mut().append_pair("sslmode", "require");
    let ca = ca_file.to_str().unwrap();
    let redis_url = format!("rediss://localhost:{redis_port}");
    let app = TestApp::spawn_with(&[
        ("DATABASE_URL", via_tls.as_str()),
        ("DATABASE_CA_FILE", ca),
        ("REDIS_URL", &redis_url),
        ("REDIS_CA_FILE", ca),
        ("REDIS_KEY_PREFIX", plain.vars["REDIS_KEY_PREFIX"].as_str()),
    ])
    .await;
    let admin = app.admin().await;
    let first = app.list_users(&admin.access, "").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let health = app.health().await;
    assert_eq!(health.data()["checks"], serde_json::json!({ "postgres": "up", "redis": "up" }));
    assert!(pg_sessions.load(std::sync::atomic::Ordering::SeqCst) >= 1, "Postgres went through TLS");
    assert!(redis_sessions.load(std::sync::atomic::Ordering::SeqCst) >= 1, "Redis went through TLS");

    // Without our CA the same servers are not trusted: the database is unavailable, and
    // Redis (optional) is reported down.
    let untrusted = TestApp::spawn_with(&[("DATABASE_URL", via_tls.as_str()), ("REDIS_URL", &redis_url)]).await;
    let r = untrusted.health().await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"]["details"], serde_json::json!({ "postgres": "down", "redis": "down" }));
    std::fs::remove_dir_all(dir).unwrap();
}
