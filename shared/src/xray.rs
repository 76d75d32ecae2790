//! Our own tracing spans, sent to X-Ray as subsegments of the trace they run in.
//!
//! X-Ray takes segment documents as JSON over UDP from a local daemon: Lambda runs one for
//! every function with active tracing and names it in `AWS_XRAY_DAEMON_ADDRESS`; on EC2
//! the CloudWatch agent listens in its place. Sending a datagram never blocks a request and
//! needs no flush at the end of an invocation, which is why this is a small layer over UDP
//! rather than an OpenTelemetry pipeline and the ADOT collector beside every function.
//!
//! A span whose fields carry a trace header starts a trace here: lambda_runtime's
//! per-invocation span (`xrayTraceId`, the facade segment as parent) or, on a server behind
//! an ALB, the request span (`xray_trace`, the `X-Amzn-Trace-Id` header, with no parent, so
//! the request becomes a segment of its own). Every span opened inside it is a subsegment
//! of its parent span and is sent when it closes, with its fields as annotations.

use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The span fields that carry a trace header.
const TRACE_FIELDS: [&str; 2] = ["xrayTraceId", "xray_trace"];

/// What `X-Amzn-Trace-Id` (or `_X_AMZN_TRACE_ID`) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: Option<String>,
    pub sampled: Option<bool>,
}

impl TraceHeader {
    /// `Root=1-…;Parent=…;Sampled=1`, in any order, other keys ignored.
    pub fn parse(header: &str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) if valid_trace_id(v) => root = Some(v.to_owned()),
                Some(("Parent", v)) if v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    parent = Some(v.to_owned())
                }
                Some(("Sampled", "1")) => sampled = Some(true),
                Some(("Sampled", "0")) => sampled = Some(false),
                _ => {}
            }
        }
        Some(TraceHeader { root: root?, parent, sampled })
    }
}

fn valid_trace_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && parts[0] == "1"
        && parts[1].len() == 8
        && parts[2].len() == 24
        && parts[1..].iter().all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The layer: sends each finished span inside a sampled trace to the daemon.
pub struct XRayLayer {
    socket: UdpSocket,
    daemon: SocketAddr,
    service: String,
    /// The share of traces sampled when the header leaves it to us (an ALB's does).
    sample_rate: f64,
}

impl XRayLayer {
    pub fn new(daemon: SocketAddr, service: impl Into<String>, sample_rate: f64) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(if daemon.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
        socket.set_nonblocking(true)?;
        Ok(XRayLayer { socket, daemon, service: service.into(), sample_rate })
    }

    /// From `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or Lambda's `udp:host:port tcp:host:port`);
    /// none when it is unset, so nothing is traced where no daemon listens.
    pub fn from_env() -> Option<Self> {
        let address = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
        let udp = address
            .split_whitespace()
            .find_map(|a| a.strip_prefix("udp:"))
            .or_else(|| address.split_whitespace().find(|a| !a.contains("tcp:")))?;
        let daemon = udp.parse().ok()?;
        let service = std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .or_else(|_| std::env::var("METRICS_SERVICE"))
            .unwrap_or_else(|_| "growstack".to_owned());
        let rate = std::env::var("XRAY_SAMPLE_RATE").ok().and_then(|r| r.parse().ok()).unwrap_or(0.05);
        Self::new(daemon, service, rate).ok()
    }

    fn send(&self, document: &Value) {
        let mut datagram = String::from("{\"format\":\"json\",\"version\":1}\n");
        datagram.push_str(&document.to_string());
        // A lost datagram loses one span, never a request: errors are ignored.
        let _ = self.socket.send_to(datagram.as_bytes(), self.daemon);
    }
}

