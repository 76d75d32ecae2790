//! The one error type. Its `IntoResponse` is the only place a status code is chosen for a
//! failure; internal details are logged there and never sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
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

impl Error {
    pub fn validation(message: impl Into<String>) -> Self {
        Error::Validation { message: message.into(), details: None }
    }

    /// A validation error about one named field of the request.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Error::Validation { message: message.into(), details: Some(json!({ "field": field })) }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Validation { .. } => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            Error::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "VALIDATION_ERROR"),
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Error::Conflict(_) | Error::ConflictDetail { .. } => (StatusCode::CONFLICT, "CONFLICT"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
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
        let mut error = json!({ "code": code, "message": self.to_string() });
        match &self {
            Error::Validation { details: Some(details), .. } | Error::ConflictDetail { details, .. } => {
                error["details"] = details.clone();
            }
            _ => {}
        }
        let mut response = (status, axum::Json(json!({ "success": false, "error": error }))).into_response();
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
