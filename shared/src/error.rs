//! The one error type. Its `IntoResponse` is the only place a status code is chosen for a
//! failure; internal details are logged there and never sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Validation { message: String, details: Option<Value> },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    /// It was here and is no longer (an expired link).
    #[error("{0}")]
    Gone(&'static str),
    /// A conflict whose message and details depend on the state found.
    #[error("{message}")]
    ConflictDetail { message: String, details: Value },
    #[error("too many requests, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A dependency we cannot do without (Postgres) is unreachable or timed out.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// `{"success": false, "error": {…}}`: every failure answer, whatever its status.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For a person to read; may change between releases.
    pub message: String,
    /// `{"field": "email"}` for a validation error about one field; what a conflict found.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub details: Option<serde_json::Value>,
}

/// For a program to branch on: stable.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Gone,
    RateLimited,
    ServiceUnavailable,
    InternalError,
}

impl Error {
    pub fn validation(message: impl Into<String>) -> Self {
        Error::Validation { message: message.into(), details: None }
    }

    /// A validation error about one named field of the request.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Error::Validation { message: message.into(), details: Some(json!({ "field": field })) }
    }

    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            Error::Validation { .. } => (StatusCode::BAD_REQUEST, ErrorCode::ValidationError),
            Error::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::ValidationError),
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            Error::Conflict(_) | Error::ConflictDetail { .. } => (StatusCode::CONFLICT, ErrorCode::Conflict),
            Error::Gone(_) => (StatusCode::GONE, ErrorCode::Gone),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ServiceUnavailable),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            Error::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            Error::Unavailable(e) => {
                tracing::warn!(error = format!("{e:#}"), "dependency unavailable")
            }
            _ => {}
        }
        let details = match &self {
            Error::Validation { details: Some(details), .. } | Error::ConflictDetail { details, .. } => {
                Some(details.clone())
            }
            _ => None,
        };
        let body = ErrorBody { success: false, error: ErrorDetail { code, message: self.to_string(), details } };
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            Error::RateLimited { retry_after_secs } => Some(retry_after_secs.to_string()),
            Error::Unavailable(_) => Some("1".to_owned()),
            _ => None,
        };
        if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Waiting for or opening a connection failed: the database is unreachable or saturated.
impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Error::Unavailable(anyhow::Error::new(e).context("postgres pool"))
    }
}

/// Whether the statement failed because the database went away under it, not because of
/// the statement: the connection broke or closed, the server is shutting down or starting
/// (an administrator, a crash, an Aurora failover or an RDS Proxy restart: 57P01–57P03), a
/// connection exception (class 08), too many connections, or a writer that became a reader
/// mid-failover. The client may retry these; they are never the API's bug.
pub fn is_connection_lost(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    let Some(db) = e.as_db_error() else { return true };
    let code = db.code();
    code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ]
        .contains(code)
}

/// Whether the statement lost a deadlock or a serialization check, and ran to no effect.
pub fn is_conflict(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// A statement failed. When the database went away under it that is a 503 the client may
/// retry; any other error the server reported is a bug (constraint violations that the
/// caller expects are mapped where they happen).
impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_connection_lost(&e) || e.is_closed() {
            Error::Unavailable(anyhow::Error::new(e).context("postgres connection"))
        } else {
            Error::Internal(anyhow::Error::new(e).context("postgres statement"))
        }
    }
}

/// The constraint a unique violation broke, if `e` is one.
pub fn unique_violation(e: &tokio_postgres::Error) -> Option<&str> {
    let db = e.as_db_error()?;
    (db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION).then(|| db.constraint().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: Error) -> (StatusCode, Value, Option<String>) {
        let r = e.into_response();
        let status = r.status();
        let retry = r.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), retry)
    }

    #[tokio::test]
    async fn internal_details_never_reach_the_client() {
        let (status, v, _) = body(Error::Internal(anyhow::anyhow!("password=hunter2 at db.internal"))).await;
        assert_eq!(status, 500);
        assert_eq!(v["success"], false);
        assert_eq!(v["error"]["code"], "INTERNAL_ERROR");
        assert!(!v.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn rate_limit_sets_retry_after() {
        let (status, v, retry) = body(Error::RateLimited { retry_after_secs: 42 }).await;
        assert_eq!(status, 429);
        assert_eq!(v["error"]["code"], "RATE_LIMITED");
        assert_eq!(retry.as_deref(), Some("42"));
    }

    #[tokio::test]
    async fn validation_carries_details() {
        let (status, v, _) = body(Error::invalid_field("email", "email is not valid")).await;
        assert_eq!(status, 400);
        assert_eq!(v["error"]["details"]["field"], "email");
        assert_eq!(v["error"]["message"], "email is not valid");
    }
}
