//! JWTs: EdDSA (Ed25519), one key pair for access tokens and another for refresh tokens, and
//! a `typ` claim checked on decode, so neither kind is ever accepted as the other. An access
//! token carries its user's token version (`ver`), so that bumping the version revokes it; a
//! refresh token carries its session family (`fam`), stored and rotated in [`super::sessions`].
//!
//! Signing and checking need different keys, so that only what signs people in can mint a
//! token: in AWS the private keys' seed is one secret (`TOKEN_SIGNING_KEY_ID`,
//! `{"kid", "key", "previousKid"?, "previousKey"?}`) that only the issuing functions may read,
//! and every other function checks tokens against the public keys (`TOKEN_PUBLIC_KEYS_ID`,
//! `{"keys": [{"kid", "access", "refresh"}]}`, raw keys in base64url). Nobody writes the
//! public keys by hand: an issuer that reads a signing key the public document lacks writes
//! it there (the current generation and the previous one) before it signs with it. The keys
//! that sign mailed links are a third secret (`LINK_KEY_ID`), read only where links are made
//! or checked. Each is read at run time and cached (see [`crate::secrets`]).
//!
//! Locally and in the tests the keys come from the environment (`JWT_ACCESS_SECRET`,
//! `JWT_REFRESH_SECRET`): each is the seed of its key pair, and the refresh secret also signs
//! links. Tokens name their generation in the header (`kid`); the previous generation still
//! verifies, so a rotation signs nobody out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::secrets::SecretStore;
use crate::signing::{hmac_sha256, LinkSigner};
use crate::users::Role;
use crate::uses::{record, Resource};

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
    /// Absent when the session is kept in a cookie (`X-GrowStack-Session: cookie`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// A managed secret's generations: `{"kid", "key", "previousKid"?, "previousKey"?}`, the
/// shape of both the signing key and the link key.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Generations {
    kid: String,
    key: String,
    previous_kid: Option<String>,
    previous_key: Option<String>,
}

impl Generations {
    fn parse(value: &str, what: &str) -> anyhow::Result<Self> {
        let keys: Generations = serde_json::from_str(value)
            .map_err(|e| anyhow::anyhow!("the {what} secret is not {{\"kid\", \"key\", …}}: {e}"))?;
        if keys.key.len() < 32 || keys.kid.is_empty() {
            anyhow::bail!("the {what} secret's key must be at least 32 characters, with a kid");
        }
        Ok(keys)
    }

    /// The previous generation, when it is named and is not the current one.
    fn previous(&self) -> Option<(&str, &str)> {
        match (&self.previous_kid, &self.previous_key) {
            (Some(kid), Some(key)) if *kid != self.kid => Some((kid, key)),
            _ => None,
        }
    }
}

/// The public half of one generation, as the public keys' secret lists it: raw Ed25519
/// public keys in base64url.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeys {
    pub kid: String,
    pub access: String,
    pub refresh: String,
}

/// The public keys' secret.
#[derive(Serialize, Deserialize)]
struct PublicDocument {
    keys: Vec<PublicKeys>,
}

/// PKCS #8 v1 (RFC 8410) around an Ed25519 seed: the form the JWT library signs with.
fn pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] =
        [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    [&PREFIX[..], seed].concat()
}

fn public_key(seed: &[u8; 32]) -> anyhow::Result<Vec<u8>> {
    use ring::signature::KeyPair;
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
        .map_err(|_| anyhow::anyhow!("not an Ed25519 seed"))?;
    Ok(pair.public_key().as_ref().to_vec())
}

/// One generation's private keys.
struct Signer {
    kid: String,
    access: EncodingKey,
    refresh: EncodingKey,
    public: PublicKeys,
}

impl Signer {
    fn from_seeds(kid: &str, access: [u8; 32], refresh: [u8; 32]) -> anyhow::Result<Self> {
        Ok(Signer {
            kid: kid.to_owned(),
            access: EncodingKey::from_ed_der(&pkcs8(&access)),
            refresh: EncodingKey::from_ed_der(&pkcs8(&refresh)),
            public: PublicKeys {
                kid: kid.to_owned(),
                access: URL_SAFE_NO_PAD.encode(public_key(&access)?),
                refresh: URL_SAFE_NO_PAD.encode(public_key(&refresh)?),
            },
        })
    }

    /// The two key pairs of a managed secret's key: any 32 bytes are an Ed25519 seed, so
    /// each is an HMAC of the key under its own label.
    fn derive(kid: &str, key: &str) -> anyhow::Result<Self> {
        let seed = |label: &str| hmac_sha256(key.as_bytes(), &[b"growstack ed25519:", label.as_bytes()]);
        Self::from_seeds(kid, seed("access"), seed("refresh"))
    }

