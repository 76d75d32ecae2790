//! Fraud checks at referral time. Self-referral is refused outright; the other signals add
//! to a score, and a referral at or above the threshold is recorded as `failed` and is
//! never rewarded. Pure functions over signals the repository gathers in one statement.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Serialize;

use crate::error::{Error, Result};

/// What we know about the referrer, for comparison.
#[derive(Debug, Clone)]
pub struct Referrer {
    pub id: uuid::Uuid,
    pub email: String,
    pub phone: Option<String>,
    pub device_fingerprint: Option<String>,
    pub signup_ip: Option<String>,
    pub last_ip: Option<String>,
}

/// What we know about the person signing up with the referrer's code.
#[derive(Debug, Clone)]
pub struct Referee<'a> {
    pub email: &'a str,
    pub phone: &'a str,
    pub device_fingerprint: Option<&'a str>,
    pub ip: &'a str,
}

/// What the database says about the referrer's recent referrals.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// Referred sign-ups in the last hour, before this one.
    pub last_hour: i64,
    /// Whether another user this referrer referred used the same device.
    pub device_seen_among_referrals: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub threshold: i32,
    pub velocity_per_hour: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub score: i32,
    pub reasons: Vec<&'static str>,
}

impl Assessment {
    pub fn failed(&self, rules: &Rules) -> bool {
        self.score >= rules.threshold
    }
}

const SAME_IP: i32 = 40;
const SHARED_DEVICE: i32 = 40;
const DISPOSABLE_EMAIL: i32 = 50;
const VELOCITY: i32 = 40;

/// `ada+promo@x.io` and `ada@x.io` reach the same inbox.
fn mailbox(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => email.to_owned(),
    }
}

/// Refuses a referral of oneself: the same mailbox, phone or device as the referrer.
pub fn ensure_not_self(referrer: &Referrer, referee: &Referee) -> Result<()> {
    let same_mailbox = mailbox(&referrer.email) == mailbox(referee.email);
    let same_phone = referrer.phone.as_deref() == Some(referee.phone);
    let same_device =
        referee.device_fingerprint.is_some() && referrer.device_fingerprint.as_deref() == referee.device_fingerprint;
    if same_mailbox || same_phone || same_device {
        return Err(Error::invalid_field("referralCode", "you cannot refer yourself"));
    }
    Ok(())
}

pub fn assess(referrer: &Referrer, referee: &Referee, history: History, rules: &Rules) -> Assessment {
    let mut score = 0;
    let mut reasons = Vec::new();
    let mut add = |points, reason| {
        score += points;
        reasons.push(reason);
    };
    if [&referrer.signup_ip, &referrer.last_ip].iter().any(|ip| ip.as_deref() == Some(referee.ip))
        && referee.ip != "unknown"
    {
        add(SAME_IP, "same_ip_as_referrer");
    }
    if history.device_seen_among_referrals {
        add(SHARED_DEVICE, "device_shared_with_other_referral");
    }
    if is_disposable(referee.email) {
        add(DISPOSABLE_EMAIL, "disposable_email_domain");
    }
    if history.last_hour >= rules.velocity_per_hour {
        add(VELOCITY, "referrer_velocity");
    }
    Assessment { score: score.min(100), reasons }
}

fn disposable_domains() -> &'static HashSet<&'static str> {
    static DOMAINS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    DOMAINS.get_or_init(|| {
        include_str!("../../data/disposable_domains.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether the address is at a disposable domain (or a subdomain of one).
pub fn is_disposable(email: &str) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else { return false };
    let domains = disposable_domains();
    let mut rest = domain;
    loop {
        if domains.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referrer() -> Referrer {
        Referrer {
            id: uuid::Uuid::nil(),
            email: "ada@example.com".into(),
            phone: Some("+2348000000001".into()),
            device_fingerprint: Some("dev-a".into()),
            signup_ip: Some("1.1.1.1".into()),
            last_ip: Some("2.2.2.2".into()),
        }
    }

    fn referee<'a>(email: &'a str, ip: &'a str) -> Referee<'a> {
        Referee { email, phone: "+2348000000002", device_fingerprint: Some("dev-b"), ip }
    }

    const RULES: Rules = Rules { threshold: 70, velocity_per_hour: 5 };
    const CLEAN: History = History { last_hour: 0, device_seen_among_referrals: false };

    #[test]
    fn self_referral_is_refused() {
        let r = referrer();
        assert!(ensure_not_self(&r, &referee("ada+2@example.com", "9.9.9.9")).is_err());
        assert!(ensure_not_self(&r, &Referee { phone: "+2348000000001", ..referee("x@y.io", "9.9.9.9") }).is_err());
        assert!(ensure_not_self(&r, &Referee { device_fingerprint: Some("dev-a"), ..referee("x@y.io", "9.9.9.9") })
            .is_err());
        assert!(ensure_not_self(&r, &referee("grace@example.com", "9.9.9.9")).is_ok());
    }

    #[test]
    fn signals_add_up_to_a_failure() {
        let r = referrer();
        let clean = assess(&r, &referee("grace@example.com", "9.9.9.9"), CLEAN, &RULES);
        assert_eq!(clean, Assessment { score: 0, reasons: vec![] });
        let ip = assess(&r, &referee("grace@example.com", "2.2.2.2"), CLEAN, &RULES);
        assert_eq!(ip.reasons, vec!["same_ip_as_referrer"]);
        assert!(!ip.failed(&RULES));
        let disposable = assess(&r, &referee("grace@mailinator.com", "9.9.9.9"), CLEAN, &RULES);
        assert_eq!(disposable.score, 50);
        let fast = History { last_hour: 5, ..CLEAN };
        let both = assess(&r, &referee("grace@sub.yopmail.com", "9.9.9.9"), fast, &RULES);
        assert_eq!(both.reasons, vec!["disposable_email_domain", "referrer_velocity"]);
        assert!(both.failed(&RULES));
        assert!(!assess(&r, &referee("g@e.com", "9.9.9.9"), History { last_hour: 4, ..CLEAN }, &RULES).failed(&RULES));
    }

    #[test]
    fn disposable_list_loads() {
        assert!(is_disposable("a@mailinator.com"));
        assert!(is_disposable("a@x.guerrillamail.com"));
        assert!(!is_disposable("a@gmail.com"));
        assert!(!is_disposable("a@com"));
    }
}
