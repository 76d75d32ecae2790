//! What the KYC provider sends: its callback and verdict, checked at the edge.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Error, Result};

/// The provider's verdict on the user's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KycOutcome {
    Successful,
    Failed,
}

/// The provider's callback. Fields we do not know are ignored: providers add them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KycCallback {
    /// The provider's id for this event; a callback repeated with the same id is taken once.
    /// 1 to 128 bytes, not only spaces.
    #[schema(min_length = 1, max_length = 128, pattern = "\\S")]
    pub event_id: String,
    /// The GrowStack user the verdict is about.
    pub user_id: Uuid,
    pub status: KycOutcome,
    /// The provider's reference for the check; 1 to 128 bytes, not only spaces.
    #[schema(min_length = 1, max_length = 128, pattern = "\\S")]
    pub reference: String,
    /// When the provider reached the verdict.
    pub occurred_at: DateTime<Utc>,
    /// The provider's reference for the person verified, the same whichever account they
    /// verify: a hash of their BVN or NIN, or the provider's person id (never the BVN
    /// itself). Required with `successful`; 1 to 256 bytes. Kept only as its SHA-256. The
    /// first account verified with an identity holds it; a later one is a duplicate of it,
    /// and its referral fails (`duplicate_identity`) before any reward is written.
    #[schema(min_length = 1, max_length = 256, pattern = "\\S", example = "bvn-sha256:9f86d081884c7d65")]
    pub identity_ref: Option<String>,
}

impl KycCallback {
    pub(super) fn check(self) -> Result<Self> {
        for (field, value) in [("eventId", &self.event_id), ("reference", &self.reference)] {
            if value.trim().is_empty() || value.len() > 128 {
                return Err(Error::invalid_field(field, format!("{field} must be 1 to 128 characters")));
            }
        }
        match &self.identity_ref {
            Some(r) if r.trim().is_empty() || r.len() > 256 => {
                Err(Error::invalid_field("identityRef", "identityRef must be 1 to 256 characters"))
            }
            None if self.status == KycOutcome::Successful => {
                Err(Error::invalid_field("identityRef", "identityRef is required with a successful verdict"))
            }
            _ => Ok(self),
        }
    }
}

impl KycOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            KycOutcome::Successful => "successful",
            KycOutcome::Failed => "failed",
        }
    }
}
