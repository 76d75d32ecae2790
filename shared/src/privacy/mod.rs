//! A person's rights over their data: a copy of everything held about them (`export`) and
//! its erasure (`erase`, and in the S3 archive `archive`).

mod archive;
mod erase;
mod exports;
mod repo;
mod routes;

pub use archive::{Archive, Rewritten, ARCHIVE_ACTIONS, ERASURES_PREFIX, EVENTS_PREFIX};
pub use erase::REDACTED;
pub use exports::{Exports, Written, LINK_TTL};
pub use repo::{COVERED, EVENTS_IN_EXPORT};
pub use routes::{ADMIN_ERASE, ADMIN_EXPORT, DOWNLOAD, ERASE, EXPORT};
