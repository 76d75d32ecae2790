//! Logs: one JSON object per line, on stdout, which CloudWatch Logs (or the CloudWatch
//! agent on EC2) picks up as is. `RUST_LOG` sets the level, per target if wanted
//! (`warn,growstack=debug`); the default, and what an unreadable value gives, is `info`.
//! Traces: where an X-Ray daemon listens, the spans of each traced request reach X-Ray too
//! (see [`crate::xray`]).

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::xray::XRayLayer;

/// The JSON subscriber, writing to `writer` and sending traced spans to `xray` if given.
pub fn subscriber_with<W>(writer: W, xray: Option<XRayLayer>) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        // The spans a line was logged in, outermost first: the request's id rides there.
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer);
    tracing_subscriber::registry().with(filter).with(logs).with(xray)
}

/// The JSON subscriber, writing to `writer`, with X-Ray where the environment names a daemon.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    subscriber_with(writer, XRayLayer::from_env())
}

/// Installs the JSON subscriber on stdout for the whole process. Safe to call twice.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}
