//! Typed extractors that handlers take as parameters: who is calling, and whether they may.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::token::TokenType;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::users::{self, Role, User};

/// A caller holding a valid access token that has not been revoked (see
/// [`super::revocation`]: one Redis round trip at most). When Redis cannot say, the token's
/// claims stand only for a plain user's reads; staff, and any write, are checked against
/// Postgres (blocked, token version, role) instead.
#[derive(Clone, Copy, Debug)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
    /// The token version the access token was issued at.
    pub version: i32,
}

impl AuthUser {
    /// The caller's account, from Postgres: still allowed in, and the token not revoked, even
    /// when Redis could not say so. Routes that act on the account use this.
    pub async fn load(&self, state: &AppState) -> Result<User> {
        let user =
            users::by_id(&state.db.writer().await?, self.id).await?.ok_or(Error::Unauthorized("account not found"))?;
        user.ensure_may_sign_in()?;
        if user.token_version > self.version {
            return Err(Error::Unauthorized("session revoked; sign in again"));
        }
        Ok(user)
    }
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
        let claims = state.tokens.verify(token.trim(), TokenType::Access).await?;
        let known = state.revocations.check(claims.sub, claims.ver).await?;
        let mut caller = AuthUser { id: claims.sub, role: claims.role, version: claims.ver };
        let reads = parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD;
        if !known && (!reads || caller.role != Role::User) {
            // Staff data, money and changes to anything fail closed: the database's word.
            caller.role = caller.load(state).await?.role;
        }
        Ok(caller)
    }
}

/// A caller with the admin role, for routes that only read.
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

/// A caller on the staff who read analytics (admin, analyst, marketer).
#[derive(Clone, Copy, Debug)]
pub struct AnalyticsReader(pub AuthUser);

impl FromRequestParts<AppState> for AnalyticsReader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if !user.role.reads_analytics() {
            return Err(Error::Forbidden("an admin, analyst or marketer role is required"));
        }
        Ok(AnalyticsReader(user))
    }
}

/// An admin about to change state, loaded from Postgres: the role, block state and token
/// version are the database's, never only the token's (fails closed when Redis is down).
#[derive(Clone, Debug)]
pub struct ActingAdmin(pub User);

impl FromRequestParts<AppState> for ActingAdmin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let AdminUser(caller) = AdminUser::from_request_parts(parts, state).await?;
        let admin = caller.load(state).await?;
        if admin.role != Role::Admin {
            return Err(Error::Forbidden("admin role required"));
        }
        Ok(ActingAdmin(admin))
    }
}

/// A marketer or admin about to create or run an experiment, loaded from Postgres as
/// [`ActingAdmin`] is: a demoted or blocked account cannot act on a still-valid token.
#[derive(Clone, Debug)]
pub struct ActingMarketer(pub User);

impl FromRequestParts<AppState> for ActingMarketer {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let runs = |role: Role| matches!(role, Role::Admin | Role::Marketer);
        let caller = AuthUser::from_request_parts(parts, state).await?;
        if !runs(caller.role) {
            return Err(Error::Forbidden("a marketer or admin role is required"));
        }
        let user = caller.load(state).await?;
        if !runs(user.role) {
            return Err(Error::Forbidden("a marketer or admin role is required"));
        }
        Ok(ActingMarketer(user))
    }
}
