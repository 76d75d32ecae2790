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
use serde::Serialize;
use utoipa::ToSchema;

use crate::endpoint::{Endpoint, Tier};
use crate::openapi::{self, ErrorBody, ErrorCode, ErrorDetail, Ok};
use crate::state::AppState;
use crate::uses::Resource;

pub const HEALTH: Endpoint = Endpoint {
    function: "health",
    method: Method::GET,
    path: "/health",
    route: || get(health),
    doc: openapi::describe::<__path_health>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::DatabaseSecret, Resource::RedisSecret],
};

async fn postgres_up(state: &AppState) -> bool {
    let check = async { state.db.writer().await?.query_one("SELECT 1", &[]).await };
    matches!(tokio::time::timeout(Duration::from_secs(3), check).await, Ok(Ok(_)))
}

/// Whether a dependency answered.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = HealthCheck)]
enum Check {
    Up,
    Down,
}

impl Check {
    fn of(up: bool) -> Self {
        if up {
            Check::Up
        } else {
            Check::Down
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = HealthChecks)]
struct Checks {
    postgres: Check,
    redis: Check,
}

/// `degraded`: Redis is down, so nothing is cached and nothing rate-limited, but requests
/// are served.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum HealthStatus {
    Ok,
    Degraded,
}

/// Readiness, when Postgres answers.
#[derive(Serialize, ToSchema)]
struct Health {
    status: HealthStatus,
    checks: Checks,
}

#[utoipa::path(get, path = "/health",
    responses((status = 200, description = "Postgres answers; Redis may not (`degraded`). When Postgres does not, \
        the answer is 503 with the checks in `error.details`.", body = Ok<Health>)))]
/// Tells whether the service is ready: Postgres and Redis answer.
async fn health(State(state): State<AppState>) -> Response {
    let (postgres, redis) = tokio::join!(postgres_up(&state), state.cache.ping());
    let checks = Checks { postgres: Check::of(postgres), redis: Check::of(redis) };
    if postgres {
        let status = if redis { HealthStatus::Ok } else { HealthStatus::Degraded };
        crate::http::ok(Health { status, checks })
    } else {
        // The error envelope, with what was checked in its details.
        let error = ErrorBody {
            success: false,
            error: ErrorDetail {
                code: ErrorCode::ServiceUnavailable,
                message: "database unreachable".to_owned(),
                details: serde_json::to_value(&checks).ok(),
            },
        };
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(error)).into_response()
    }
}

#[derive(Serialize)]
struct Live {
    /// Always `live`.
    status: &'static str,
}

/// Liveness: 200 whenever the process can answer, whatever its dependencies do.
pub async fn live() -> Response {
    crate::http::ok(Live { status: "live" })
}