    fn key(&self, typ: TokenType) -> &EncodingKey {
        match typ {
            TokenType::Access => &self.access,
            TokenType::Refresh => &self.refresh,
        }
    }
}

/// What signs: the current generation, and the public half of the previous one (still
/// listed, so that what it signed keeps verifying).
pub struct SigningKeys {
    current: Signer,
    previous: Option<PublicKeys>,
}

impl SigningKeys {
    fn from_env(access: &str, refresh: &str) -> anyhow::Result<Self> {
        let seed = |secret: &str| hmac_sha256(secret.as_bytes(), &[b"growstack ed25519 seed"]);
        Ok(SigningKeys { current: Signer::from_seeds("env", seed(access), seed(refresh))?, previous: None })
    }

    /// Parses the signing key secret's value.
    pub fn parse(value: &str) -> anyhow::Result<Self> {
        let keys = Generations::parse(value, "token signing key")?;
        let previous = keys.previous().map(|(kid, key)| Signer::derive(kid, key)).transpose()?;
        Ok(SigningKeys { current: Signer::derive(&keys.kid, &keys.key)?, previous: previous.map(|p| p.public) })
    }

    /// The public keys these imply: the current generation first.
    pub fn public(&self) -> Vec<PublicKeys> {
        std::iter::once(self.current.public.clone()).chain(self.previous.clone()).collect()
    }
}

/// One generation's public keys, ready to check with.
struct Verifier {
    kid: String,
    access: DecodingKey,
    refresh: DecodingKey,
}

impl Verifier {
    fn new(keys: &PublicKeys) -> anyhow::Result<Self> {
        let key = |b64: &str| -> anyhow::Result<DecodingKey> {
            let raw = URL_SAFE_NO_PAD.decode(b64)?;
            anyhow::ensure!(raw.len() == 32, "an Ed25519 public key is 32 bytes");
            Ok(DecodingKey::from_ed_der(&raw))
        };
        Ok(Verifier { kid: keys.kid.clone(), access: key(&keys.access)?, refresh: key(&keys.refresh)? })
    }

    fn key(&self, typ: TokenType) -> &DecodingKey {
        match typ {
            TokenType::Access => &self.access,
            TokenType::Refresh => &self.refresh,
        }
    }
}

/// What checks tokens: every generation in force, the current first.
pub struct VerifyingKeys {
    generations: Vec<Verifier>,
}

impl VerifyingKeys {
    fn new(keys: &[PublicKeys]) -> anyhow::Result<Self> {
        Ok(VerifyingKeys { generations: keys.iter().map(Verifier::new).collect::<anyhow::Result<_>>()? })
    }

    /// Parses the public keys' secret.
    pub fn parse(value: &str) -> anyhow::Result<Self> {
        let document: PublicDocument = serde_json::from_str(value)
            .map_err(|e| anyhow::anyhow!("the public keys' secret is not {{\"keys\": [...]}}: {e}"))?;
        Self::new(&document.keys)
    }

    /// The generation named `kid`; a token without one (made before kids) is the current's.
    fn get(&self, kid: Option<&str>) -> Option<&Verifier> {
        match kid {
            None => self.generations.first(),
            Some(kid) => self.generations.iter().find(|v| v.kid == kid),
        }
    }
}

/// The keys of the links we mail.
pub struct LinkKeys {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
}

impl LinkKeys {
    /// Parses the link key secret's value. The label is the one links were signed with when
    /// this secret also held the token keys, so links mailed then still work.
    pub fn parse(value: &str) -> anyhow::Result<Self> {
        let keys = Generations::parse(value, "link key")?;
        let derive = |key: &str| hmac_sha256(key.as_bytes(), &[b"growstack jwt:", b"link"]).to_vec();
        Ok(LinkKeys { current: derive(&keys.key), previous: keys.previous().map(|(_, key)| derive(key)) })
    }

    /// The signer of new links for `purpose`.
    pub fn link_signer(&self, purpose: &str) -> LinkSigner {
        LinkSigner::new(&self.current, purpose)
    }

    /// Every signer a link for `purpose` may have been made with, the current first.
    pub fn link_signers(&self, purpose: &str) -> Vec<LinkSigner> {
        std::iter::once(&self.current).chain(&self.previous).map(|k| LinkSigner::new(k, purpose)).collect()
    }
}

