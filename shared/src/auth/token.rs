//! JWTs: HS256, one key for access tokens and another for refresh tokens, and a `typ`
//! claim checked on decode, so neither kind is ever accepted as the other. An access token
//! carries its user's token version (`ver`), so that bumping the version revokes it; a
//! refresh token carries its session family (`fam`), stored and rotated in [`super::sessions`].
//!
//! The keys come from the environment (`JWT_ACCESS_SECRET`, `JWT_REFRESH_SECRET`) or, in
//! AWS, from Secrets Manager (`JWT_SECRET_ID`), read at run time and cached (see
//! [`crate::secrets`]): `{"kid", "key", "previousKid"?, "previousKey"?}`. Each key yields an
//! access, a refresh and a link-signing key (HMAC with distinct labels). Tokens are signed
//! with the current key and name it in their header (`kid`); the previous key still
//! verifies, so a rotation signs nobody out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::secrets::SecretStore;
use crate::signing::{hmac_sha256, LinkSigner};
use crate::users::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// One generation of keys, named by its `kid`.
struct KeyPair {
    kid: String,
    access: (EncodingKey, DecodingKey),
    refresh: (EncodingKey, DecodingKey),
    /// Signs the links we mail (email verification, unsubscribe).
    link: Vec<u8>,
}

impl KeyPair {
    fn from_secrets(kid: &str, access: &[u8], refresh: &[u8], link: &[u8]) -> Self {
        let pair = |secret: &[u8]| (EncodingKey::from_secret(secret), DecodingKey::from_secret(secret));
        KeyPair { kid: kid.to_owned(), access: pair(access), refresh: pair(refresh), link: link.to_vec() }
    }

    /// The three keys of one managed secret value, derived with distinct labels.
    fn derive(kid: &str, key: &str) -> Self {
        let derive = |label: &str| hmac_sha256(key.as_bytes(), &[b"growstack jwt:", label.as_bytes()]);
        Self::from_secrets(kid, &derive("access"), &derive("refresh"), &derive("link"))
    }

    fn keys(&self, typ: TokenType) -> &(EncodingKey, DecodingKey) {
        match typ {
            TokenType::Access => &self.access,
            TokenType::Refresh => &self.refresh,
        }
    }
}

/// The keys in force: the current generation signs, both verify.
pub struct KeyRing {
    current: KeyPair,
    previous: Option<KeyPair>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManagedKeys {
    kid: String,
    key: String,
    previous_kid: Option<String>,
    previous_key: Option<String>,
}

impl KeyRing {
    fn from_env(access: &str, refresh: &str) -> Self {
        // The refresh secret has always signed the links too.
        KeyRing {
            current: KeyPair::from_secrets("env", access.as_bytes(), refresh.as_bytes(), refresh.as_bytes()),
            previous: None,
        }
    }

    /// Parses the managed secret's value.
    pub fn from_secret(value: &str) -> anyhow::Result<Self> {
        let keys: ManagedKeys = serde_json::from_str(value)
            .map_err(|e| anyhow::anyhow!("the JWT secret is not {{\"kid\", \"key\", …}}: {e}"))?;
        if keys.key.len() < 32 || keys.kid.is_empty() {
            anyhow::bail!("the JWT secret's key must be at least 32 characters, with a kid");
        }
        let previous = match (keys.previous_kid, keys.previous_key) {
            (Some(kid), Some(key)) if kid != keys.kid => Some(KeyPair::derive(&kid, &key)),
            _ => None,
        };
        Ok(KeyRing { current: KeyPair::derive(&keys.kid, &keys.key), previous })
    }

    /// The generation named `kid`; a token without one (made before kids) is the current's.
    fn pair(&self, kid: Option<&str>) -> Option<&KeyPair> {
        match kid {
            None => Some(&self.current),
            Some(kid) if kid == self.current.kid => Some(&self.current),
            Some(kid) => self.previous.as_ref().filter(|p| p.kid == kid),
        }
    }

    /// The signer of new links for `purpose`.
    pub fn link_signer(&self, purpose: &str) -> LinkSigner {
        LinkSigner::new(&self.current.link, purpose)
    }

