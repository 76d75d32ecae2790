//! What an experiment is made of, parsed at the edge: its key, its variants and their
//! weights, its metric, its targeting, and the moves its status may make.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::events::EventName;
use crate::macros::text_enum;
use crate::users::{OnboardingStep, Role};

text_enum!(Status { Draft => "draft", Active => "active", Paused => "paused", Completed => "completed" });

impl Status {
    /// draft → active ⇄ paused, and active or paused → completed; nothing else. Staying put
    /// is not a move (a retried PATCH succeeds).
    pub fn may_become(self, next: Status) -> bool {
        use Status::*;
        self == next
            || matches!(
                (self, next),
                (Draft, Active) | (Active, Paused) | (Paused, Active) | (Active | Paused, Completed)
            )
    }
}

/// `^[a-z0-9][a-z0-9-]{2,63}$`: what apps put in their code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key(String);

impl Key {
    pub fn parse(raw: &str) -> Result<Self> {
        let ok = (3..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-');
        if !ok {
            return Err(Error::invalid_field(
                "key",
                "key must be 3 to 64 lower-case letters, digits or dashes, not starting with a dash",
            ));
        }
        Ok(Key(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a path names an experiment: its id, or (for apps, which know keys) its key.
pub enum Reference {
    Id(Uuid),
    Key(Key),
}

impl Reference {
    /// `None` when `raw` is neither, which can only be a missing experiment.
    pub fn parse(raw: &str) -> Option<Self> {
        match Uuid::parse_str(raw) {
            Ok(id) => Some(Reference::Id(id)),
            Err(_) => Key::parse(raw).ok().map(Reference::Key),
        }
    }
}

/// The buckets a user may fall in: the first 8 bytes of SHA-256(`seed:user id`) as an
/// unsigned big-endian integer, modulo this.
pub const BUCKETS: u64 = 10_000;

/// The user's bucket in an experiment seeded with `seed`: the same in every process, forever.
pub fn bucket(seed: &str, user: Uuid) -> u64 {
    let digest = Sha256::digest(format!("{seed}:{user}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

/// One arm of an experiment.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ExperimentVariant)]
pub struct Variant {
    /// Unique within the experiment; no control characters.
    #[schema(min_length = 1, max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$", example = "control")]
    pub name: String,
    /// Its share of the traffic against the others' weights, which sum to 1 or to 100; at
    /// least 1/10,000 of the total.
    #[schema(exclusive_minimum = 0, example = 50)]
    pub weight: f64,
    /// What the app does in this variant: a JSON object of at most 4 KiB, or null.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Value,
}

/// 2–10 variants with unique names, the first the control, whose positive weights sum to 1
/// or to 100, and each large enough to get at least one bucket.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Variants(Vec<Variant>);

impl Variants {
    pub fn parse(raw: Vec<Variant>) -> Result<Self> {
        if !(2..=10).contains(&raw.len()) {
            return Err(Error::invalid_field("variants", "an experiment has 2 to 10 variants, the first the control"));
        }
        for (i, v) in raw.iter().enumerate() {
            let field = |f: &str| format!("variants[{i}].{f}");
            let name_ok = (1..=64).contains(&v.name.chars().count()) && !v.name.chars().any(char::is_control);
            if !name_ok {
                return Err(Error::invalid_field(&field("name"), "a variant's name is 1 to 64 characters"));
            }
            if raw[..i].iter().any(|o| o.name == v.name) {
                return Err(Error::invalid_field(&field("name"), format!("variant name {:?} is used twice", v.name)));
            }
            if !(v.weight.is_finite() && v.weight > 0.0) {
                return Err(Error::invalid_field(&field("weight"), "a variant's weight is a positive number"));
            }
            if !(v.config.is_null() || v.config.is_object()) {
                return Err(Error::invalid_field(&field("config"), "a variant's config is a JSON object"));
            }
            if v.config.to_string().len() > 4096 {
                return Err(Error::invalid_field(&field("config"), "a variant's config is at most 4 KiB"));
            }
        }
        let sum: f64 = raw.iter().map(|v| v.weight).sum();
        if (sum - 1.0).abs() > 1e-9 && (sum - 100.0).abs() > 1e-7 {
            return Err(Error::invalid_field("variants", format!("the weights sum to {sum}, not to 1 or to 100")));
        }
        let variants = Variants(raw);
        let bounds = variants.bounds();
        if let Some(i) = (0..bounds.len()).find(|&i| bounds[i] == if i == 0 { 0 } else { bounds[i - 1] }) {
            return Err(Error::invalid_field(
                &format!("variants[{i}].weight"),
                "a variant's weight is at least 1/10,000 of the total, or it gets no users",
            ));
        }
        Ok(variants)
    }

    pub fn all(&self) -> &[Variant] {
        &self.0
    }

    pub fn control(&self) -> &Variant {
        &self.0[0]
    }

    /// Each variant's share of the traffic, summing to 1.
    pub fn shares(&self) -> Vec<f64> {
        let sum: f64 = self.0.iter().map(|v| v.weight).sum();
        self.0.iter().map(|v| v.weight / sum).collect()
    }

    /// The exclusive upper bucket of each variant on the cumulative weights; the last is
    /// [`BUCKETS`].
    fn bounds(&self) -> Vec<u64> {
        let sum: f64 = self.0.iter().map(|v| v.weight).sum();
        let mut cumulative = 0.0;
        let mut bounds: Vec<u64> = self
            .0
            .iter()
            .map(|v| {
                cumulative += v.weight;
                ((cumulative / sum) * BUCKETS as f64).round() as u64
            })
            .collect();
        if let Some(last) = bounds.last_mut() {
            *last = BUCKETS;
        }
        bounds
    }

    /// The variant of a user in `bucket`.
    pub fn pick(&self, bucket: u64) -> &Variant {
        let index = self.bounds().iter().position(|&bound| bucket < bound).unwrap_or(self.0.len() - 1);
        &self.0[index]
    }
}

/// What counts as a conversion: the event, done within `window_hours` of the first exposure.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ExperimentMetric)]
pub struct Metric {
    /// The event that counts as a conversion.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_.:$-]+$", example = "kyc_completed")]
    pub event_name: String,
    /// Hours after the first exposure within which it counts.
    #[serde(default = "default_window")]
    #[schema(minimum = 1, maximum = 720, default = 168)]
    pub window_hours: i32,
    /// Whose events count: `any` (the default: a user's app or the operator's server), or
    /// `server` — only events the operator's server sent with an API key, which no client can
    /// forge. Money conversions (a first deposit, a loan repaid) should be `server`.
    #[serde(default = "any_source")]
    #[schema(default = "any")]
    pub source: MetricSource,
}

crate::macros::text_enum!(
    /// Whose events an experiment's metric counts.
    MetricSource { Any => "any", Server => "server" }
);

fn any_source() -> MetricSource {
    MetricSource::Any
}

fn default_window() -> i32 {
    168
}

impl Metric {
    pub fn parse(raw: Metric) -> Result<Self> {
        let name = EventName::parse(&raw.event_name)
            .map_err(|_| Error::invalid_field("metric.eventName", "metric.eventName must be an event name"))?;
        if !(1..=720).contains(&raw.window_hours) {
            return Err(Error::invalid_field("metric.windowHours", "metric.windowHours must be 1 to 720"));
        }
        Ok(Metric { event_name: name.as_str().to_owned(), window_hours: raw.window_hours, source: raw.source })
    }
}

/// Who takes part; an absent field takes everyone.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ExperimentTargeting)]
pub struct Targeting {
    /// Only callers with one of these roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub roles: Option<Vec<Role>>,
    /// Only users now at one of these onboarding steps (checked at their first exposure).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub onboarding_steps: Option<Vec<OnboardingStep>>,
    /// Only users who signed up with a referral code (`true`) or without one (`false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referred: Option<bool>,
}

impl Targeting {
    pub fn check(self) -> Result<Self> {
        if self.roles.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::invalid_field("targeting.roles", "targeting.roles lists at least one role"));
        }
        if self.onboarding_steps.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::invalid_field(
                "targeting.onboardingSteps",
                "targeting.onboardingSteps lists at least one step",
            ));
        }
        Ok(self)
    }

    /// Whether a caller of `role` may be in; the rest is the user's row, checked in SQL.
    pub fn admits_role(&self, role: Role) -> bool {
        self.roles.as_ref().is_none_or(|roles| roles.contains(&role))
    }

    pub fn steps(&self) -> Option<Vec<&'static str>> {
        self.onboarding_steps.as_ref().map(|steps| steps.iter().map(|s| s.as_str()).collect())
    }
}

/// A fresh seed: 128 random bits, in hex.
pub fn new_seed() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn variants(weights: &[f64]) -> Result<Variants> {
        let raw = weights
            .iter()
            .enumerate()
            .map(|(i, w)| Variant { name: format!("v{i}"), weight: *w, config: Value::Null })
            .collect();
        Variants::parse(raw)
    }

    #[test]
    fn weights_sum_to_one_or_a_hundred() {
        assert!(variants(&[0.5, 0.5]).is_ok());
        assert!(variants(&[50.0, 50.0]).is_ok());
        assert!(variants(&[0.1, 0.2, 0.7]).is_ok(), "0.1 + 0.2 + 0.7 is 1 within rounding");
        assert!(variants(&[33.3, 33.3, 33.4]).is_ok());
        for bad in
            [&[0.5, 0.4][..], &[0.9][..], &[1.0, 0.0][..], &[-0.5, 1.5][..], &[f64::NAN, 1.0][..], &[0.6, 0.6][..]]
        {
            assert!(variants(bad).is_err(), "{bad:?}");
        }
        assert!(variants(&[0.00001, 0.99999]).is_err(), "a variant too small for one bucket");
        assert!(variants(&[0.1; 11]).is_err(), "more than 10 variants");
    }

    #[test]
    fn names_are_unique_and_configs_objects() {
        let same = vec![
            Variant { name: "a".into(), weight: 0.5, config: Value::Null },
            Variant { name: "a".into(), weight: 0.5, config: Value::Null },
        ];
        let e = Variants::parse(same).unwrap_err();
        assert!(matches!(e, Error::Validation { details: Some(ref d), .. } if d["field"] == "variants[1].name"));
        let list = vec![
            Variant { name: "a".into(), weight: 0.5, config: json!([1]) },
            Variant { name: "b".into(), weight: 0.5, config: Value::Null },
        ];
        assert!(Variants::parse(list).is_err());
    }

    #[test]
    fn keys() {
        for good in ["abc", "new-onboarding-2", &"a".repeat(64)] {
            assert!(Key::parse(good).is_ok(), "{good}");
        }
        for bad in ["ab", "-abc", "Abc", "a_b_c", "a b c", &"a".repeat(65)] {
            assert!(Key::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_moves() {
        use Status::*;
        let allowed = [(Draft, Active), (Active, Paused), (Paused, Active), (Active, Completed), (Paused, Completed)];
        for from in Status::ALL {
            for to in Status::ALL {
                let expected = from == to || allowed.contains(&(*from, *to));
                assert_eq!(from.may_become(*to), expected, "{from:?} → {to:?}");
            }
        }
    }

    /// The bucket is SHA-256's first 8 bytes, big-endian, modulo 10,000: worked out by hand
    /// from `printf 'seed-1:00000000-0000-0000-0000-000000000001' | sha256sum`.
    #[test]
    fn the_bucket_is_the_documented_hash() {
        let user = Uuid::from_u128(1);
        let digest = Sha256::digest(b"seed-1:00000000-0000-0000-0000-000000000001");
        let expected = u64::from_str_radix(&hex::encode(&digest[..8]), 16).unwrap() % 10_000;
        assert_eq!(bucket("seed-1", user), expected);
        assert_eq!(bucket("seed-1", user), bucket("seed-1", user));
        assert_ne!(bucket("seed-1", user), bucket("seed-2", user), "another seed splits users anew");
    }

    /// The shares of `users` generated ids (v7-shaped, as ours are, in sequence: the hash
    /// does not care how alike they look), so the test is the same on every run.
    fn split(weights: &[f64], users: u128) -> Vec<f64> {
        let v = variants(weights).unwrap();
        let seed = "3f6c1a0e9b2d4c8f";
        let mut counts = vec![0usize; weights.len()];
        for i in 0..users {
            let user = Uuid::from_u128(0x0193_7a2c_5e10_7000_8000_0000_0000_0000 + i * 7919);
            let name = &v.pick(bucket(seed, user)).name;
            counts[v.all().iter().position(|x| &x.name == name).unwrap()] += 1;
        }
        counts.iter().map(|&c| c as f64 / users as f64).collect()
    }

    #[test]
    fn ten_thousand_users_split_as_weighted() {
        let halves = split(&[0.5, 0.5], 10_000);
        assert!(halves.iter().all(|s| (s - 0.5).abs() <= 0.02), "{halves:?}");
        let tenth = split(&[10.0, 90.0], 10_000);
        assert!((tenth[0] - 0.1).abs() <= 0.015 && (tenth[1] - 0.9).abs() <= 0.015, "{tenth:?}");
    }

    #[test]
    fn buckets_map_onto_cumulative_weights() {
        let v = variants(&[0.1, 0.2, 0.7]).unwrap();
        assert_eq!(v.pick(0).name, "v0");
        assert_eq!(v.pick(999).name, "v0");
        assert_eq!(v.pick(1000).name, "v1");
        assert_eq!(v.pick(2999).name, "v1");
        assert_eq!(v.pick(3000).name, "v2");
        assert_eq!(v.pick(9999).name, "v2");
    }
}
