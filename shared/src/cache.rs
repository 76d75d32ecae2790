//! Redis, for cache-aside reads and rate limits. Redis is an optimisation here, never a
//! dependency: every operation fails open (a miss, or "allowed"), and after a failure Redis
//! is left alone for a short, growing pause, as ioredis' `min(n·50, 2000)` ms retry strategy
//! did, so that a dead Redis costs requests nothing.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::config::Config;

#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    manager: ConnectionManager,
    prefix: String,
    ttl: Duration,
    failures: AtomicU32,
    resume_at_ms: AtomicU64,
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

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Cache {
    /// Builds the client without connecting; the first command connects.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let url = config.redis_url.expose();
        let client = match &config.redis_ca_file {
            Some(path) => {
                let root_cert = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
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
        let manager = ConnectionManager::new_lazy_with_config(client, manager_config).context("Redis client")?;
        Ok(Cache {
            inner: Arc::new(Inner {
                manager,
                prefix: config.redis_key_prefix.clone(),
                ttl: config.cache_ttl,
                failures: AtomicU32::new(0),
                resume_at_ms: AtomicU64::new(0),
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
        match op(self.inner.manager.clone()).await {
            Ok(value) => {
                self.inner.failures.store(0, Ordering::Relaxed);
                Some(value)
            }
            Err(e) => {
                let failures = self.inner.failures.fetch_add(1, Ordering::Relaxed) + 1;
                let pause = (u64::from(failures) * 50).min(2000);
                self.inner.resume_at_ms.store(now_ms() + pause, Ordering::Relaxed);
                tracing::warn!(operation = what, error = %e, pause_ms = pause, "redis unavailable, failing open");
                None
            }
        }
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

    /// Whether `bucket` has already had `max` hits in its current window of `window`,
    /// without counting one: the seconds to wait if so, `None` if not (or Redis is down).
    pub async fn limit_reached(&self, bucket: &str, max: u32, window: Duration) -> Option<u64> {
        let (key, _, retry_after) = self.window(bucket, window);
        let count = self.run("rate_limit_peek", |mut c| async move { c.get::<_, Option<u64>>(&key).await }).await??;
        (count >= u64::from(max)).then_some(retry_after)
    }

    /// Counts one hit against a fixed window of `window` for `bucket`. Returns the number of
    /// seconds to wait when `max` is exceeded, `None` when allowed (or Redis is down).
    pub async fn over_limit(&self, bucket: &str, max: u32, window: Duration) -> Option<u64> {
        let (key, window_ms, retry_after) = self.window(bucket, window);
        let count: u64 = self
            .run("rate_limit", |mut c| async move {
                let (count,): (u64,) = redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    .pexpire(&key, window_ms as i64)
                    .ignore()
                    .query_async(&mut c)
                    .await?;
                Ok(count)
            })
            .await?;
        (count > u64::from(max)).then_some(retry_after)
    }

    /// Whether Redis answers a PING right now.
    pub async fn ping(&self) -> bool {
        let mut c = self.inner.manager.clone();
        matches!(
            tokio::time::timeout(Duration::from_millis(500), redis::cmd("PING").query_async::<String>(&mut c)).await,
            Ok(Ok(_))
        )
    }
}