    /// Every signer a link for `purpose` may have been made with, the current first.
    pub fn link_signers(&self, purpose: &str) -> Vec<LinkSigner> {
        std::iter::once(&self.current).chain(&self.previous).map(|p| LinkSigner::new(&p.link, purpose)).collect()
    }
}

/// Where the keys come from.
enum Source {
    Fixed(Arc<KeyRing>),
    Managed { store: Arc<SecretStore>, id: String, parsed: Mutex<Option<(Arc<str>, Arc<KeyRing>)>> },
    Missing,
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
    source: Source,
    access_ttl: Duration,
    refresh_ttl: Duration,
    validation: Validation,
    /// Access tokens this process verified in the last half minute, with the key id they
    /// were signed under: a session sends the same token with every request, and its HMAC
    /// and JSON were the largest cost of a cached read after the network (7 % in a
    /// profile). Expiry, and that the key is still in the ring, are checked on every use.
    verified: crate::cache::Local<(Option<String>, Claims)>,
}

impl Tokens {
    /// Builds without a network call: managed keys are read on first use.
    pub fn new(config: &Config, store: Arc<SecretStore>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let source = match (&config.jwt_secret_id, &config.jwt_access_secret, &config.jwt_refresh_secret) {
            (Some(id), _, _) => Source::Managed { store, id: id.clone(), parsed: Mutex::default() },
            (None, Some(access), Some(refresh)) => {
                Source::Fixed(Arc::new(KeyRing::from_env(access.expose(), refresh.expose())))
            }
            // Config refuses to build without one or the other; should it ever, nothing signs.
            (None, _, _) => Source::Missing,
        };
        Tokens {
            source,
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
            validation,
            verified: crate::cache::Local::new(Duration::from_secs(30), 4096),
        }
    }

    /// The keys in force. Managed keys are re-read when the store's cache expires; an
    /// unreadable secret is a 503 (nothing can be signed or checked without it).
    pub async fn keys(&self) -> Result<Arc<KeyRing>> {
        let (store, id, parsed) = match &self.source {
            Source::Fixed(ring) => return Ok(ring.clone()),
            Source::Missing => return Err(Error::Internal(anyhow::anyhow!("no JWT keys configured"))),
            Source::Managed { store, id, parsed } => (store, id, parsed),
        };
        crate::uses::record(crate::uses::Resource::JwtKeys);
        let value = store.get(id).await.map_err(Error::Unavailable)?;
        if let Some((raw, ring)) = parsed.lock().ok().and_then(|p| p.clone()) {
            if raw == value {
                return Ok(ring);
            }
        }
        let ring = Arc::new(KeyRing::from_secret(&value).map_err(Error::Internal)?);
        if let Ok(mut p) = parsed.lock() {
            *p = Some((value, ring.clone()));
        }
        Ok(ring)
    }

    fn ttl(&self, typ: TokenType) -> Duration {
        match typ {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        }
    }

    /// Signs one token of `typ` for a user, valid from `issued_at` (seconds since the epoch),
    /// with the current key.
    pub async fn sign(&self, subject: &Subject, typ: TokenType, issued_at: i64) -> Result<String> {
        let ring = self.keys().await?;
        self.sign_with(&ring, subject, typ, issued_at)
    }

