//! The KYC provider's callback signature: `X-GrowStack-Signature: t=<unix seconds>,v1=<hex>`,
//! where v1 is HMAC-SHA256 over `<t>.<raw body>` with the shared secret. Several `v1` values
//! may be given (the provider signs with the old and the new secret while one rotates).

use crate::signing::verify_hmac_sha256;

/// How far the signed time may be from ours, either way, before the callback is stale.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    Malformed,
    Stale,
    BadSignature,
}

/// Checks `header` for `body` at `now` (seconds since the epoch).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), Rejected> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|_| Rejected::Malformed)?),
            Some(("v1", v)) => signatures.push(hex::decode(v).map_err(|_| Rejected::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Rejected::Malformed)?;
    if signatures.is_empty() {
        return Err(Rejected::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(Rejected::Stale);
    }
    let t = timestamp.to_string();
    let signed: [&[u8]; 3] = [t.as_bytes(), b".", body];
    if signatures.iter().any(|s| verify_hmac_sha256(secret, &signed, s)) {
        Ok(())
    } else {
        Err(Rejected::BadSignature)
    }
}

/// The header a provider sends for `body` at `timestamp`: what the tests and the README's
/// example use to sign a callback.
pub fn sign(secret: &[u8], body: &[u8], timestamp: i64) -> String {
    let t = timestamp.to_string();
    let mac = crate::signing::hmac_sha256(secret, &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_0123456789abcdef0123456789abcdef";
    const BODY: &[u8] = br#"{"eventId":"evt_1","status":"successful"}"#;

    #[test]
    fn a_known_signature_computed_by_hand() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        let header = "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686";
        assert_eq!(sign(b"secret", br#"{"a":1}"#, 1_700_000_000), header);
        assert_eq!(verify(b"secret", header, br#"{"a":1}"#, 1_700_000_000), Ok(()));
    }

    #[test]
    fn accepts_fresh_signatures_and_any_of_several() {
        let header = sign(SECRET, BODY, 1_000_000);
        assert_eq!(verify(SECRET, &header, BODY, 1_000_000 + TOLERANCE_SECS), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, 1_000_000 - TOLERANCE_SECS), Ok(()));
        let rotating =
            format!("{},v1={}", sign(b"old-secret", BODY, 1_000_000), &header[header.find("v1=").unwrap() + 3..]);
        assert_eq!(verify(SECRET, &rotating, BODY, 1_000_000), Ok(()));
    }

    #[test]
    fn refuses_stale_forged_and_malformed() {
        let header = sign(SECRET, BODY, 1_000_000);
        assert_eq!(verify(SECRET, &header, BODY, 1_000_000 + TOLERANCE_SECS + 1), Err(Rejected::Stale));
        assert_eq!(
            verify(SECRET, &header, br#"{"eventId":"evt_1","status":"failed"}"#, 1_000_000),
            Err(Rejected::BadSignature)
        );
        assert_eq!(verify(b"another-secret", &header, BODY, 1_000_000), Err(Rejected::BadSignature));
        // The timestamp is signed: moving it forward breaks the signature.
        let moved = header.replace("t=1000000", "t=1000100");
        assert_eq!(verify(SECRET, &moved, BODY, 1_000_100), Err(Rejected::BadSignature));
        for bad in ["", "t=1000000", "v1=00", "t=x,v1=00", "t=1000000,v1=zz"] {
            assert_eq!(verify(SECRET, bad, BODY, 1_000_000), Err(Rejected::Malformed), "{bad:?}");
        }
    }
}
