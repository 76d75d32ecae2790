//! Metrics, recorded once and published two ways: as CloudWatch Embedded Metric Format
//! lines on stdout (CloudWatch Logs turns them into metrics; no API call on the request
//! path), and in a Prometheus registry the server exposes as text, as the Node version's
//! prom-client did.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde_json::{json, Map, Value};

type Sink = Arc<dyn Fn(String) + Send + Sync>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: Cow<'static, str>,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExperimentLabels {
    experiment: String,
    variant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabel {
    name: String,
}

fn seconds_buckets() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    namespace: String,
    /// The deployment (stack) the metrics come from: every EMF metric is also published
    /// with a `Service` dimension, so staging and production never mix.
    service: Option<String>,
    emf: Sink,
    emf_enabled: bool,
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    request_seconds: Histograms<HttpLabels>,
    messages: Family<QueueLabels, Counter>,
    batch_seconds: Histograms<NameLabel>,
    cold_starts: Counter,
    emails: Family<NameLabel, Counter>,
    cache: Family<CacheLabels, Counter>,
    rewards: Family<NameLabel, Counter>,
    exposures: Family<ExperimentLabels, Counter>,
    outbox_pending: Gauge,
    outbox_oldest_seconds: Gauge,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").field("namespace", &self.namespace).finish_non_exhaustive()
    }
}

impl Metrics {
    /// EMF lines go to stdout, where Lambda (or the CloudWatch agent) picks them up.
    pub fn new(namespace: &str) -> Self {
        Self::with_sink(namespace, Arc::new(|line| println!("{line}")))
    }

    /// Prometheus only: no EMF lines (the server's default).
    pub fn without_emf(namespace: &str) -> Self {
        let mut metrics = Self::with_sink(namespace, Arc::new(|_| {}));
        metrics.emf_enabled = false;
        metrics
    }

    /// EMF lines go to `sink` (tests collect them).
    pub fn with_sink(namespace: &str, sink: Sink) -> Self {
        let mut registry = Registry::with_prefix("growstack");
        let requests = Family::<HttpLabels, Counter>::default();
        let request_seconds: Histograms<HttpLabels> = Family::new_with_constructor(seconds_buckets);
        let messages = Family::<QueueLabels, Counter>::default();
        let batch_seconds: Histograms<NameLabel> = Family::new_with_constructor(seconds_buckets);
        let cold_starts = Counter::default();
        let emails = Family::<NameLabel, Counter>::default();
        let cache = Family::<CacheLabels, Counter>::default();
        let rewards = Family::<NameLabel, Counter>::default();
        let exposures = Family::<ExperimentLabels, Counter>::default();
        let outbox_pending = Gauge::default();
        let outbox_oldest_seconds = Gauge::default();
        registry.register("http_requests", "HTTP requests by method, route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request duration", request_seconds.clone());
        registry.register("worker_messages", "Queue messages handled, by outcome", messages.clone());
        registry.register("worker_batch_duration_seconds", "Time to handle one batch", batch_seconds.clone());
        registry.register("cold_starts", "Process starts", cold_starts.clone());
        registry.register("emails_sent", "Emails SES accepted, by template", emails.clone());
        registry.register("cache_lookups", "Cache lookups by cache and result", cache.clone());
        registry.register("rewards_paid", "Referral rewards paid, by currency", rewards.clone());
        registry.register("experiment_exposures", "First exposures, by experiment and variant", exposures.clone());
        registry.register("outbox_pending", "Outbox rows unsent after the relay's last run", outbox_pending.clone());
        registry.register(
            "outbox_oldest_pending_seconds",
            "Age of the oldest unsent outbox row at the relay's last run",
            outbox_oldest_seconds.clone(),
        );
        Metrics {
            namespace: namespace.to_owned(),
            service: None,
            emf: sink,
            emf_enabled: true,
            registry,
            requests,
            request_seconds,
            messages,
            batch_seconds,
            cold_starts,
            emails,
            cache,
            rewards,
            exposures,
            outbox_pending,
            outbox_oldest_seconds,
        }
    }

