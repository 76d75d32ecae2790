//! Rate limits on the auth routes: a per-IP budget for each action, and failed password
//! checks counted per account, from any IP. Both live in Redis and fail open.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::client_ip;
use crate::signing::sha256;

/// An auth action with a per-IP budget of its own.
pub trait Action {
    const NAME: &'static str;
}

macro_rules! actions {
    ($($name:ident => $text:literal),+ $(,)?) => {
        $(
            #[doc = concat!("The `", $text, "` budget.")]
            pub struct $name;
            impl Action for $name {
                const NAME: &'static str = $text;
            }
        )+
    };
}

actions!(Register => "register", Login => "login", Refresh => "refresh", VerifyEmail => "verify-email");

/// An extractor counting the request against the caller's IP budget for action `A`, before
/// anything else about the request is looked at (a malformed body counts too).
pub struct IpLimited<A>(PhantomData<A>);

impl<A: Action> FromRequestParts<AppState> for IpLimited<A> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let ip = client_ip(&parts.headers, &parts.extensions, state.config.trusted_proxy_hops);
        limit_ip(state, A::NAME, &ip).await?;
        Ok(IpLimited(PhantomData))
    }
}

/// Counts a request against the per-IP budget of one auth action (`register`, `login`,
/// `refresh`, …), apart from the others, so that one busy action behind a carrier NAT does
/// not lock out the rest.
pub async fn limit_ip(state: &AppState, action: &str, ip: &str) -> Result<()> {
    let config = &state.config;
    match state
        .cache
        .over_limit(&format!("auth:{action}:{ip}"), config.auth_rate_limit_max, config.auth_rate_limit_window)
        .await
    {
        Some(retry_after_secs) => Err(Error::RateLimited { retry_after_secs }),
        None => Ok(()),
    }
}

/// The bucket of failed password checks for an account, named by a hash of the address (no
/// addresses in Redis). Unknown addresses get buckets too, so a lockout tells nothing.
fn failures_bucket(email: &str) -> String {
    format!("login-failures:{}", hex::encode(&sha256(email.as_bytes())[..16]))
}

/// Refuses (429) an account that has had its budget of failed password checks in the
/// window, before any hashing is spent on it.
pub async fn ensure_account_not_locked(state: &AppState, email: &str) -> Result<()> {
    let config = &state.config;
    match state
        .cache
        .limit_reached(&failures_bucket(email), config.login_failures_max, config.login_failures_window)
        .await
    {
        Some(retry_after_secs) => Err(Error::RateLimited { retry_after_secs }),
        None => Ok(()),
    }
}

/// Counts one failed password check against the account.
pub async fn record_failure(state: &AppState, email: &str) {
    let config = &state.config;
    state.cache.over_limit(&failures_bucket(email), config.login_failures_max, config.login_failures_window).await;
}
