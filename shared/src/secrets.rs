//! Secrets read from AWS Secrets Manager at run time: lazily on first use (a Lambda's init
//! makes no network call), cached for a while, so that a rotation reaches every function and
//! server within the cache's lifetime with no redeploy. A failed refresh keeps serving the
//! last value it had, if it had one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

pub struct SecretStore {
    client: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Arc<str>)>>,
}

impl SecretStore {
    pub fn new(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        SecretStore { client, ttl, cache: Mutex::default() }
    }

    fn cached(&self, id: &str) -> Option<(Instant, Arc<str>)> {
        self.cache.lock().ok()?.get(id).cloned()
    }

    /// The secret's current string value.
    pub async fn get(&self, id: &str) -> anyhow::Result<Arc<str>> {
        if let Some((at, value)) = self.cached(id) {
            if at.elapsed() < self.ttl {
                return Ok(value);
            }
        }
        self.get_fresh(id).await
    }

    /// The secret's value as Secrets Manager has it now, whatever the cache holds (which it
    /// then holds); the cached value if the read fails.
    pub async fn get_fresh(&self, id: &str) -> anyhow::Result<Arc<str>> {
        let cached = self.cached(id);
        // Boxed: the SDK's future is deep, and every caller's future would carry its layout.
        let fetched = Box::pin(self.client.get_secret_value().secret_id(id).send())
            .await
            .context("Secrets Manager GetSecretValue")
            .and_then(|out| out.secret_string.context("the secret has no string value"));
        match (fetched, cached) {
            (Ok(value), _) => {
                let value: Arc<str> = value.into();
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(id.to_owned(), (Instant::now(), value.clone()));
                }
                Ok(value)
            }
            (Err(e), Some((_, stale))) => {
                tracing::warn!(error = format!("{e:#}"), "secret refresh failed; serving the cached value");
                Ok(stale)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// Writes a new value of the secret, and caches it. The request token is the value's
    /// hash, so that two processes writing the same value at once make one version.
    pub async fn put(&self, id: &str, value: &str) -> anyhow::Result<()> {
        let token = hex::encode(crate::signing::sha256(value.as_bytes()));
        Box::pin(self.client.put_secret_value().secret_id(id).secret_string(value).client_request_token(token).send())
            .await
            .context("Secrets Manager PutSecretValue")?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(id.to_owned(), (Instant::now(), value.into()));
        }
        Ok(())
    }
}
