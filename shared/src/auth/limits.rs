//! Rate limits on the auth routes: a per-IP budget for each action (in Redis, failing open),
//! and the limits on each account's password checks (in Redis, kept in-process while Redis is
//! away).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use redis::Script;

use crate::error::{Error, Result};
use crate::http::client_ip;
use crate::signing::sha256;
use crate::state::AppState;

/// An auth action with a per-IP budget of its own.
pub trait Action {
    const NAME: &'static str;
}

macro_rules! actions {
    ($($name:ident => $text:literal),+ $(,)?) => {
        $(
            #[doc = concat!("The `", $text, "` budget.")]
            pub struct $name;
            impl Action for $name {
                const NAME: &'static str = $text;
            }
        )+
    };
}

actions!(Register => "register", Login => "login", Refresh => "refresh", VerifyEmail => "verify-email");

/// An extractor counting the request against the caller's IP budget for action `A`, before
/// anything else about the request is looked at (a malformed body counts too).
pub struct IpLimited<A>(PhantomData<A>);

impl<A: Action> FromRequestParts<AppState> for IpLimited<A> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let ip = client_ip(&parts.headers, &parts.extensions, state.config.trusted_proxy_hops);
        limit_ip(state, A::NAME, &ip).await?;
        Ok(IpLimited(PhantomData))
    }
}

/// Counts a request against the per-IP budget of one auth action (`register`, `login`,
/// `refresh`, …), apart from the others, so that one busy action behind a carrier NAT does
/// not lock out the rest.
pub async fn limit_ip(state: &AppState, action: &str, ip: &str) -> Result<()> {
    let config = &state.config;
    match state
        .cache
        .over_limit(
            &format!("auth:{action}:{}", pseudonym(ip)),
            config.auth_rate_limit_max,
            config.auth_rate_limit_window,
        )
        .await
    {
        Some(retry_after_secs) => Err(Error::RateLimited { retry_after_secs }),
        None => Ok(()),
    }
}

/// How Redis keys name an email or IP address: by a hash, so that no address is stored there
/// (an erased account leaves none behind).
fn pseudonym(text: &str) -> String {
    hex::encode(&sha256(text.as_bytes())[..8])
}

/// The hash-tagged key prefix of an account's password checks, named by a hash of the address.
/// Unknown addresses get one too, so a lockout tells nothing.
fn account_key(account: &str) -> String {
    format!("login:{{{}}}", hex::encode(&sha256(account.as_bytes())[..16]))
}

/// How long a password check may hold its account before another may start: far longer than
/// a hash with its wait for a slot, so only a crashed check ever lets it run out.
const CHECK_HOLD: Duration = Duration::from_secs(10);

/// Admits one password check (`KEYS`: the check in flight, this address's budget, the
/// account's backoff; `ARGV`: the check's token, its hold, the budget and its window, in ms).
/// Refused — `{1, wait}` backoff, `{2, wait}` another check in flight, `{3, wait}` budget
/// spent — or admitted with the budget already taken (`{0, 0}`): the hash comes after.
const ADMIT: &str = r"
local wait = redis.call('PTTL', KEYS[3])
if wait > 0 then return {1, wait} end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if used >= tonumber(ARGV[3]) then return {3, redis.call('PTTL', KEYS[2])} end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, 1000} end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return {0, 0}
";

/// Settles an admitted check (`KEYS`: as for [`ADMIT`] and the account's failures;
/// `ARGV`: the token, `1` unless the password was wrong, the failures before backoff, the longest
/// backoff and the window, in ms). A check that was not wrong gives its budget back; a wrong one counts
/// against the account from any address and, past the free ones, starts a backoff that
/// doubles with each further failure.
const SETTLE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[2] == '1' then
  if redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
  return {0}
end
local n = redis.call('INCR', KEYS[4])
if n == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[5]) end
local free = tonumber(ARGV[3])
if n >= free then
  local delay = math.min(1000 * 2 ^ math.min(n - free, 30), tonumber(ARGV[4]))
  redis.call('SET', KEYS[3], '1', 'PX', math.floor(delay))
