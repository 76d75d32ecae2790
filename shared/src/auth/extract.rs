//! Typed extractors that handlers take as parameters: who is calling, whether they may, and
//! whether their IP is within the auth rate limit.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::token::TokenType;
use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::client_ip;
use crate::users::Role;

/// A caller holding a valid access token. Decoding needs no I/O; whether the user has since
/// been blocked is checked by the handlers that load the user, and at every refresh.
#[derive(Clone, Copy, Debug)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(Error::Unauthorized("missing bearer token"))?
            .to_str()
            .map_err(|_| Error::Unauthorized("invalid token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(Error::Unauthorized("missing bearer token"))?;
        let claims = state.tokens.verify(token.trim(), TokenType::Access)?;
        Ok(AuthUser { id: claims.sub, role: claims.role })
    }
}

/// A caller with the admin role.
#[derive(Clone, Copy, Debug)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(Error::Forbidden("admin role required"));
        }
        Ok(AdminUser(user))
    }
}

/// Counts the request against the auth rate limit of the caller's IP; rejects with 429 and
/// Retry-After once the window's budget is spent. Allows everything when Redis is down.
pub struct AuthRateLimit;

impl FromRequestParts<AppState> for AuthRateLimit {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let ip = client_ip(&parts.headers, &parts.extensions, state.config.trusted_proxy_hops);
        let limit = state
            .cache
            .over_limit(&format!("auth:{ip}"), state.config.auth_rate_limit_max, state.config.auth_rate_limit_window)
            .await;
        match limit {
            Some(retry_after_secs) => Err(Error::RateLimited { retry_after_secs }),
            None => Ok(AuthRateLimit),
        }
    }
}
