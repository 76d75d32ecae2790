//! A Lambda Runtime API of our own (the interface AWS's runtime serves a custom runtime on
//! `AWS_LAMBDA_RUNTIME_API`), enough to run a function binary exactly as Lambda would: the
//! process asks for its next event, gets one when the harness invokes, and posts the answer
//! back. The harness can then time what Lambda bills and users wait for — the start until
//! the first `next` (init), and each invocation — with the binary that ships.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

const PREFIX: &str = "/2018-06-01/runtime";

/// How a function answered one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    /// The function reported an error (`/invocation/{id}/error`).
    Error(Value),
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// When the function first asked for an event: the end of its init.
    first_next: OnceLock<Instant>,
    init_error: Mutex<Option<String>>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<(String, Bytes)>,
    server: tokio::task::JoinHandle<()>,
    invocations: std::sync::atomic::AtomicU64,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_file(self.stderr_path());
    }
}

impl RuntimeApi {
    /// Serves the Runtime API on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let (events, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue),
            waiting: Mutex::new(HashMap::new()),
            first_next: OnceLock::new(),
            init_error: Mutex::new(None),
        });
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(&format!("{PREFIX}/invocation/{{id}}/response"), post(response))
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi { addr, shared, events, server, invocations: 0.into() })
    }

    /// Starts the function binary at `binary` as Lambda would, with the runtime's variables
    /// and `vars`; its output is discarded but for standard error, kept for [`Self::ready`]
    /// to report. With `LAMBDA_BOOTSTRAP_RUNNER` set (`qemu-aarch64`: scripts/sam_build.sh
    /// runs an arm64 bootstrap on an x86_64 machine), through that program.
    pub fn spawn(&self, binary: &Path, function: &str, vars: &[(String, String)]) -> std::io::Result<Child> {
        let stderr = std::fs::File::create(self.stderr_path())?;
        let mut command = match std::env::var_os("LAMBDA_BOOTSTRAP_RUNNER") {
            Some(runner) => {
                let mut command = Command::new(runner);
                command.arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "harness")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
    }

    fn stderr_path(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("growstack-runtime-api-{}.stderr", self.addr.port()))
    }

    /// Waits until the function asks for its first event, and says when it did; an error
    /// if it reported a failed init, exited, or did not ask within `timeout`. (The moment is
    /// taken when the request arrives, so the polling here does not blur it.)
    pub async fn ready(&self, child: &mut Child, timeout: Duration) -> Result<Instant, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(error) = self.shared.init_error.lock().unwrap().clone() {
                return Err(format!("init failed: {error}"));
            }
            if let Some(at) = self.shared.first_next.get() {
                return Ok(*at);
            }
            if let Ok(Some(status)) = child.try_wait() {
                let said = std::fs::read_to_string(self.stderr_path()).unwrap_or_default();
                return Err(format!("the function exited ({status}) before asking for an event: {said}"));
            }
            if Instant::now() > deadline {
                return Err(format!("the function did not ask for an event within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Hands the function `payload` and waits for its answer (at most `timeout`).
    pub async fn invoke(&self, payload: &Value, timeout: Duration) -> Result<Outcome, String> {
        let n = self.invocations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("00000000-0000-4000-8000-{n:012}");
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        let body = Bytes::from(serde_json::to_vec(payload).map_err(|e| e.to_string())?);
        self.events.send((id.clone(), body)).map_err(|_| "the runtime API stopped".to_owned())?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err("the invocation was dropped".to_owned()),
            Err(_) => {
                self.shared.waiting.lock().unwrap().remove(&id);
                Err(format!("no answer within {timeout:?}"))
            }
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Result<(HeaderMap, Bytes), StatusCode> {
    shared.first_next.get_or_init(Instant::now);
    let (id, body) = shared.queue.lock().await.recv().await.ok_or(StatusCode::GONE)?;
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.as_millis().to_string());
    set("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:harness".to_owned());
    set(
        "lambda-runtime-trace-id",
        "Root=1-6787815a-9fa0b1c2d3e4f5a6b7c8d9e0;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    Ok((headers, body))
}

fn answer(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiting.lock().unwrap().remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, Outcome::Response(json(&body)))
}

async fn error(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, Outcome::Error(json(&body)))
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *shared.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

/// The peak resident set of a process, in MiB (VmHWM), while it still runs.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// A function's figures: its init, its first invocation and the warm ones after it.
#[derive(Debug)]
pub struct Figures {
    pub init: Duration,
    pub first: Duration,
    pub warm: Vec<Duration>,
    pub peak_rss_mib: f64,
    pub binary_bytes: u64,
}

impl Figures {
    /// The `q` quantile (0..=1) of the warm invocations, nearest rank.
    pub fn warm_quantile(&self, q: f64) -> Duration {
        let mut sorted = self.warm.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

/// Runs the function binary through its init and `1 + warm` invocations of `payload`,
/// checking each answer with `check`; the process is killed afterwards.
pub async fn measure(
    binary: &Path,
    function: &str,
    vars: &[(String, String)],
    payload: &Value,
    warm: usize,
    check: impl Fn(&Outcome) -> Result<(), String>,
) -> Result<Figures, String> {
    let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = api.spawn(binary, function, vars).map_err(|e| format!("{}: {e}", binary.display()))?;
    let result = async {
        let ready = api.ready(&mut child, Duration::from_secs(20)).await?;
        let timeout = Duration::from_secs(30);
        let at = Instant::now();
        let outcome = api.invoke(payload, timeout).await?;
        let first = at.elapsed();
        check(&outcome)?;
        let mut times = Vec::with_capacity(warm);
        for _ in 0..warm {
            let at = Instant::now();
            let outcome = api.invoke(payload, timeout).await?;
            times.push(at.elapsed());
            check(&outcome)?;
        }
        Ok(Figures {
            init: ready - started,
            first,
            warm: times,
            peak_rss_mib: peak_rss_mib(child.id()).unwrap_or(0.0),
            binary_bytes: std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0),
        })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}
