//! Product events, the high-volume path: ingestion one at a time or 500 per statement,
//! deduplicated per user by the client's event id; the server's own lifecycle events;
//! monthly partitions made ahead and dropped past the retention; a daily rollup for
//! analytics; and the export of every event to the S3 archive through Firehose.

pub mod export;
pub mod lifecycle;
pub mod partitions;
mod repo;
mod routes;
mod types;

pub(crate) use repo::{covered, recount};
pub use repo::{purge_dedupe, rollup, scrub_client_info, Event, Stats};
pub use routes::{BATCH, LIST, MAX_BATCH, STATS, TRACK};
pub use types::EventName;
