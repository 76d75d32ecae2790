//! The gate every route runs (`endpoint::CheckUses`) before its handler: a request carrying
//! an API key passes only where the route's declaration names a scope the key holds.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use uuid::Uuid;

use super::repo::{self, Scope};
use crate::error::{Error, Result};
use crate::state::AppState;

/// A key's secret as handed out: `gs_` and 43 URL-safe base64 characters (32 random bytes).
pub struct Secret(String);

impl Secret {
    const MARK: &'static str = "gs_";
    const RANDOM_CHARS: usize = 43;
    /// `gs_` and the first 8 random characters.
    const PREFIX_CHARS: usize = 11;

    pub fn generate() -> Self {
        Secret(format!("{}{}", Self::MARK, crate::signing::random_text::<32>()))
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let random = raw.strip_prefix(Self::MARK)?;
        let shaped = random.len() == Self::RANDOM_CHARS
            && random.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| Secret(raw.to_owned()))
    }

    /// What lists show and the lookup uses.
    pub fn prefix(&self) -> &str {
        &self.0[..Self::PREFIX_CHARS]
    }

    /// What is stored: a 256-bit random secret needs no slow hash.
    pub fn hash(&self) -> Vec<u8> {
        crate::signing::sha256(self.0.as_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The key a request presents as its bearer credential: `Authorization: Bearer gs_…`.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    let header = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let credential = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer "))?.trim();
    credential.starts_with(Secret::MARK).then_some(credential)
}

/// An API key the gate let through on the route it called: found, not revoked, holding the
/// route's scope, within its rate.
#[derive(Clone, Debug)]
pub struct KeyCaller {
    pub id: Uuid,
    pub name: String,
}

/// Checks the key a request presents against the route's scope (`None`: the route takes no
/// keys). Every refusal comes before the handler runs.
pub async fn authenticate(state: &AppState, key: &str, scope: Option<Scope>) -> Result<KeyCaller> {
    let Some(scope) = scope else {
        return Err(Error::Forbidden("API keys are not accepted on this route; it needs a signed-in user"));
    };
    const INVALID: Error = Error::Unauthorized("invalid API key");
    let secret = Secret::parse(key).ok_or(INVALID)?;
    let conn = state.db.writer().await?;
    let found = repo::by_prefix(&conn, secret.prefix()).await?.ok_or(INVALID)?;
    if !crate::signing::same_secret(&found.secret_hash, &secret.hash()) {
        return Err(INVALID);
    }
    if found.revoked {
        return Err(Error::Unauthorized("API key revoked"));
    }
    if !found.scopes.iter().any(|s| s == scope.as_str()) {
        return Err(Error::Forbidden("the API key does not hold the scope this route needs"));
    }
    let per_minute = state.config.api_key_requests_per_minute;
    let bucket = format!("apikey:{}", found.id);
    if let Some(retry_after_secs) = state.cache.take(&bucket, 1, per_minute, Duration::from_secs(60)).await {
        return Err(Error::RateLimited { retry_after_secs });
    }
    if found.stale_use {
        repo::touch(&conn, found.id).await?;
    }
    Ok(KeyCaller { id: found.id, name: found.name })
}

/// A caller that is either `T` (a user, checked by `T`'s own extractor) or an API key that
/// the gate let through on this route: handlers of routes that take keys ask for this.
#[derive(Debug)]
pub enum OrKey<T> {
    User(T),
    Key(KeyCaller),
}

impl<T> FromRequestParts<AppState> for OrKey<T>
where
    T: FromRequestParts<AppState, Rejection = Error> + Send,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        // Only the gate puts a key caller in a request's extensions.
        if let Some(key) = parts.extensions.get::<KeyCaller>() {
            return Ok(OrKey::Key(key.clone()));
        }
        Ok(OrKey::User(T::from_request_parts(parts, state).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_one_shape() {
        let secret = Secret::generate();
        assert_eq!(secret.expose().len(), 46);
        assert!(secret.prefix().starts_with("gs_") && secret.prefix().len() == 11);
        assert!(Secret::parse(secret.expose()).is_some());
        for bad in ["", "gs_", "gs_short", &format!("gs_{}", "a".repeat(44)), &format!("gx_{}", "a".repeat(43))] {
            assert!(Secret::parse(bad).is_none(), "{bad}");
        }
        assert!(Secret::parse(&format!("gs_{}!", "a".repeat(42))).is_none());
        assert_ne!(Secret::generate().expose(), secret.expose());
    }

    #[test]
    fn only_a_gs_bearer_is_a_key() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented(&headers), None);
        headers.insert(AUTHORIZATION, "Bearer eyJhbGciOi.x.y".parse().unwrap());
        assert_eq!(presented(&headers), None);
        headers.insert(AUTHORIZATION, "Bearer gs_abc".parse().unwrap());
        assert_eq!(presented(&headers), Some("gs_abc"));
        headers.insert(AUTHORIZATION, "Basic gs_abc".parse().unwrap());
        assert_eq!(presented(&headers), None);
    }
}
