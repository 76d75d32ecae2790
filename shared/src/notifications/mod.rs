//! Notifications: the inbox, the admin sends, the worker that delivers them, and the SQL
//! the scheduler uses to find what is due.

mod repo;
mod routes;
mod worker;

pub use repo::{
    claim_due, claim_nudges, cursor, give_up_dispatching, save_cursor, unclaim, unclaim_nudges, Notification,
    NudgeKind, MAX_DISPATCH_ATTEMPTS,
};
pub use routes::{nudge_job, BATCH, INACTIVITY_NUDGE, KYC_REMINDER, LIST, MARK_READ, MAX_BATCH, SEND};
pub use worker::{NotificationWorker, CHANNEL_NOT_CONFIGURED};