end
return {n}
";

static ADMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ADMIT));
static SETTLE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SETTLE));

/// The limits on one account's password checks, whoever sends them:
/// - one check in flight at a time (a second is 429 at once, with no hash);
/// - `LOGIN_FAILURES_MAX` checks per account and client address per window, the budget
///   taken before the hash and given back only when the password was right;
/// - past `LOGIN_FAILURES_MAX` failures from any address, every check waits out a backoff
///   that doubles with each failure up to `LOGIN_BACKOFF_MAX_SECONDS`. An attacker with many
///   addresses slows the account down; they cannot keep its owner out for longer than that.
///
/// In Redis, so that every Lambda instance sees them; while Redis is away each process keeps
/// them itself ([`Fallback`]) rather than let guesses through.
#[derive(Clone, Copy)]
struct Policy {
    budget: u32,
    window: Duration,
    backoff_max: Duration,
}

impl Policy {
    fn of(state: &AppState) -> Self {
        let config = &state.config;
        Policy {
            budget: config.login_failures_max,
            window: config.login_failures_window,
            backoff_max: config.login_backoff_max,
        }
    }

    fn backoff(&self, failures: u32) -> Option<Duration> {
        let past = failures.checked_sub(self.budget)?;
        Some(Duration::from_secs(1u64 << past.min(30)).min(self.backoff_max))
    }
}

