//! Revocation that reaches access tokens within seconds. An access token carries its user's
//! token version; blocking, a role change, signing out everywhere and a password change bump
//! the version in Postgres and publish it, with the blocked flag, to Redis. Every request
//! checks its token against the published standing: one Redis GET, remembered in the process
//! for a second. Redis down, the check falls back to the token's own claims (fail open): the
//! routes that change state for an admin load the admin from Postgres instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::users::User;

/// How long a standing read from Redis is trusted in the process.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Entries remembered before the memory is cleared (a burst of distinct users).
const MAX_REMEMBERED: usize = 50_000;

/// What Redis says of a user: the lowest token version still valid, and whether they are
/// blocked. No entry means no change within an access token's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Standing {
    version: i32,
    blocked: bool,
}

impl Standing {
    fn encode(self) -> String {
        if self.blocked {
            format!("{}:blocked", self.version)
        } else {
            self.version.to_string()
        }
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(raw).ok()?;
        let (version, blocked) = match text.strip_suffix(":blocked") {
            Some(v) => (v, true),
            None => (text, false),
        };
        Some(Standing { version: version.parse().ok()?, blocked })
    }

    fn admits(self, version: i32) -> Result<()> {
        if self.blocked {
            return Err(Error::Forbidden("account is blocked"));
        }
        if version < self.version {
            return Err(Error::Unauthorized("session revoked; sign in again"));
        }
        Ok(())
    }
}

pub struct Revocations {
    cache: Cache,
    /// Longer than an access token lives: once the entry is gone, every token issued before
    /// the change has expired anyway.
    keep_for: Duration,
    remembered: Mutex<HashMap<Uuid, (Instant, Option<Standing>)>>,
}

impl Revocations {
    pub fn new(cache: Cache, access_ttl: Duration) -> Self {
        Revocations { cache, keep_for: access_ttl + Duration::from_secs(60), remembered: Mutex::default() }
    }

    fn key(&self, user: Uuid) -> String {
        self.cache.key(&format!("standing:{user}"))
    }

    fn remember(&self, user: Uuid, standing: Option<Standing>) {
        if let Ok(mut map) = self.remembered.lock() {
            if map.len() >= MAX_REMEMBERED {
                map.clear();
            }
            map.insert(user, (Instant::now(), standing));
        }
    }

    /// Publishes `user`'s standing after a change to their version or block state.
    pub async fn publish(&self, user: &User) {
        let standing = Standing { version: user.token_version, blocked: user.blocked };
        self.remember(user.id, Some(standing));
        if !self.cache.set(&self.key(user.id), standing.encode().as_bytes(), self.keep_for).await {
            tracing::warn!(user_id = %user.id, "revocation not published: Redis unavailable; admin writes still check Postgres");
        }
    }

    /// Whether an access token of `user` at `version` still stands: an error if not, and
    /// whether that is known (`false` when Redis could not say and nothing was remembered).
    pub async fn check(&self, user: Uuid, version: i32) -> Result<bool> {
        let remembered = self
            .remembered
            .lock()
            .ok()
            .and_then(|map| map.get(&user).copied())
            .filter(|(at, _)| at.elapsed() < FRESH_FOR);
        let standing = match remembered {
            Some((_, standing)) => standing,
            None => match self.cache.get_checked(&self.key(user)).await {
                Some(raw) => {
                    let standing = raw.as_deref().and_then(Standing::decode);
                    self.remember(user, standing);
                    standing
                }
                // Redis unavailable: nothing is known, and nothing is remembered.
                None => return Ok(false),
            },
        };
        standing.map_or(Ok(()), |s| s.admits(version))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standings_round_trip_and_judge_versions() {
        for s in [Standing { version: 3, blocked: false }, Standing { version: 0, blocked: true }] {
            assert_eq!(Standing::decode(s.encode().as_bytes()), Some(s));
        }
        assert_eq!(Standing::decode(b"x"), None);
        let s = Standing { version: 3, blocked: false };
        assert!(s.admits(3).is_ok() && s.admits(4).is_ok());
        assert!(matches!(s.admits(2), Err(Error::Unauthorized(_))));
        assert!(matches!(Standing { version: 3, blocked: true }.admits(9), Err(Error::Forbidden(_))));
    }
}
