//! Passwords: parsed for length, hashed with Argon2id off the async runtime.

use std::fmt;
use std::sync::OnceLock;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::{Error, Result};

/// A plaintext password that meets the length rules. Never printed.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// Bounds the hashing work one request can ask for.
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String) -> Result<Self> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Error::invalid_field("password", "password must be at least 8 characters"));
        }
        if chars > Self::MAX_CHARS {
            return Err(Error::invalid_field("password", "password must be at most 128 characters"));
        }
        Ok(Password(raw))
    }

    /// An Argon2id PHC string (salt and parameters included).
    pub async fn hash(self) -> Result<String> {
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(self.0.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hash password: {e}"))
        })
        .await
        .context("hashing task")?
        .map_err(Error::Internal)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Checks `candidate` against a stored hash. With no stored hash (unknown user) it checks
/// against a dummy, so that "no such user" and "wrong password" take the same time.
pub async fn verify(candidate: String, stored: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok()
    })
    .await
    .context("verification task")
    .map_err(Error::Internal)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(b"not-a-real-password", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("x".repeat(129)).is_err());
        assert!(Password::parse("éééééééé".into()).is_ok());
        assert_eq!(format!("{:?}", Password::parse("secret-password".into()).unwrap()), "Password(..)");
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hash = Password::parse("correct-horse".into()).unwrap().hash().await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify("correct-horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify("wrong-horse".into(), Some(hash)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