/// Keys of one kind: fixed (from the environment) or read from Secrets Manager.
enum Source<T> {
    Fixed(Arc<T>),
    Managed {
        id: String,
        parsed: Mutex<Option<(Arc<str>, Arc<T>)>>,
    },
    /// This process was given none: a function that does not sign tokens, say.
    Absent(&'static str),
}

impl<T> Source<T> {
    fn managed(id: &str) -> Self {
        Source::Managed { id: id.to_owned(), parsed: Mutex::default() }
    }

    /// The keys in force; `fresh` reads the secret again whatever the cache holds. An
    /// unreadable secret is a 503 (nothing can be signed or checked without it).
    async fn load(&self, store: &SecretStore, fresh: bool, parse: fn(&str) -> anyhow::Result<T>) -> Result<Arc<T>> {
        let (id, parsed) = match self {
            Source::Fixed(keys) => return Ok(keys.clone()),
            Source::Absent(what) => return Err(Error::Internal(anyhow::anyhow!("this process has no {what}"))),
            Source::Managed { id, parsed } => (id, parsed),
        };
        let value = if fresh { store.get_fresh(id).await } else { store.get(id).await }.map_err(Error::Unavailable)?;
        if let Some((raw, keys)) = parsed.lock().ok().and_then(|p| p.clone()) {
            if raw == value {
                return Ok(keys);
            }
        }
        let keys = Arc::new(parse(&value).map_err(Error::Internal)?);
        if let Ok(mut p) = parsed.lock() {
            *p = Some((value, keys.clone()));
        }
        Ok(keys)
    }
}

/// Whom a token pair is for: the user, their role and token version, and the session family.
#[derive(Clone, Copy, Debug)]
pub struct Subject {
    pub user: Uuid,
    pub role: Role,
    pub version: i32,
    pub family: Uuid,
}

/// How often a process may re-read the public keys for a generation it has not seen: a
/// token from a new generation is checked within this of its first use, and forged `kid`s
/// cannot turn into a read of Secrets Manager per request.
const REREAD_EVERY: Duration = Duration::from_secs(2);

pub struct Tokens {
    store: Arc<SecretStore>,
    signing: Source<SigningKeys>,
    verifying: Source<VerifyingKeys>,
    links: Source<LinkKeys>,
    /// The public keys' secret, which an issuer keeps listing its signing keys.
    public_id: Option<String>,
    /// The signing keys this process made sure were published.
    published: Mutex<Option<Arc<SigningKeys>>>,
    reread_at: Mutex<Option<Instant>>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    validation: Validation,
    /// Access tokens this process verified in the last half minute, with the key id they
    /// were signed under: a session sends the same token with every request, and its
    /// signature check and JSON were the largest cost of a cached read after the network.
    /// Expiry, and that the key is still in force, are checked on every use.
    verified: crate::cache::Local<(Option<String>, Claims)>,
}

impl Tokens {
    /// Builds without a network call: managed keys are read on first use.
    pub fn new(config: &Config, store: Arc<SecretStore>) -> Self {
        // Only EdDSA: a token that names another algorithm (HS256 keyed with our public key,
        // `none`) is refused before any key is tried.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let (signing, verifying, links, public_id) =
            match (&config.managed_keys, &config.jwt_access_secret, &config.jwt_refresh_secret) {
                (Some(ids), _, _) => (
                    ids.signing.as_deref().map_or(Source::Absent("token signing key"), Source::managed),
                    Source::managed(&ids.public),
                    Source::managed(&ids.links),
                    Some(ids.public.clone()),
                ),
                (None, Some(access), Some(refresh)) => match SigningKeys::from_env(access.expose(), refresh.expose()) {
                    Ok(keys) => {
                        let verifying = VerifyingKeys::new(&keys.public()).map(|k| Source::Fixed(Arc::new(k)));
                        (
                            Source::Fixed(Arc::new(keys)),
                            verifying.unwrap_or(Source::Absent("token public keys")),
                            // The refresh secret has always signed the links too.
                            Source::Fixed(Arc::new(LinkKeys {
                                current: refresh.expose().as_bytes().to_vec(),
                                previous: None,
                            })),
                            None,
                        )
                    }
                    Err(_) => (
                        Source::Absent("token signing key"),
                        Source::Absent("token public keys"),
                        Source::Absent("link key"),
                        None,
                    ),
                },
                // Config refuses to build without one or the other; should it ever, nothing signs.
                (None, _, _) => (
                    Source::Absent("token signing key"),
                    Source::Absent("token public keys"),
                    Source::Absent("link key"),
                    None,
                ),
            };
        Tokens {
            store,
            signing,
            verifying,
            links,
            public_id,
            published: Mutex::default(),
            reread_at: Mutex::default(),
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
            validation,
            verified: crate::cache::Local::new(Duration::from_secs(30), 4096),
        }
    }

