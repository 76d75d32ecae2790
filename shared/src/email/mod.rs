//! Email: the templates, the worker that sends them through SES, the suppression list (opt-outs,
//! bounces, complaints) and the unsubscribe routes that feed it.

mod feedback;
mod routes;
mod sends;
mod suppressions;
mod templates;
mod worker;

pub use feedback::FeedbackHandler;
pub use routes::{unsubscribe_url, UNSUBSCRIBE, UNSUBSCRIBE_PAGE};
pub use sends::prune as prune_sends;
pub use suppressions::{is_suppressed, keep_as_hash, suppress, Category, Reason};
pub use templates::{category, render, Links, Rendered};
pub use worker::{EmailWorker, SendPace};
