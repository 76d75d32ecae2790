//! What a webhook says and how it is signed.

use std::time::Duration;

use crate::macros::text_enum;

text_enum!(
    /// What happened, as a webhook names it.
    EventType {
        UserRegistered => "user.registered",
        UserErased => "user.erased",
        KycUpdated => "kyc.updated",
        ReferralCompleted => "referral.completed",
        RewardAvailable => "reward.available",
        RewardPaid => "reward.paid",
        RewardVoided => "reward.voided",
        ExperimentCompleted => "experiment.completed",
        WebhookTest => "webhook.test",
    }
);

impl EventType {
    /// What an endpoint may subscribe to: all but the test, which goes to the endpoint
    /// tested whatever it subscribes to.
    pub fn subscribable(self) -> bool {
        self != EventType::WebhookTest
    }
}

/// A new signing secret: `whsec_` and 43 URL-safe base64 characters (32 random bytes).
pub fn new_secret() -> String {
    format!("whsec_{}", crate::signing::random_text::<32>())
}

/// `X-GrowStack-Signature`: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as the KYC
/// callbacks we receive are signed; one `v1` per secret (two during a rotation).
pub fn signature(secrets: &[&str], t: i64, body: &[u8]) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        let mac = crate::signing::hmac_sha256(secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac));
    }
    header
}

/// How long after a delivery's creation it is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(72 * 3600);
/// How long an endpoint may fail every delivery before it is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
/// How long a rotated-out secret still signs.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// The wait before attempt `attempts + 1`: 30 s doubling each time, capped at 6 hours, with
/// full jitter over its upper half so that a recovering receiver is not hit by every
/// delivery at once. `unit` in [0, 1) is the jitter's draw.
pub fn backoff(attempts: i32, unit: f64) -> Duration {
    let base = 30f64 * 2f64.powi(attempts.clamp(0, 20) - 1).max(1.0);
    let capped = base.min(6.0 * 3600.0);
    Duration::from_secs_f64(capped / 2.0 + capped / 2.0 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_hmac_of_time_and_body() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let header = signature(&["whsec_test"], 1_700_000_000, br#"{"a":1}"#);
        let expected = hex::encode(crate::signing::hmac_sha256(b"whsec_test", &[b"1700000000.{\"a\":1}"]));
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
        assert_eq!(signature(&["a", "b"], 1, b"x").matches("v1=").count(), 2);
        assert!(crate::signing::verify_hmac_sha256(
            b"whsec_test",
            &[b"1700000000", b".", br#"{"a":1}"#],
            &hex::decode(&expected).unwrap()
        ));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(15));
        assert_eq!(backoff(1, 1.0), Duration::from_secs(30));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(120));
        assert_eq!(backoff(30, 1.0), Duration::from_secs(6 * 3600));
        assert!(backoff(4, 0.5) > backoff(3, 0.5));
    }

    #[test]
    fn secrets_are_random_and_marked() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a.len() == 49 && a != b);
    }
}