    /// The keys that sign, published before first use.
    async fn signing(&self) -> Result<Arc<SigningKeys>> {
        record(Resource::TokenSigningKey);
        // Whatever signs may have to list its keys: in AWS the first use of a key does.
        record(Resource::TokenPublicKeysWrite);
        let keys = self.signing.load(&self.store, false, SigningKeys::parse).await?;
        let published = self.published.lock().ok().and_then(|p| p.clone());
        if !published.is_some_and(|p| Arc::ptr_eq(&p, &keys)) {
            self.publish(&keys).await?;
            if let Ok(mut p) = self.published.lock() {
                *p = Some(keys.clone());
            }
        }
        Ok(keys)
    }

    /// Makes sure the public keys list the current signing generation. When they do not,
    /// they become exactly what the signing secret implies (its current and previous
    /// generations), so a rotation that names no previous key drops the old one at once. An
    /// issuer still holding an older secret finds its generation listed and writes nothing.
    async fn publish(&self, keys: &SigningKeys) -> Result<()> {
        let Some(id) = &self.public_id else { return Ok(()) };
        record(Resource::TokenPublicKeys);
        let listed = self.store.get_fresh(id).await.map_err(Error::Unavailable)?;
        let listed: Option<PublicDocument> = serde_json::from_str(&listed).ok();
        if listed.is_some_and(|d| d.keys.contains(&keys.current.public)) {
            return Ok(());
        }
        let document = serde_json::to_string(&PublicDocument { keys: keys.public() })
            .map_err(|e| Error::Internal(anyhow::anyhow!("public keys: {e}")))?;
        tracing::info!(kid = keys.current.kid, "publishing the token signing key's public half");
        self.store.put(id, &document).await.map_err(Error::Unavailable)
    }

    /// The keys that check tokens; `kid` a generation the caller needs, which a re-read may
    /// bring when the cached keys lack it.
    async fn verifying(&self, kid: Option<&str>) -> Result<Arc<VerifyingKeys>> {
        record(Resource::TokenPublicKeys);
        let keys = self.verifying.load(&self.store, false, VerifyingKeys::parse).await?;
        if keys.get(kid).is_some() || !matches!(self.verifying, Source::Managed { .. }) {
            return Ok(keys);
        }
        let due = match self.reread_at.lock() {
            Ok(mut at) if at.is_none_or(|t| t.elapsed() >= REREAD_EVERY) => {
                *at = Some(Instant::now());
                true
            }
            _ => false,
        };
        if !due {
            return Ok(keys);
        }
        self.verifying.load(&self.store, true, VerifyingKeys::parse).await
    }

    /// The keys of the links we mail.
    pub async fn links(&self) -> Result<Arc<LinkKeys>> {
        record(Resource::LinkKey);
        self.links.load(&self.store, false, LinkKeys::parse).await
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
        let keys = self.signing().await?;
        self.sign_with(&keys, subject, typ, issued_at)
    }

    fn sign_with(&self, keys: &SigningKeys, subject: &Subject, typ: TokenType, issued_at: i64) -> Result<String> {
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
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keys.current.kid.clone());
        encode(&header, &claims, keys.current.key(typ)).map_err(|e| Error::Internal(anyhow::anyhow!("sign token: {e}")))
    }

