//! Growth analytics, computed by Postgres with bounded memory and cached in Redis for a
//! minute: the onboarding funnel, referrals and rewards, events over time, notifications,
//! users, N-day retention with the cohort triangle, and ordered funnels of events.

mod repo;
mod routes;

pub use repo::rollup;
pub use routes::{EVENTS, FUNNELS, NOTIFICATIONS, ONBOARDING, REFERRALS, RETENTION, USERS};
