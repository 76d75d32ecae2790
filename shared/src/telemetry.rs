//! Logs: one JSON object per line, on stdout, which CloudWatch Logs (or the CloudWatch
//! agent on EC2) picks up as is. `RUST_LOG` sets the filter; the default is `info`.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. Safe to call more than once (tests do).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .without_time()
        .try_init();
}
