//! The referral code every user gets.

use rand::Rng;

use crate::error::{Error, Result};

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Six upper-case base-36 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferralCode(String);

impl ReferralCode {
    pub const LEN: usize = 6;

    /// Accepts any case, as people type codes they were sent.
    pub fn parse(raw: &str) -> Result<Self> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() != Self::LEN || !code.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(Error::invalid_field("referralCode", "referral code must be 6 letters or digits"));
        }
        Ok(ReferralCode(code))
    }

    /// A random code; 36⁶ ≈ 2.2 billion of them, and the database's unique index catches
    /// the rare collision, which the caller retries.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        ReferralCode((0..Self::LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse() {
        for _ in 0..1000 {
            let code = ReferralCode::generate();
            assert_eq!(ReferralCode::parse(code.as_str()).unwrap(), code);
        }
    }

    #[test]
    fn parse_normalizes_case_and_rejects_junk() {
        assert_eq!(ReferralCode::parse(" ab12cd ").unwrap().as_str(), "AB12CD");
        for bad in ["", "ABC", "ABCDEFG", "AB-12C", "ÄB12CD"] {
            assert!(ReferralCode::parse(bad).is_err(), "{bad:?}");
        }
    }
}