fn wait_secs(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

/// Whether `password` is the signed-in `user`'s own, checked under the account's limits (the
/// check admitted first, its outcome recorded after): what a change that needs the password
/// again (a new password, an erasure) asks.
pub async fn prove_password(state: &AppState, user: &crate::users::User, password: String, ip: &str) -> Result<bool> {
    let check = admit_password_check(state, &user.email, ip).await?;
    let proven = state.hasher.verify(password, Some(user.password_hash.clone())).await;
    // A hash that could not run (no slot in time) proved nothing either way.
    check.settle(state, matches!(proven, Ok(false))).await;
    proven
}

/// A password check admitted by [`admit_password_check`]: settle it with the outcome.
#[must_use = "a check holds its account until it is settled"]
pub struct PasswordCheck {
    account: String,
    ip: String,
    token: String,
    in_redis: bool,
}

/// Admits one password check on `account` from `ip`, or refuses it (429) before any hashing
/// is spent on it. See [`Policy`].
pub async fn admit_password_check(state: &AppState, account: &str, ip: &str) -> Result<PasswordCheck> {
    let policy = Policy::of(state);
    // The deployment's prefix is part of the account's name in the fallback too.
    let account = state.cache.key(&account_key(account));
    let ip = pseudonym(ip);
    let token = uuid::Uuid::now_v7().to_string();
    let keys = [format!("{account}:check"), format!("{account}:ip:{ip}"), format!("{account}:backoff")];
    let args = [
        token.clone(),
        CHECK_HOLD.as_millis().to_string(),
        policy.budget.to_string(),
        policy.window.as_millis().max(1).to_string(),
    ];
    let (admitted, in_redis) = match state.cache.script("login_admit", &ADMIT_SCRIPT, &keys, &args).await {
        Some(answer) => match answer.as_slice() {
            [0, ..] => (Ok(()), true),
            [_, wait, ..] => (Err(Duration::from_millis((*wait).max(1) as u64)), true),
            _ => (Err(Duration::from_secs(1)), true),
        },
        None => (FALLBACK.admit(&account, &ip, &token, policy), false),
    };
    match admitted {
        Ok(()) => Ok(PasswordCheck { account, ip, token, in_redis }),
        Err(wait) => Err(Error::RateLimited { retry_after_secs: wait_secs(wait) }),
    }
}

impl PasswordCheck {
    /// Records the outcome of the hash — `failed` when the password was wrong — and lets the
    /// next check on the account start.
    pub async fn settle(self, state: &AppState, failed: bool) {
        let policy = Policy::of(state);
        if self.in_redis {
            let account = &self.account;
            let keys = [
                format!("{account}:check"),
                format!("{account}:ip:{}", self.ip),
                format!("{account}:backoff"),
                format!("{account}:failures"),
            ];
            let args = [
                self.token.clone(),
                if failed { "0" } else { "1" }.to_owned(),
                policy.budget.to_string(),
                policy.backoff_max.as_millis().max(1).to_string(),
                policy.window.as_millis().max(1).to_string(),
            ];
            if state.cache.script("login_settle", &SETTLE_SCRIPT, &keys, &args).await.is_some() {
                return;
            }
        }
        // Redis went away during the hash: this process remembers the failure instead.
        FALLBACK.settle(&self.account, &self.ip, &self.token, failed, policy);
    }
}

/// The same limits kept in this process while Redis is away: weaker than Redis's (an
/// attacker spread over many Lambda instances gets each one's budget), far stronger than none.
static FALLBACK: LazyLock<Fallback> = LazyLock::new(Fallback::default);

#[derive(Default)]
struct Fallback {
    accounts: Mutex<HashMap<String, AccountChecks>>,
}

#[derive(Default)]
struct AccountChecks {
    check: Option<(String, Instant)>,
    by_ip: HashMap<String, (u32, Instant)>,
    failures: (u32, Option<Instant>),
    backoff_until: Option<Instant>,
}

/// Accounts this process keeps before it drops those whose windows have ended.
const FALLBACK_ACCOUNTS: usize = 10_000;

impl Fallback {
    fn admit(&self, account: &str, ip: &str, token: &str, policy: Policy) -> std::result::Result<(), Duration> {
        let now = Instant::now();
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if accounts.len() >= FALLBACK_ACCOUNTS && !accounts.contains_key(account) {
            accounts.retain(|_, a| a.live(now));
            if accounts.len() >= FALLBACK_ACCOUNTS {
                return Err(Duration::from_secs(1));
            }
        }
        let a = accounts.entry(account.to_owned()).or_default();
        if let Some(until) = a.backoff_until.filter(|until| *until > now) {
            return Err(until - now);
        }
        let used = a.by_ip.get(ip).filter(|(_, until)| *until > now).copied();
        if let Some((_, until)) = used.filter(|(n, _)| *n >= policy.budget) {
            return Err(until - now);
        }
        if a.check.as_ref().is_some_and(|(_, until)| *until > now) {
            return Err(Duration::from_secs(1));
        }
        a.check = Some((token.to_owned(), now + CHECK_HOLD));
        let (n, until) = used.unwrap_or((0, now + policy.window));
        a.by_ip.insert(ip.to_owned(), (n + 1, until));
        Ok(())
    }

    fn settle(&self, account: &str, ip: &str, token: &str, failed: bool, policy: Policy) {
        let now = Instant::now();
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let a = accounts.entry(account.to_owned()).or_default();
        if a.check.as_ref().is_some_and(|(t, _)| t == token) {
            a.check = None;
        }
        if !failed {
            if let Some((n, _)) = a.by_ip.get_mut(ip) {
                *n = n.saturating_sub(1);
            }
            return;
        }
        let live = a.failures.1.is_some_and(|until| until > now);
        let n = if live { a.failures.0 + 1 } else { 1 };
        a.failures = (n, if live { a.failures.1 } else { Some(now + policy.window) });
        if let Some(backoff) = policy.backoff(n) {
            a.backoff_until = Some(now + backoff);
        }
    }
}

impl AccountChecks {
    fn live(&self, now: Instant) -> bool {
        self.check.as_ref().is_some_and(|(_, until)| *until > now)
            || self.by_ip.values().any(|(_, until)| *until > now)
            || self.failures.1.is_some_and(|until| until > now)
            || self.backoff_until.is_some_and(|until| until > now)
    }
}
