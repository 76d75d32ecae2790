//! `scripts/bench.sh auth`: what one password hash costs, with the server's own hasher and
//! Argon2id parameters: `HASHES` (20) hashes one after another on one core, then the same
//! number at once (as many run together as the hasher allows). Prints
//! `<ms per hash, one at a time> <hashes/s, all cores>`.

use std::time::Instant;

use growstack::auth::{Hasher, Password};
use growstack::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("HASHES").unwrap_or_else(|_| "20".into()).parse()?;
    let hasher = Hasher::new(&Config::from_env()?);
    let password = || Password::parse("bench-password-1".to_owned());
    hasher.hash(password()?).await?; // the first pays for the allocator's pages
    let started = Instant::now();
    for _ in 0..n {
        hasher.hash(password()?).await?;
    }
    let one = started.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let started = Instant::now();
    let all: Vec<_> = (0..n)
        .map(|_| {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(Password::parse("bench-password-1".to_owned())?).await })
        })
        .collect();
    for hash in all {
        hash.await??;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("{one:.1} {rate:.1}");
    Ok(())
}