/// What a traced span carries until it closes.
struct Traced {
    trace_id: String,
    id: String,
    /// The segment (or subsegment) this one belongs to; none for a segment of our own.
    parent_id: Option<String>,
    sampled: bool,
    start: f64,
    annotations: Map<String, Value>,
    fault: bool,
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

fn new_id() -> String {
    let mut id = String::with_capacity(16);
    for byte in rand::random::<[u8; 8]>() {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// Span fields as X-Ray annotations (keys of letters, digits and `_`; scalar values), and
/// the trace header if one rides there.
#[derive(Default)]
struct Fields {
    annotations: Map<String, Value>,
    header: Option<String>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        let key: String = field.name().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        self.annotations.insert(key, value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if TRACE_FIELDS.contains(&field.name()) {
            self.header = Some(value.to_owned());
        } else {
            self.put(field, Value::String(value.chars().take(1000).collect()));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, json!(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, json!(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

impl<S> Layer<S> for XRayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let inherited = span.parent().and_then(|parent| {
            let extensions = parent.extensions();
            extensions.get::<Traced>().map(|p| (p.trace_id.clone(), p.id.clone(), p.sampled))
        });
        let (trace_id, parent_id, sampled) = match (inherited, fields.header.as_deref().and_then(TraceHeader::parse)) {
            // Inside a trace already (API Gateway's header inside Lambda's trace, say): a child.
            (Some((trace_id, parent, sampled)), _) => (trace_id, Some(parent), sampled),
            (None, Some(header)) => {
                let sampled = header.sampled.unwrap_or_else(|| rand::random::<f64>() < self.sample_rate);
                (header.root, header.parent, sampled)
            }
            (None, None) => return,
        };
        span.extensions_mut().insert(Traced {
            trace_id,
            id: new_id(),
            parent_id,
            sampled,
            start: now(),
            annotations: fields.annotations,
            fault: false,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(traced) = extensions.get_mut::<Traced>() {
            let mut fields = Fields::default();
            values.record(&mut fields);
            traced.annotations.extend(fields.annotations);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // An error logged inside a span marks it (and so the trace map) as a fault.
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        if let Some(span) = ctx.event_span(event) {
            if let Some(traced) = span.extensions_mut().get_mut::<Traced>() {
                traced.fault = true;
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let extensions = span.extensions();
        let Some(traced) = extensions.get::<Traced>().filter(|t| t.sampled) else { return };
        // A segment of our own is named for the service (the node on the trace map); a
        // subsegment for its span, in the characters X-Ray allows.
        let name: String = match traced.parent_id {
            None => self.service.clone(),
            Some(_) => {
                span.name().chars().filter(|c| c.is_alphanumeric() || " _.:/%&#=+\\-@".contains(*c)).take(200).collect()
            }
        };
        let mut document = json!({
            "name": name,
            "id": traced.id,
            "trace_id": traced.trace_id,
            "start_time": traced.start,
            "end_time": now(),
            "annotations": traced.annotations,
        });
        match &traced.parent_id {
            Some(parent) => {
                document["type"] = json!("subsegment");
                document["parent_id"] = json!(parent);
            }
            None => document["origin"] = json!("AWS::EC2::Instance"),
        }
        if traced.fault {
            document["fault"] = json!(true);
        }
        self.send(&document);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lambda_and_alb_headers() {
        let lambda = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
        assert_eq!(
            lambda,
            Some(TraceHeader {
                root: "1-5759e988-bd862e3fe1be46a994272793".into(),
                parent: Some("53995c3f42cd8ad8".into()),
                sampled: Some(true),
            })
        );
        let alb =
            TraceHeader::parse("Self=1-67891234-12456789abcdef012345678;Root=1-67891233-abcdef012345678912345678")
                .unwrap();
        assert_eq!(alb.root, "1-67891233-abcdef012345678912345678");
        assert_eq!((alb.parent, alb.sampled), (None, None));
        assert_eq!(TraceHeader::parse("Root=2-x-y;Sampled=1"), None);
        assert_eq!(TraceHeader::parse("garbage"), None);
    }
}
