//! KYC from the KYC provider: its signed callback is the only thing that marks a user's
//! identity verified (and so completes their referral); the app's own word never does.

mod repo;
mod routes;
pub mod signature;
mod types;

pub use routes::WEBHOOK;
pub use types::KycCallback;
