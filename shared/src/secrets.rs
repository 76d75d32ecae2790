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
        let cached = self.cached(id);
        if let Some((at, value)) = &cached {
            if at.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
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
}