    /// A new access and refresh token for `subject`; the refresh token still has to be
    /// stored (see [`super::sessions`]) before it is worth anything.
    pub async fn issue(&self, subject: &Subject) -> Result<TokenPair> {
        let keys = self.signing().await?;
        let now = Utc::now().timestamp();
        Ok(TokenPair {
            access_token: self.sign_with(&keys, subject, TokenType::Access, now)?,
            refresh_token: self.sign_with(&keys, subject, TokenType::Refresh, now)?,
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
                if live && self.verifying(kid.as_deref()).await?.get(kid.as_deref()).is_some() {
                    return Ok(claims);
                }
            }
        }
        // A malformed token, or one of another algorithm, fails here, before the keys are read.
        let header = jsonwebtoken::decode_header(token).map_err(|_| INVALID)?;
        if header.alg != Algorithm::EdDSA {
            return Err(INVALID);
        }
        let keys = self.verifying(header.kid.as_deref()).await?;
        let verifier = keys.get(header.kid.as_deref()).ok_or(INVALID)?;
        let claims = decode::<Claims>(token, verifier.key(typ), &self.validation)
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
        let header = jsonwebtoken::decode_header(&pair.access_token).unwrap();
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::EdDSA, Some("env")));
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

    /// The public keys are public: a token MACed with one (HS256, the classic confusion), or
    /// with no signature at all, is refused.
    #[tokio::test]
    async fn what_the_public_keys_could_sign_is_refused() {
        let t = tokens();
        let genuine = t.issue(&subject(Role::User)).await.unwrap().access_token;
        let claims = t.verify(&genuine, TokenType::Access).await.unwrap();
        let admin = Claims { role: Role::Admin, jti: Uuid::now_v7(), ..claims };
        let Source::Fixed(signing) = &t.signing else { panic!("env keys") };
        for public in [&signing.current.public.access, &signing.current.public.refresh] {
            for secret in [public.as_bytes().to_vec(), URL_SAFE_NO_PAD.decode(public).unwrap()] {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some("env".into());
                let forged = encode(&header, &admin, &EncodingKey::from_secret(&secret)).unwrap();
                assert!(matches!(t.verify(&forged, TokenType::Access).await, Err(Error::Unauthorized(_))));
            }
        }
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&admin).unwrap());
        for alg in ["none", "EdDSA"] {
            let head = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"env"}}"#));
            assert!(t.verify(&format!("{head}.{body}."), TokenType::Access).await.is_err(), "{alg}");
        }
    }

    /// A verifier holds public keys only; what they verify only the private half signed.
    #[tokio::test]
    async fn a_verifier_without_the_signing_key_checks_tokens_and_mints_none() {
        let issuer = tokens();
        let Source::Fixed(signing) = &issuer.signing else { panic!("env keys") };
        let mut verifier = tokens();
        verifier.signing = Source::Absent("token signing key");
        verifier.verifying = Source::Fixed(Arc::new(VerifyingKeys::new(&signing.public()).unwrap()));
        let pair = issuer.issue(&subject(Role::Admin)).await.unwrap();
        assert_eq!(verifier.verify(&pair.access_token, TokenType::Access).await.unwrap().role, Role::Admin);
        assert!(matches!(verifier.issue(&subject(Role::Admin)).await, Err(Error::Internal(_))));
        // Another issuer's tokens (its own random keys) are not ours.
        let stranger = tokens().issue(&subject(Role::Admin)).await.unwrap();
        assert!(verifier.verify(&stranger.access_token, TokenType::Access).await.is_err());
    }

    #[test]
    fn a_managed_secret_yields_two_generations_with_distinct_keys() {
        let key = |c: char| c.to_string().repeat(40);
        let value = |kid: &str, k: char| format!(r#"{{"kid":"{kid}","key":"{}"}}"#, key(k));
        let keys = SigningKeys::parse(&format!(
            r#"{{"kid":"k2","key":"{}","previousKid":"k1","previousKey":"{}"}}"#,
            key('b'),
            key('a')
        ))
        .unwrap();
        let public = keys.public();
        assert_eq!(public.iter().map(|p| p.kid.as_str()).collect::<Vec<_>>(), ["k2", "k1"]);
        assert_eq!(
            public[1],
            SigningKeys::parse(&value("k1", 'a')).unwrap().public()[0],
            "k1 is the same key either way"
        );
        assert_ne!(public[0].access, public[0].refresh);
        let verifying = VerifyingKeys::new(&public).unwrap();
        assert_eq!(verifying.get(None).map(|v| v.kid.as_str()), Some("k2"));
        assert!(verifying.get(Some("k1")).is_some() && verifying.get(Some("k0")).is_none());
        assert!(SigningKeys::parse(r#"{"kid":"k","key":"short"}"#).is_err());
        assert!(SigningKeys::parse("not json").is_err());
        assert!(VerifyingKeys::parse(r#"{"keys":[{"kid":"k","access":"AAAA","refresh":"AAAA"}]}"#).is_err());
        assert!(VerifyingKeys::parse(r#"{"keys":[]}"#).unwrap().get(None).is_none());
        // Links: a key of their own, and both generations verify.
        let links = LinkKeys::parse(&format!(
            r#"{{"kid":"l2","key":"{}","previousKid":"l1","previousKey":"{}"}}"#,
            key('d'),
            key('c')
        ))
        .unwrap();
        assert_eq!(links.link_signers("any").len(), 2);
        assert_ne!(links.current, LinkKeys::parse(&value("l1", 'c')).unwrap().current);
    }
}
