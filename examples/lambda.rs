//! `scripts/bench.sh lambda`: release function binaries run through the Lambda harness
//! (`growstack_tests::runtime_api`), each handed its events/ payload with a real token, and
//! timed as Lambda would bill them: init (process start to the first `next`), the first
//! invocation, warm p50/p99 over `LAMBDA_INVOCATIONS` (1,000) more, peak RSS and the binary's
//! size. Prints a markdown table with each budget's verdict.
//!
//! Reads `LAMBDA_BIN_DIR` (the release binaries), `LAMBDA_FUNCTIONS` (names, space
//! separated), `LAMBDA_ACCESS_TOKEN` and `LAMBDA_USER_ID` (an admin the script signed in),
//! and the function settings (`DATABASE_URL`, `REDIS_URL`, the JWT secrets, …) from the
//! environment, as the deployed function reads them.

use std::path::PathBuf;
use std::time::Duration;

use growstack_tests::runtime_api::{measure, Figures, Outcome};
use growstack_tests::{event, lambda_body, signed_kyc_event};

/// The budgets: init median, warm p99 for a cache hit and for a one-statement read, peak
/// RSS, binary size (in decimal megabytes, the stricter reading of "8 MB").
const INIT_MS: f64 = 20.0;
const CACHE_HIT_P99_MS: f64 = 5.0;
const READ_P99_MS: f64 = 15.0;
const RSS_MIB: f64 = 32.0;
const BINARY_MB: f64 = 8.0;

/// Functions whose warm answer is served from Redis (the rest read Postgres or write).
const CACHE_HITS: &[&str] = &["users-list", "health"];

/// Functions whose every answer includes an Argon2id hash (`Hasher::hash` or `verify`): tens
/// of milliseconds of a core by design, so their p99 is shown against no read budget.
const HASHES: &[&str] = &["auth-register", "auth-login", "users-password"];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "pass"
    } else {
        "FAIL"
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(std::env::var("LAMBDA_BIN_DIR").unwrap_or_else(|_| "target/release".into()));
    let functions = std::env::var("LAMBDA_FUNCTIONS").unwrap_or_else(|_| "health users-list users-get".into());
    let token = std::env::var("LAMBDA_ACCESS_TOKEN")?;
    let user = std::env::var("LAMBDA_USER_ID")?;
    let invocations: usize = std::env::var("LAMBDA_INVOCATIONS").unwrap_or_else(|_| "1000".into()).parse()?;
    let inits: usize = std::env::var("LAMBDA_STARTS").unwrap_or_else(|_| "5".into()).parse()?;
    let vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| !k.starts_with("LAMBDA_")).collect();

    // `all`: every endpoint's function, from the router's own list; those that end the
    // signed-in session (signing out, a new password) last, or every later one would time
    // its refusal of a revoked token.
    let mut functions: Vec<String> = if functions.trim() == "all" {
        growstack::app::ENDPOINTS.iter().map(|e| e.function.to_owned()).collect()
    } else {
        functions.split_whitespace().map(str::to_owned).collect()
    };
    functions.sort_by_key(|f| ["auth-logout", "auth-logout-all", "users-password"].contains(&f.as_str()));

    println!("| function | answer | init median ms (of {inits}) | first ms | warm p50 ms | warm p99 ms | peak RSS MiB | binary MB | budgets |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for function in &functions {
        // The KYC webhook is signed with the secret the function is given, as the provider
        // signs it (one event, answered again as a duplicate on every later invocation).
        let payload = match (function.as_str(), std::env::var("KYC_WEBHOOK_SECRET")) {
            ("webhooks-kyc", Ok(secret)) => signed_kyc_event(&user, "evt_lambda_bench", &secret),
            _ => event(function, &[("REPLACE_WITH_ACCESS_TOKEN", &token), ("REPLACE_WITH_USER_ID", &user)]),
        };
        // Any answer but a server error: a refusal (a payload whose placeholders this run
        // cannot fill) is timed too, and its status shown.
        let answered = std::cell::Cell::new(0u64);
        let check = |outcome: &Outcome| match outcome {
            Outcome::Response(r) if r["statusCode"].as_u64().is_some_and(|s| s < 500) => {
                answered.set(r["statusCode"].as_u64().unwrap_or(0));
                Ok(())
            }
            Outcome::Response(r) => Err(format!("{} {}", r["statusCode"], lambda_body(r))),
            other => Err(format!("{other:?}")),
        };
        let row = async {
            // The init of a few fresh starts (the first pays for the page cache), then one
            // run with the warm invocations.
            let mut starts = Vec::new();
            for _ in 1..inits {
                starts.push(measure(&dir.join(function), function, &vars, &payload, 0, check).await?.init);
            }
            let figures: Figures = measure(&dir.join(function), function, &vars, &payload, invocations, check).await?;
            starts.push(figures.init);
            starts.sort();
            let init = ms(starts[starts.len() / 2]);
            let p99 = ms(figures.warm_quantile(0.99));
            let p99_budget = match function.as_str() {
                f if CACHE_HITS.contains(&f) => {
                    format!("p99 ≤ {CACHE_HIT_P99_MS} {}", verdict(p99 <= CACHE_HIT_P99_MS))
                }
                f if HASHES.contains(&f) => "p99: a password hash".to_owned(),
                _ => format!("p99 ≤ {READ_P99_MS} {}", verdict(p99 <= READ_P99_MS)),
            };
            let rss = figures.peak_rss_mib;
            let size = figures.binary_bytes as f64 / 1e6;
            let budgets = [
                format!("init ≤ {INIT_MS} {}", verdict(init <= INIT_MS)),
                p99_budget,
                format!("RSS ≤ {RSS_MIB} {}", verdict(rss <= RSS_MIB)),
                format!("size ≤ {BINARY_MB} MB {}", verdict(size <= BINARY_MB)),
            ];
            Ok::<String, String>(format!(
                "| {function} | {} | {init:.1} | {:.1} | {:.2} | {p99:.2} | {rss:.1} | {size:.2} | {} |",
                answered.get(),
                ms(figures.first),
                ms(figures.warm_quantile(0.5)),
                budgets.join(", ")
            ))
        }
        .await;
        match row {
            Ok(row) => println!("{row}"),
            Err(error) => {
                let error: String = error.replace('|', "/").replace('\n', " ").chars().take(120).collect();
                println!("| {function} | not measured: {error} | | | | | | | |");
            }
        }
    }
    Ok(())
}
