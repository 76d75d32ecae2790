//! Email: the templates and the worker that sends them through SES.

mod templates;
mod worker;

pub use templates::{render, Links, Rendered};
pub use worker::EmailWorker;
