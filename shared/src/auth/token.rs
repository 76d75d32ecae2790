//! JWTs: HS256, one secret for access tokens and another for refresh tokens, and a `typ`
//! claim checked on decode, so neither kind is ever accepted as the other. An access token
//! carries its user's token version (`ver`), so that bumping the version revokes it; a
//! refresh token carries its session family (`fam`), stored and rotated in [`super::sessions`].

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::users::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub typ: TokenType,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The user's token version when it was issued (access tokens).
    #[serde(default)]
    pub ver: i32,
    /// The session family (refresh tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<Uuid>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

/// Whom a token pair is for: the user, their role and token version, and the session family.
#[derive(Clone, Copy, Debug)]
pub struct Subject {
    pub user: Uuid,
    pub role: Role,
    pub version: i32,
    pub family: Uuid,
}

pub struct Tokens {
    access: Keys,
    refresh: Keys,
    validation: Validation,
}

impl Tokens {
    pub fn new(config: &Config) -> Self {
        let keys = |secret: &str, ttl| Keys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            ttl,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Tokens {
            access: keys(config.jwt_access_secret.expose(), config.access_token_ttl),
            refresh: keys(config.jwt_refresh_secret.expose(), config.refresh_token_ttl),
            validation,
        }
    }

    fn keys(&self, typ: TokenType) -> &Keys {
        match typ {
            TokenType::Access => &self.access,
            TokenType::Refresh => &self.refresh,
        }
    }

    /// Signs one token of `typ` for a user, valid from `issued_at` (seconds since the epoch).
    pub fn sign(&self, subject: &Subject, typ: TokenType, issued_at: i64) -> Result<String> {
        let keys = self.keys(typ);
        let claims = Claims {
            sub: subject.user,
            role: subject.role,
            typ,
            iat: issued_at,
            exp: issued_at + keys.ttl.as_secs() as i64,
            jti: Uuid::now_v7(),
            ver: subject.version,
            fam: (typ == TokenType::Refresh).then_some(subject.family),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
            .map_err(|e| Error::Internal(anyhow::anyhow!("sign token: {e}")))
    }

    /// A new access and refresh token for `subject`; the refresh token still has to be
    /// stored (see [`super::sessions`]) before it is worth anything.
    pub fn issue(&self, subject: &Subject) -> Result<TokenPair> {
        let now = Utc::now().timestamp();
        Ok(TokenPair {
            access_token: self.sign(subject, TokenType::Access, now)?,
            refresh_token: self.sign(subject, TokenType::Refresh, now)?,
            token_type: "Bearer",
            expires_in: self.access.ttl.as_secs(),
        })
    }

    /// How long a refresh token lives.
    pub fn refresh_ttl(&self) -> Duration {
        self.refresh.ttl
    }

    /// How long an access token lives.
    pub fn access_ttl(&self) -> Duration {
        self.access.ttl
    }

    /// The claims of a valid, unexpired token of type `typ`.
    pub fn verify(&self, token: &str, typ: TokenType) -> Result<Claims> {
        let claims = decode::<Claims>(token, &self.keys(typ).decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Error::Unauthorized("token expired"),
                _ => Error::Unauthorized("invalid token"),
            })?
            .claims;
        if claims.typ != typ {
            return Err(Error::Unauthorized("invalid token"));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&Config::from_lookup(|k| (k == "GROWSTACK_ENV").then(|| "local".to_owned())).unwrap())
    }

    fn subject(role: Role) -> Subject {
        Subject { user: Uuid::now_v7(), role, version: 3, family: Uuid::now_v7() }
    }

    #[test]
    fn access_tokens_carry_the_version_and_refresh_tokens_the_family() {
        let t = tokens();
        let s = subject(Role::User);
        let pair = t.issue(&s).unwrap();
        let access = t.verify(&pair.access_token, TokenType::Access).unwrap();
        assert_eq!((access.sub, access.ver, access.fam), (s.user, 3, None));
        assert_eq!(t.verify(&pair.refresh_token, TokenType::Refresh).unwrap().fam, Some(s.family));
    }

    #[test]
    fn access_and_refresh_are_not_interchangeable() {
        let t = tokens();
        let pair = t.issue(&subject(Role::User)).unwrap();
        assert!(t.verify(&pair.access_token, TokenType::Access).is_ok());
        assert!(t.verify(&pair.refresh_token, TokenType::Refresh).is_ok());
        assert!(t.verify(&pair.refresh_token, TokenType::Access).is_err());
        assert!(t.verify(&pair.access_token, TokenType::Refresh).is_err());
    }

    #[test]
    fn expired_and_tampered_tokens_fail() {
        let t = tokens();
        let old = t.sign(&subject(Role::User), TokenType::Access, Utc::now().timestamp() - 7200).unwrap();
        assert!(matches!(t.verify(&old, TokenType::Access), Err(Error::Unauthorized("token expired"))));
        let mut good = t.issue(&subject(Role::Admin)).unwrap().access_token;
        good.push('x');
        assert!(t.verify(&good, TokenType::Access).is_err());
    }
}
