//! Passwords: parsed for length, hashed with Argon2id off the async runtime, and never more
//! hashes at once than the process has cores for.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::{Error, Result};

/// A plaintext password that meets the length rules. Never printed.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// Bounds the hashing work one request can ask for.
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String) -> Result<Self> {
        Self::parse_field("password", raw)
    }

    /// As [`Password::parse`], naming `field` in the error.
    pub fn parse_field(field: &str, raw: String) -> Result<Self> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Error::invalid_field(field, format!("{field} must be at least 8 characters")));
        }
        if chars > Self::MAX_CHARS {
            return Err(Error::invalid_field(field, format!("{field} must be at most 128 characters")));
        }
        Ok(Password(raw))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Hashes and checks passwords under a budget. An Argon2id hash takes 12 MiB and a core for
/// tens of milliseconds; a flood of logins handed straight to the blocking pool grew a
/// server to gigabytes. Here at most `concurrency` hashes run at once, and a request that
/// cannot get a slot within `wait` is answered 503 with Retry-After.
#[derive(Clone)]
pub struct Hasher {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl Hasher {
    pub fn new(config: &Config) -> Self {
        Hasher { slots: Arc::new(Semaphore::new(config.password_hash_concurrency)), wait: config.password_hash_wait }
    }

    /// One hash at a time: a command or a one-off invocation, not a server.
    pub fn one_at_a_time() -> Self {
        Hasher { slots: Arc::new(Semaphore::new(1)), wait: Duration::from_secs(30) }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let slot = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Error::Unavailable(anyhow::anyhow!("no password hashing slot within {:?}", self.wait)))?
            .context("hashing slots closed")?;
        let result = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(slot);
            result
        })
        .await
        .context("hashing task")?;
        Ok(result)
    }

    /// An Argon2id PHC string (salt and parameters included).
    pub async fn hash(&self, password: Password) -> Result<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.0.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hash password: {e}"))
        })
        .await?
        .map_err(Error::Internal)
    }

    /// Checks `candidate` against a stored hash. With no stored hash (unknown user) it
    /// checks against a dummy, so that "no such user" and "wrong password" take the same time.
    pub async fn verify(&self, candidate: String, stored: Option<String>) -> Result<bool> {
        self.run(move || {
            let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
            let Ok(parsed) = PasswordHash::new(stored) else {
                return false;
            };
            argon2().verify_password(candidate.as_bytes(), &parsed).is_ok()
        })
        .await
    }
}

/// OWASP's Argon2id setting of 12 MiB and three passes: as strong as the crate's default of
/// 19 MiB and two for the same CPU, and 7 MiB less for a function to hold while it hashes
/// (a sign-up's Lambda stays under 32 MiB). A stored hash verifies with the settings it carries.
const PARAMS: Params = match Params::new(12 * 1024, 3, 1, None) {
    Ok(params) => params,
    Err(_) => panic!("Argon2 parameters out of range"),
};

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// Whether `stored` was made with today's settings; a hash from before (or from another
/// scheme) is replaced at the next sign-in that proves the password.
pub fn is_current(stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        hash.algorithm == Algorithm::Argon2id.ident()
            && hash.version == Some(Version::V0x13.into())
            && Params::try_from(&hash).is_ok_and(|p| {
                (p.m_cost(), p.t_cost(), p.p_cost()) == (PARAMS.m_cost(), PARAMS.t_cost(), PARAMS.p_cost())
            })
    })
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(b"not-a-real-password", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(concurrency: usize, wait_ms: u64) -> Hasher {
        Hasher { slots: Arc::new(Semaphore::new(concurrency)), wait: Duration::from_millis(wait_ms) }
    }

    #[test]
    fn length_rules() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("x".repeat(129)).is_err());
        assert!(Password::parse("éééééééé".into()).is_ok());
        assert_eq!(format!("{:?}", Password::parse("secret-password".into()).unwrap()), "Password(..)");
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = hasher(2, 2000);
        let hash = hasher.hash(Password::parse("correct-horse".into()).unwrap()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{hash}");
        assert!(hasher.verify("correct-horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify("wrong-horse".into(), Some(hash)).await.unwrap());
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_made_with_the_earlier_settings_still_verify() {
        let salt = SaltString::generate(&mut OsRng);
        let old = Argon2::default().hash_password(b"correct-horse", &salt).unwrap().to_string();
        assert!(old.contains("m=19456,t=2,p=1"), "{old}");
        let hasher = hasher(1, 2000);
        assert!(hasher.verify("correct-horse".into(), Some(old.clone())).await.unwrap());
        assert!(!hasher.verify("wrong-horse".into(), Some(old.clone())).await.unwrap());
        assert!(!is_current(&old));
        let new = hasher.hash(Password::parse("correct-horse".into()).unwrap()).await.unwrap();
        assert!(is_current(&new));
        assert!(!is_current("not a hash"));
    }

    #[tokio::test]
    async fn a_request_that_cannot_get_a_slot_in_time_is_unavailable() {
        let hasher = hasher(1, 0);
        let _held = hasher.slots.clone().acquire_owned().await.unwrap();
        let e = hasher.verify("anything".into(), None).await.unwrap_err();
        assert!(matches!(e, Error::Unavailable(_)), "{e:?}");
    }
}
