//! `GET /health`: whether Postgres and Redis answer (readiness). Redis being down degrades
//! the service (no cache, no rate limits) but does not fail it; Postgres being down does.
//! `GET /health/live` (the server only): whether the process answers at all (liveness), for
//! the load balancer and the Auto Scaling group, so a database outage does not make them
//! replace every instance.

use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::app::{AppState, Endpoint};
use crate::uses::Resource;

pub const HEALTH: Endpoint = Endpoint {
    function: "health",
    method: Method::GET,
    path: "/health",
    route: || get(health),
    uses: &[Resource::DatabaseSecret, Resource::RedisSecret],
};

async fn postgres_up(state: &AppState) -> bool {
    let check = async { state.db.writer().await?.query_one("SELECT 1", &[]).await };
    matches!(tokio::time::timeout(Duration::from_secs(3), check).await, Ok(Ok(_)))
}

async fn health(State(state): State<AppState>) -> Response {
    let (postgres, redis) = tokio::join!(postgres_up(&state), state.cache.ping());
    let word = |up: bool| if up { "up" } else { "down" };
    let checks = json!({ "postgres": word(postgres), "redis": word(redis) });
    if postgres {
        let status = if redis { "ok" } else { "degraded" };
        crate::http::ok(json!({ "status": status, "checks": checks }))
    } else {
        let error = json!({ "code": "SERVICE_UNAVAILABLE", "message": "database unreachable", "details": checks });
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "success": false, "error": error }))).into_response()
    }
}

/// Liveness: 200 whenever the process can answer, whatever its dependencies do.
pub async fn live() -> Response {
    crate::http::ok(json!({ "status": "live" }))
}