    /// Publishes every EMF metric under a `Service` dimension with this value (the stack's
    /// name in AWS), and only so: CloudWatch bills each dimension set as a metric of its own.
    pub fn with_service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// Writes one EMF document: the dimensions' values and the metrics' values at the root,
    /// described by one `CloudWatchMetrics` directive with one dimension set: `Service` first
    /// when one is set, so that two stacks in one account (staging, production) never mix.
    fn emf(&self, dimensions: &[(&str, &str)], metrics: &[(&str, &str, f64)]) {
        if !self.emf_enabled {
            return;
        }
        let names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
        let sets = match self.service {
            Some(_) => vec![std::iter::once("Service").chain(names).collect::<Vec<_>>()],
            None => vec![names],
        };
        let mut root = Map::new();
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": Utc::now().timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": sets,
                    "Metrics": metrics.iter().map(|(name, unit, _)| json!({ "Name": name, "Unit": unit })).collect::<Vec<_>>(),
                }],
            }),
        );
        for (k, v) in dimensions {
            root.insert((*k).to_owned(), Value::from(*v));
        }
        if let Some(service) = &self.service {
            root.insert("Service".to_owned(), Value::from(service.as_str()));
        }
        for (name, _, value) in metrics {
            root.insert((*name).to_owned(), json!(value));
        }
        (self.emf)(Value::Object(root).to_string());
    }

    /// One HTTP request: its duration per route, method and status class.
    pub fn request(&self, method: &str, route: &str, status: u16, duration_ms: f64) {
        // Every request comes here: the labels cost one allocation, the route's.
        const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
        const CLASSES: [&str; 6] = ["0xx", "1xx", "2xx", "3xx", "4xx", "5xx"];
        let method_label = match METHODS.iter().find(|m| **m == method) {
            Some(known) => Cow::Borrowed(*known),
            None => Cow::Owned(method.to_owned()),
        };
        let labels = HttpLabels { method: method_label, route: route.to_owned(), status };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&labels).observe(duration_ms / 1000.0);
        let class = CLASSES.get(usize::from(status / 100)).copied().unwrap_or("5xx");
        self.emf(
            &[("Route", route), ("Method", method), ("StatusClass", class)],
            &[("RequestDuration", "Milliseconds", duration_ms)],
        );
    }

    /// A Lambda cold start (or a server start).
    pub fn cold_start(&self, function: &str) {
        self.cold_starts.inc();
        self.emf(&[("Function", function)], &[("ColdStart", "Count", 1.0)]);
    }

    /// One batch of queue messages handled.
    pub fn batch(&self, queue: &str, processed: usize, failed: usize, duration_ms: f64) {
        let count = |outcome: &str| QueueLabels { queue: queue.to_owned(), outcome: outcome.to_owned() };
        self.messages.get_or_create(&count("processed")).inc_by(processed as u64);
        self.messages.get_or_create(&count("failed")).inc_by(failed as u64);
        self.batch_seconds.get_or_create(&NameLabel { name: queue.to_owned() }).observe(duration_ms / 1000.0);
        self.emf(
            &[("Queue", queue)],
            &[
                ("MessagesProcessed", "Count", processed as f64),
                ("MessagesFailed", "Count", failed as f64),
                ("BatchDuration", "Milliseconds", duration_ms),
            ],
        );
    }

    /// A scheduler task that ran to the end: the heartbeat its alarm watches.
    pub fn scheduler_run(&self, task: &str) {
        self.emf(&[("Task", task)], &[("SchedulerRuns", "Count", 1.0)]);
    }

    pub fn email_sent(&self, template: &str) {
        self.emails.get_or_create(&NameLabel { name: template.to_owned() }).inc();
        self.emf(&[("Template", template)], &[("EmailsSent", "Count", 1.0)]);
    }

    pub fn cache_lookup(&self, cache: &str, hit: bool) {
        let outcome = if hit { "hit" } else { "miss" };
        self.cache.get_or_create(&CacheLabels { cache: cache.to_owned(), result: outcome.to_owned() }).inc();
        let metric = if hit { "CacheHit" } else { "CacheMiss" };
        self.emf(&[("Cache", cache)], &[(metric, "Count", 1.0)]);
    }

    pub fn reward_paid(&self, currency: &str, amount: f64) {
        self.rewards.get_or_create(&NameLabel { name: currency.to_owned() }).inc();
        self.emf(&[("Currency", currency)], &[("RewardsPaid", "Count", 1.0), ("RewardAmount", "None", amount)]);
    }

    /// A user's first exposure to an experiment's variant: the split as it happens, which
    /// a sample-ratio mismatch shows first.
    pub fn experiment_exposure(&self, experiment: &str, variant: &str) {
        let labels = ExperimentLabels { experiment: experiment.to_owned(), variant: variant.to_owned() };
        self.exposures.get_or_create(&labels).inc();
        self.emf(&[("Experiment", experiment), ("Variant", variant)], &[("ExperimentExposures", "Count", 1.0)]);
    }

    /// How many days the oldest erasure has waited for the archive's rewrite (0 when none
    /// waits): its alarm fires well before the 30 days the privacy page promises.
    pub fn erasure_archive_backlog(&self, days: f64) {
        self.emf(&[("Task", "archive-erasures")], &[("ErasureArchiveBacklogDays", "None", days)]);
    }

    /// What the outbox relay left unsent: the age of the oldest row is what its alarm
    /// watches.
    pub fn outbox_backlog(&self, pending: i64, oldest_seconds: i64) {
        self.outbox_pending.set(pending);
        self.outbox_oldest_seconds.set(oldest_seconds);
        self.emf(
            &[("Task", "outbox-relay")],
            &[
                ("OutboxPending", "Count", pending as f64),
                ("OutboxOldestPendingSeconds", "Seconds", oldest_seconds as f64),
            ],
        );
    }

    /// How far behind the archive export is: the wait of the first event it has not sent.
    pub fn events_export_lag(&self, seconds: f64) {
        self.emf(&[("Task", "events-export")], &[("EventsExportLagSeconds", "Seconds", seconds)]);
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn prometheus_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
