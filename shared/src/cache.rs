//! Redis, for cache-aside reads and rate limits. Redis is an optimisation here, never a
//! dependency: a read fails open (a miss), a rate limit falls back to windows this process
//! keeps itself, and after a failure Redis
//! is left alone for a short, growing pause, as ioredis' `min(n·50, 2000)` ms retry strategy
//! did, so that a dead Redis costs requests nothing.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::config::Config;
use crate::secrets::SecretStore;

#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    /// The client for `REDIS_URL` as it is (its credentials, if any, in the URL).
    manager: ConnectionManager,
    /// With `REDIS_AUTH_SECRET_ID`: the AUTH token comes from Secrets Manager instead.
    auth: Option<Auth>,
    prefix: String,
    ttl: Duration,
    failures: AtomicU32,
    resume_at_ms: AtomicU64,
    local_windows: LocalWindows,
    leases: Leases,
}

/// Deletes every key listed in a set, and the set: one round trip to invalidate a family of
/// cached responses. The keys share a hash tag, so this also works on a Redis cluster.
const INVALIDATE: &str = r"
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
return redis.call('DEL', KEYS[1])
";

/// Takes `ARGV[1]` units of the budget `ARGV[2]` in the window `KEYS[1]` (which expires
/// after `ARGV[3]` ms), all or none: 1 if taken, 0 if they do not fit.
static TAKE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
if redis.call('INCRBY', KEYS[1], ARGV[1]) == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
",
    )
});

/// Rate-limit windows kept in this process while Redis is away, by the same keys.
#[derive(Default)]
struct LocalWindows(Mutex<std::collections::HashMap<String, (u64, u64)>>);

/// Windows one process keeps before it drops those that have ended.
const LOCAL_WINDOWS: usize = 100_000;

impl LocalWindows {
    /// As the `TAKE` script: whether `n` more fit under `max` in window `key`, ending at
    /// `ends_ms`.
    fn take(&self, key: &str, n: u64, max: u64, ends_ms: u64) -> bool {
        let mut windows = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= LOCAL_WINDOWS && !windows.contains_key(key) {
            let now = now_ms();
            windows.retain(|_, (_, ends)| *ends > now);
            if windows.len() >= LOCAL_WINDOWS {
                return false;
            }
        }
        let (used, _) = windows.entry(key.to_owned()).or_insert((0, ends_ms));
        if *used + n > max {
            return false;
        }
        *used += n;
        true
    }
}

/// Units of rate-limit windows this process has taken from Redis and not yet handed out, by
/// window key: (units left, size of the last lease).
#[derive(Default)]
struct Leases(Mutex<std::collections::HashMap<String, (u64, u64)>>);

impl Leases {
    /// Hands out `n` units of window `key`'s lease, or says how big its last lease was.
    fn take(&self, key: &str, n: u64) -> Result<(), u64> {
        let mut leases = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match leases.get_mut(key) {
            Some((left, _)) if *left >= n => {
                *left -= n;
                Ok(())
            }
            Some((_, size)) => Err(*size),
            None => Err(0),
        }
    }

    /// Keeps `left` units of a lease of `size` for window `key`.
    fn deposit(&self, key: &str, size: u64, left: u64) {
        let mut leases = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if leases.len() >= LOCAL_WINDOWS && !leases.contains_key(key) {
            // Windows end within minutes: what is dropped here is at worst a few unused units.
            leases.clear();
        }
        let lease = leases.entry(key.to_owned()).or_insert((0, 0));
        lease.0 += left;
        lease.1 = size;
    }
}

/// The AUTH token read at run time: a client per token, made again when a rotation changes
/// it (connections of the old one are dropped with it).
struct Auth {
    store: Arc<SecretStore>,
    id: String,
    url: String,
    root_cert: Option<Vec<u8>>,
    current: Mutex<Option<(Arc<str>, ConnectionManager)>>,
}

/// A lazily connecting client for `url`, trusting `root_cert` too for `rediss://`.
fn manager_for(url: &str, root_cert: Option<Vec<u8>>) -> anyhow::Result<ConnectionManager> {
    let client = match root_cert {
        Some(root_cert) => {
            let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) };
            redis::Client::build_with_tls(url, certificates)
        }
        None => redis::Client::open(url),
    }
    .context("REDIS_URL is not a valid Redis URL")?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(2000));
    ConnectionManager::new_lazy_with_config(client, manager_config).context("Redis client")
}

