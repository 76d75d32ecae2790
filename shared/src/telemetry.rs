//! Logs: one JSON object per line, on stdout, which CloudWatch Logs (or the CloudWatch
//! agent on EC2) picks up as is. `RUST_LOG` sets the filter; the default is `info`.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The JSON subscriber, writing to `writer`.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        // The spans a line was logged in, outermost first: the request's id rides there.
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer)
        .finish()
}

/// Installs the JSON subscriber on stdout for the whole process. Safe to call twice.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}
