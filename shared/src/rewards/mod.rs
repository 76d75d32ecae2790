//! The reward ledger: a row per side of a referral, held, available, paid out by finance
//! with its own reference, or voided with a reason; every staff change audited.

mod repo;
mod routes;

pub use repo::{announce_available, RewardStatus, EFFECTIVE_STATUS};
pub use routes::{ADMIN_LIST, ADMIN_UPDATE};