/// `url` with `token` as its password (percent-encoded).
fn with_password(url: &str, token: &str) -> String {
    let encoded: String = token
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://:{encoded}@{rest}"),
        None => url.to_owned(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Cache {
    /// Builds the client without connecting; the first command connects. With
    /// `REDIS_AUTH_SECRET_ID`, the AUTH token is read from `store` when first needed.
    pub fn new(config: &Config, store: Arc<SecretStore>) -> anyhow::Result<Self> {
        let url = config.redis_url.expose();
        let root_cert = match &config.redis_ca_file {
            Some(path) => Some(std::fs::read(path).with_context(|| format!("read {}", path.display()))?),
            None => None,
        };
        let manager = manager_for(url, root_cert.clone())?;
        let auth = config.redis_auth_secret_id.clone().map(|id| Auth {
            store,
            id,
            url: url.to_owned(),
            root_cert,
            current: Mutex::default(),
        });
        Ok(Cache {
            inner: Arc::new(Inner {
                manager,
                auth,
                prefix: config.redis_key_prefix.clone(),
                ttl: config.cache_ttl,
                failures: AtomicU32::new(0),
                resume_at_ms: AtomicU64::new(0),
                local_windows: LocalWindows::default(),
                leases: Leases::default(),
            }),
        })
    }

    /// The full key for `key`, under this deployment's prefix.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    fn available(&self) -> bool {
        now_ms() >= self.inner.resume_at_ms.load(Ordering::Relaxed)
    }

    /// Runs one Redis operation, or returns `None` when Redis is unavailable.
    async fn run<T, F, Fut>(&self, what: &'static str, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !self.available() {
            return None;
        }
        let manager = match self.manager().await {
            Ok(manager) => manager,
            Err(e) => {
                self.failed(what, &format!("{e:#}"));
                return None;
            }
        };
        match op(manager).await {
            Ok(value) => {
                self.inner.failures.store(0, Ordering::Relaxed);
                Some(value)
            }
            Err(e) => {
                self.failed(what, &e.to_string());
                None
            }
        }
    }

    /// Leaves Redis alone for a short, growing pause after a failure.
    fn failed(&self, what: &str, error: &str) {
        let failures = self.inner.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let pause = (u64::from(failures) * 50).min(2000);
        self.inner.resume_at_ms.store(now_ms() + pause, Ordering::Relaxed);
        tracing::warn!(operation = what, error, pause_ms = pause, "redis unavailable, failing open");
    }

    /// The client to use: the URL's, or the one for the current AUTH token.
    async fn manager(&self) -> anyhow::Result<ConnectionManager> {
        let Some(auth) = &self.inner.auth else { return Ok(self.inner.manager.clone()) };
        crate::uses::record(crate::uses::Resource::RedisSecret);
        let token = auth.store.get(&auth.id).await?;
        if let Some((current, manager)) = auth.current.lock().ok().and_then(|c| c.clone()) {
            if Arc::ptr_eq(&current, &token) {
                return Ok(manager);
            }
        }
        let manager = manager_for(&with_password(&auth.url, &token), auth.root_cert.clone())?;
        if let Ok(mut current) = auth.current.lock() {
            *current = Some((token, manager.clone()));
        }
        Ok(manager)
    }

    /// A cached value, or `None` on a miss or when Redis is unavailable.
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.run("get", |mut c| async move { c.get::<_, Option<Vec<u8>>>(key).await }).await.flatten()
    }

    /// A value, with a miss (`Some(None)`) told apart from Redis being unavailable (`None`).
    pub async fn get_checked(&self, key: &str) -> Option<Option<Vec<u8>>> {
        self.run("get", |mut c| async move { c.get::<_, Option<Vec<u8>>>(key).await }).await
    }

    /// Stores `value` under `key` for `ttl`, outside any family. Returns whether Redis took it.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        let secs = ttl.as_secs().max(1);
        self.run("set", |mut c| async move { c.set_ex::<_, _, ()>(key, value, secs).await }).await.is_some()
    }

    /// Deletes `key`; whether Redis was there to do it.
    pub async fn delete(&self, key: &str) -> bool {
        self.run("delete", |mut c| async move { c.del::<_, ()>(key).await }).await.is_some()
    }

    /// Stores `value` under `key` for the configured TTL and records the key in the `family`
    /// set, so that [`Cache::invalidate`] can drop the whole family at once.
    pub async fn put(&self, family: &str, key: &str, value: &[u8]) {
        let ttl = self.inner.ttl.as_secs().max(1);
        self.run("put", |mut c| async move {
            redis::pipe()
                .atomic()
                .set_ex(key, value, ttl)
                .ignore()
                .sadd(family, key)
                .ignore()
                .expire(family, (ttl * 2) as i64)
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await;
    }

    /// Drops every cached entry of a family. Called after every write that changes what the
    /// family's entries show.
    pub async fn invalidate(&self, family: &str) {
        self.run(
            "invalidate",
            |mut c| async move { Script::new(INVALIDATE).key(family).invoke_async::<i64>(&mut c).await },
        )
        .await;
    }

    /// The key of `bucket`'s current fixed window of `window`, that window's length in ms,
    /// and the seconds left in it.
    fn window(&self, bucket: &str, window: Duration) -> (String, u64, u64) {
        let window_ms = window.as_millis().max(1) as u64;
        let now = now_ms();
        let window_start = now - now % window_ms;
        let key = self.key(&format!("rl:{bucket}:{window_start}"));
        (key, window_ms, (window_start + window_ms - now).div_ceil(1000).max(1))
    }

    /// Counts one hit against a fixed window of `window` for `bucket`. Returns the number of
    /// seconds to wait when `max` is exceeded, `None` when allowed.
    pub async fn over_limit(&self, bucket: &str, max: u32, window: Duration) -> Option<u64> {
        self.take(bucket, 1, u64::from(max), window).await
    }

    /// Takes `n` units of `bucket`'s budget of `max` in its current fixed window of `window`,
    /// all or none: the seconds to wait when they do not fit (nothing is taken then), `None`
    /// when taken. While Redis is away, this process keeps the windows itself, so a limit
    /// still holds (per process) rather than fail open.
    pub async fn take(&self, bucket: &str, n: u64, max: u64, window: Duration) -> Option<u64> {
        let (key, window_ms, retry_after) = self.window(bucket, window);
        let taken = self
            .run("rate_limit", |mut c| {
                let key = key.clone();
                async move {
                    TAKE.key(&key).arg(n).arg(max).arg(window_ms).invoke_async::<i64>(&mut c).await.map(|t| t == 1)
                }
            })
            .await;
        let taken = match taken {
            Some(taken) => taken,
            None => self.inner.local_windows.take(&key, n, max, now_ms() + window_ms),
        };
        (!taken).then_some(retry_after)
    }

    /// As [`Cache::take`], without a round trip to Redis for most calls: this process takes
    /// units from Redis in leases that double while it keeps using them (up to a tenth of the
    /// budget) and hands them out itself. Nobody gets more than `max` in a window; a lease
    /// left unused when the window ends is lost to the other processes, at most a tenth of
    /// the budget each, and only for users busy enough on each of them to have earned leases.
    pub async fn take_leased(&self, bucket: &str, n: u64, max: u64, window: Duration) -> Option<u64> {
        let (key, _, _) = self.window(bucket, window);
        let previous = match self.inner.leases.take(&key, n) {
            Ok(()) => return None,
            Err(previous) => previous,
        };
        let want = previous.saturating_mul(2).clamp(n, (max / 10).max(n));
        // The whole lease; near the budget, just what this call needs.
        let mut taken = want;
        let mut refused = self.take(bucket, want, max, window).await;
        if refused.is_some() && want > n {
            taken = n;
            refused = self.take(bucket, n, max, window).await;
        }
        if let Some(retry_after) = refused {
            // Another request of this process may have leased what is left meanwhile.
            return self.inner.leases.take(&key, n).is_err().then_some(retry_after);
        }
        self.inner.leases.deposit(&key, taken, taken - n);
        None
    }

    /// Runs a Lua script on `keys` (full keys, sharing a hash tag) with `args`: its answer, a
    /// list of integers (a script answers a table), or `None` when Redis is unavailable.
    pub async fn script(
        &self,
        what: &'static str,
        script: &Script,
        keys: &[String],
        args: &[String],
    ) -> Option<Vec<i64>> {
        self.run(what, |mut c| async move {
            let mut invocation = script.prepare_invoke();
            for key in keys {
                invocation.key(key);
            }
            for arg in args {
                invocation.arg(arg);
            }
            invocation.invoke_async::<Vec<i64>>(&mut c).await
        })
        .await
    }

    /// Whether Redis answers a PING right now.
    pub async fn ping(&self) -> bool {
        let Ok(mut c) = self.manager().await else { return false };
        matches!(
            tokio::time::timeout(Duration::from_millis(500), redis::cmd("PING").query_async::<String>(&mut c)).await,
            Ok(Ok(_))
        )
    }
}

/// A few seconds of memory in front of Redis and Postgres, for the reads a hot path makes
/// on every request (an experiment on each assignment). Bounded: when full, it starts over.
pub struct Local<V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<std::collections::HashMap<String, (std::time::Instant, V)>>,
}

impl<V: Clone> Local<V> {
    /// Entries live for `ttl`; at `max_entries` the memory starts over.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Local { ttl, max_entries, entries: Mutex::default() }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (at, value) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    pub fn put(&self, key: &str, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.max_entries {
                entries.clear();
            }
            entries.insert(key.to_owned(), (std::time::Instant::now(), value));
        }
    }

    pub fn remove(&self, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}
