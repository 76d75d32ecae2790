//! A/B experiments: deterministic assignment from a seeded hash, one recorded exposure per
//! user, and results counted in SQL with the statistics a growth team decides by.

mod repo;
mod routes;
mod stats;
mod types;

pub use repo::Experiment;
pub use routes::{ASSIGNMENT, CREATE, GET, LIST, POWER, RESULTS, UPDATE};
pub use stats::{
    chance_to_beat, compare, cuped, participants_needed, sample_ratio, sequential, welch, Arm, Baseline, Comparison,
    Cuped, MeanComparison, Moments, PairedSums, SampleRatio, Sequential, MIXING_SHARE,
};
pub use types::{bucket, Status, Variant, Variants, BUCKETS};
