//! A person's rights over their data: a copy of everything held about them (`export`).
//! Erasure is issue #32's next part.

mod repo;
mod routes;

pub use repo::{COVERED, EVENTS_IN_EXPORT};
pub use routes::{ADMIN_EXPORT, EXPORT};
