//! Onboarding: the KYC funnel a user moves through (email → phone → bvn → selfie →
//! kyc_complete), the admin's funnel and timing stats.

mod repo;
mod routes;

pub use repo::{StepCount, TimeStats};
pub use routes::{STATS, STEP, TIME_STATS};
