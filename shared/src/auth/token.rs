//! JWTs: HS256, one secret for access tokens and another for refresh tokens, and a `typ`
//! claim checked on decode, so neither kind is ever accepted as the other.

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
    pub fn sign(&self, user: Uuid, role: Role, typ: TokenType, issued_at: i64) -> Result<String> {
        let keys = self.keys(typ);
        let claims = Claims {
            sub: user,
            role,
            typ,
            iat: issued_at,
            exp: issued_at + keys.ttl.as_secs() as i64,
            jti: Uuid::now_v7(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
            .map_err(|e| Error::Internal(anyhow::anyhow!("sign token: {e}")))
    }

    pub fn issue(&self, user: Uuid, role: Role) -> Result<TokenPair> {
        let now = Utc::now().timestamp();
        Ok(TokenPair {
            access_token: self.sign(user, role, TokenType::Access, now)?,
            refresh_token: self.sign(user, role, TokenType::Refresh, now)?,
            token_type: "Bearer",
            expires_in: self.access.ttl.as_secs(),
        })
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
        Tokens::new(&Config::from_lookup(|_| None).unwrap())
    }

    #[test]
    fn access_and_refresh_are_not_interchangeable() {
        let t = tokens();
        let pair = t.issue(Uuid::now_v7(), Role::User).unwrap();
        assert!(t.verify(&pair.access_token, TokenType::Access).is_ok());
        assert!(t.verify(&pair.refresh_token, TokenType::Refresh).is_ok());
        assert!(t.verify(&pair.refresh_token, TokenType::Access).is_err());
        assert!(t.verify(&pair.access_token, TokenType::Refresh).is_err());
    }

    #[test]
    fn expired_and_tampered_tokens_fail() {
        let t = tokens();
        let old = t.sign(Uuid::now_v7(), Role::User, TokenType::Access, Utc::now().timestamp() - 7200).unwrap();
        assert!(matches!(t.verify(&old, TokenType::Access), Err(Error::Unauthorized("token expired"))));
        let mut good = t.issue(Uuid::now_v7(), Role::Admin).unwrap().access_token;
        good.push('x');
        assert!(t.verify(&good, TokenType::Access).is_err());
    }
}
