//! HMAC-SHA256, for what we hand out and must recognise later without a lookup: the links
//! we mail (email verification, unsubscribe) carry a signed payload, and the KYC provider's
//! callbacks are checked against the secret we share with it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Whether `signature` is the HMAC of `parts` under `key`, compared in constant time.
pub fn verify_hmac_sha256(key: &[u8], parts: &[&[u8]], signature: &[u8]) -> bool {
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else { return false };
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(signature).is_ok()
}

/// Whether two secrets' hashes are equal, compared in constant time (no early exit an
/// attacker could time).
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// `N` random bytes as URL-safe base64 without padding: the random part of the secrets we
/// hand out (API keys, webhook signing secrets, a first admin's password).
pub fn random_text<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; N]>())
}

/// SHA-256 of `data`: how secrets we must recognise (refresh tokens) are stored.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

#[derive(Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Not ours, altered, or made for another purpose.
    Invalid,
    Expired,
}

/// Signs and checks the tokens in the links we mail: `<payload>.<signature>`, both
/// base64url, the payload JSON with an expiry. Each purpose signs with a key of its own,
/// derived from one secret, so a token made for one purpose is worthless for another.
#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct Signed<T> {
    exp: i64,
    #[serde(rename = "d")]
    data: T,
}

impl LinkSigner {
    pub fn new(secret: &[u8], purpose: &str) -> Self {
        LinkSigner { key: hmac_sha256(secret, &[b"growstack link:", purpose.as_bytes()]) }
    }

    /// A token for `data`, valid for `ttl_secs`.
    pub fn sign<T: Serialize>(&self, data: &T, ttl_secs: i64) -> String {
        let payload = serde_json::to_vec(&Signed { exp: Utc::now().timestamp() + ttl_secs, data }).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(&self.key, &[payload.as_bytes()]));
        format!("{payload}.{signature}")
    }

    /// The data of a token this signer made, if it is unaltered and unexpired.
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<T, LinkError> {
        let (payload, signature) = token.trim().split_once('.').ok_or(LinkError::Invalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| LinkError::Invalid)?;
        if !verify_hmac_sha256(&self.key, &[payload.as_bytes()], &signature) {
            return Err(LinkError::Invalid);
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| LinkError::Invalid)?;
        let signed: Signed<T> = serde_json::from_slice(&json).map_err(|_| LinkError::Invalid)?;
        if signed.exp < Utc::now().timestamp() {
            return Err(LinkError::Expired);
        }
        Ok(signed.data)
    }
}

/// Checks `token` against every signer in `signers` (the current key's first): the data of
/// the first that made it, else why none did.
pub fn verify_any<T: DeserializeOwned>(signers: &[LinkSigner], token: &str) -> Result<T, LinkError> {
    let mut error = LinkError::Invalid;
    for signer in signers {
        match signer.verify(token) {
            Ok(data) => return Ok(data),
            Err(LinkError::Expired) => error = LinkError::Expired,
            Err(LinkError::Invalid) => {}
        }
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(verify_hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"], &mac));
        assert!(!verify_hmac_sha256(b"Jefe", &[b"what do ya want for nothing!"], &mac));
    }

    #[test]
    fn links_round_trip_and_refuse_tampering_expiry_and_other_purposes() {
        let signer = LinkSigner::new(b"secret", "verify-email");
        let token = signer.sign(&("user", 7), 60);
        assert_eq!(signer.verify::<(String, i32)>(&token).unwrap(), ("user".to_owned(), 7));

        let (payload, signature) = token.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"exp":9999999999,"d":["admin",7]}"#);
        assert_eq!(signer.verify::<(String, i32)>(&format!("{forged}.{signature}")), Err(LinkError::Invalid));
        assert_eq!(signer.verify::<(String, i32)>(payload), Err(LinkError::Invalid));
        assert_eq!(LinkSigner::new(b"secret", "unsubscribe").verify::<(String, i32)>(&token), Err(LinkError::Invalid));
        assert_eq!(LinkSigner::new(b"other", "verify-email").verify::<(String, i32)>(&token), Err(LinkError::Invalid));

        let expired = signer.sign(&("user", 7), -1);
        assert_eq!(signer.verify::<(String, i32)>(&expired), Err(LinkError::Expired));
    }
}
