//! The benchmark's yardstick: a bare axum handler that answers every request with one Redis
//! GET, as fast as an endpoint served from Redis can be. `scripts/bench.sh` compares the
//! cached `GET /api/users` against it.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use redis::AsyncCommands;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("PORT").unwrap_or_else(|_| "3400".into()).parse()?;
    let key = std::env::var("BASELINE_KEY").unwrap_or_else(|_| "bench:baseline".into());
    let client = redis::Client::open(std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()))?;
    let redis = redis::aio::ConnectionManager::new(client).await?;
    let app = axum::Router::new()
        .route(
            "/api/users",
            get(|State((mut redis, key)): State<(redis::aio::ConnectionManager, String)>| async move {
                let body: Vec<u8> = redis.get(&key).await.unwrap_or_default();
                ([(header::CONTENT_TYPE, "application/json")], body).into_response()
            }),
        )
        .with_state((redis, key));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