    fn sign_with(&self, ring: &KeyRing, subject: &Subject, typ: TokenType, issued_at: i64) -> Result<String> {
        let claims = Claims {
            sub: subject.user,
            role: subject.role,
            typ,
            iat: issued_at,
            exp: issued_at + self.ttl(typ).as_secs() as i64,
            jti: Uuid::now_v7(),
            ver: subject.version,
            fam: (typ == TokenType::Refresh).then_some(subject.family),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(ring.current.kid.clone());
        encode(&header, &claims, &ring.current.keys(typ).0)
            .map_err(|e| Error::Internal(anyhow::anyhow!("sign token: {e}")))
    }

    /// A new access and refresh token for `subject`; the refresh token still has to be
    /// stored (see [`super::sessions`]) before it is worth anything.
    pub async fn issue(&self, subject: &Subject) -> Result<TokenPair> {
        let ring = self.keys().await?;
        let now = Utc::now().timestamp();
        Ok(TokenPair {
            access_token: self.sign_with(&ring, subject, TokenType::Access, now)?,
            refresh_token: self.sign_with(&ring, subject, TokenType::Refresh, now)?,
            token_type: "Bearer",
            expires_in: self.access_ttl.as_secs(),
        })
    }

    /// How long a refresh token lives.
    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    /// How long an access token lives.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// The claims of a valid, unexpired token of type `typ`, signed with a key in force.
    pub async fn verify(&self, token: &str, typ: TokenType) -> Result<Claims> {
        const INVALID: Error = Error::Unauthorized("invalid token");
        if typ == TokenType::Access {
            if let Some((kid, claims)) = self.verified.get(token) {
                // The same leeway as the full check: past it, the full check says "expired".
                let live = claims.exp + self.validation.leeway as i64 > Utc::now().timestamp();
                if live && self.keys().await?.pair(kid.as_deref()).is_some() {
                    return Ok(claims);
                }
            }
        }
        // A malformed token fails here, before the keys are read.
        let header = jsonwebtoken::decode_header(token).map_err(|_| INVALID)?;
        let ring = self.keys().await?;
        let pair = ring.pair(header.kid.as_deref()).ok_or(INVALID)?;
        let claims = decode::<Claims>(token, &pair.keys(typ).1, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Error::Unauthorized("token expired"),
                _ => INVALID,
            })?
            .claims;
        if claims.typ != typ {
            return Err(INVALID);
        }
        if typ == TokenType::Access {
            self.verified.put(token, (header.kid, claims.clone()));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Arc<SecretStore> {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .build();
        Arc::new(SecretStore::new(aws_sdk_secretsmanager::Client::from_conf(config), Duration::from_secs(60)))
    }

    fn tokens() -> Tokens {
        Tokens::new(&Config::from_lookup(|k| (k == "GROWSTACK_ENV").then(|| "local".to_owned())).unwrap(), store())
    }

    fn subject(role: Role) -> Subject {
        Subject { user: Uuid::now_v7(), role, version: 3, family: Uuid::now_v7() }
    }

    #[tokio::test]
    async fn access_tokens_carry_the_version_and_refresh_tokens_the_family() {
        let t = tokens();
        let s = subject(Role::User);
        let pair = t.issue(&s).await.unwrap();
        let access = t.verify(&pair.access_token, TokenType::Access).await.unwrap();
        assert_eq!((access.sub, access.ver, access.fam), (s.user, 3, None));
        assert_eq!(t.verify(&pair.refresh_token, TokenType::Refresh).await.unwrap().fam, Some(s.family));
        assert_eq!(jsonwebtoken::decode_header(&pair.access_token).unwrap().kid.as_deref(), Some("env"));
    }

    #[tokio::test]
    async fn access_and_refresh_are_not_interchangeable() {
        let t = tokens();
        let pair = t.issue(&subject(Role::User)).await.unwrap();
        assert!(t.verify(&pair.access_token, TokenType::Access).await.is_ok());
        assert!(t.verify(&pair.refresh_token, TokenType::Refresh).await.is_ok());
        assert!(t.verify(&pair.refresh_token, TokenType::Access).await.is_err());
        assert!(t.verify(&pair.access_token, TokenType::Refresh).await.is_err());
    }

    #[tokio::test]
    async fn expired_and_tampered_tokens_fail() {
        let t = tokens();
        let old = t.sign(&subject(Role::User), TokenType::Access, Utc::now().timestamp() - 7200).await.unwrap();
        assert!(matches!(t.verify(&old, TokenType::Access).await, Err(Error::Unauthorized("token expired"))));
        let mut good = t.issue(&subject(Role::Admin)).await.unwrap().access_token;
        good.push('x');
        assert!(t.verify(&good, TokenType::Access).await.is_err());
    }

    #[test]
    fn a_managed_secret_yields_two_generations_with_distinct_keys() {
        let key = |c: char| c.to_string().repeat(40);
        let ring = KeyRing::from_secret(&format!(
            r#"{{"kid":"k2","key":"{}","previousKid":"k1","previousKey":"{}"}}"#,
            key('b'),
            key('a')
        ))
        .unwrap();
        assert_eq!(ring.pair(Some("k2")).map(|p| p.kid.as_str()), Some("k2"));
        assert_eq!(ring.pair(Some("k1")).map(|p| p.kid.as_str()), Some("k1"));
        assert!(ring.pair(Some("k0")).is_none());
        assert_eq!(ring.link_signers("any").len(), 2);
        assert_ne!(
            ring.current.link,
            KeyRing::from_secret(&format!(r#"{{"kid":"k1","key":"{}"}}"#, key('a'))).unwrap().current.link
        );
        assert!(KeyRing::from_secret(r#"{"kid":"k","key":"short"}"#).is_err());
        assert!(KeyRing::from_secret("not json").is_err());
    }
}
