//! Referrals: codes and links, invitations, fraud checks at sign-up, rewards, the
//! referrer's list and stats, and the admin's referral tree.

mod code;
mod fraud;
mod repo;
mod routes;

pub use code::ReferralCode;
pub use fraud::{assess, ensure_not_self, is_disposable, Assessment, History, Referee, Referrer, Rules};
pub use repo::{
    fail_duplicate_identity, history, referrer_by_code, Completed, Payout, Referral, ReferralStatus, Stats,
    DUPLICATE_IDENTITY,
};
pub use routes::{complete_if_ready, payout, ADMIN_UPDATE, CLAIM_REWARD, CODE, INVITE, LINK, LIST, STATS, TREE};
