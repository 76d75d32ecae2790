//! What an event is made of, parsed at the edge: its name, its properties, its client id
//! and its time.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::lifecycle::{self, Source};
use crate::error::{Error, Result};

/// Most keys in `properties`, how deep it may nest, and how big it may be.
pub const MAX_PROPERTY_KEYS: usize = 50;
pub const MAX_PROPERTY_DEPTH: usize = 3;
pub const MAX_PROPERTY_BYTES: usize = 8 * 1024;
/// How far back a client's timestamp may go, and how far ahead of our clock.
pub const MAX_AGE_DAYS: i64 = 7;
pub const MAX_AHEAD_MINUTES: i64 = 5;

/// 1–64 characters of letters, digits and `_ . : - $`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventName(String);

impl EventName {
    pub fn parse(raw: &str) -> Result<Self> {
        let ok = (1..=64).contains(&raw.len())
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '$'));
        if !ok {
            return Err(Error::invalid_field("eventName", "eventName must be 1 to 64 letters, digits or _ . : - $"));
        }
        Ok(EventName(raw.to_owned()))
    }

    /// The name of an event `source` sends: as [`EventName::parse`], and none of the names
    /// GrowStack records itself unless the source is GrowStack.
    pub fn parse_sent(raw: &str, source: Source) -> Result<Self> {
        let name = Self::parse(raw)?;
        if source != Source::System && lifecycle::is_reserved(&name.0) {
            return Err(Error::invalid_field(
                "eventName",
                format!("eventName `{raw}` is reserved: GrowStack records it itself"),
            ));
        }
        Ok(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The client's id for an event, 1–64 printable characters: the event is stored once per
/// user however often it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientEventId(String);

impl ClientEventId {
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.is_empty() || raw.len() > 64 || raw.chars().any(|c| c.is_control()) {
            return Err(Error::invalid_field("eventId", "eventId must be 1 to 64 characters"));
        }
        Ok(ClientEventId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A JSON object of at most 50 keys, nested at most 3 levels, 8 KiB serialized.
pub fn parse_properties(raw: Option<Value>) -> Result<Value> {
    let value = match raw {
        None | Some(Value::Null) => return Ok(Value::Object(Default::default())),
        Some(value) => value,
    };
    let bad = |why: &str| Error::invalid_field("properties", format!("properties {why}"));
    let Value::Object(map) = &value else { return Err(bad("must be a JSON object")) };
    if map.len() > MAX_PROPERTY_KEYS {
        return Err(bad("may have at most 50 keys"));
    }
    if depth(&value) > MAX_PROPERTY_DEPTH {
        return Err(bad("may nest at most 3 levels deep"));
    }
    if value.to_string().len() > MAX_PROPERTY_BYTES {
        return Err(bad("may be at most 8 KiB"));
    }
    Ok(value)
}

/// When the event happened: the client's timestamp if it is within the last 7 days and at
/// most 5 minutes ahead of `now`, else a 400; without one, `now`.
pub fn occurred_at(raw: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let Some(raw) = raw else { return Ok(now) };
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| Error::invalid_field("timestamp", "timestamp must be an RFC 3339 time"))?
        .with_timezone(&Utc);
    if at < now - Duration::days(MAX_AGE_DAYS) {
        return Err(Error::invalid_field("timestamp", "timestamp is more than 7 days old"));
    }
    if at > now + Duration::minutes(MAX_AHEAD_MINUTES) {
        return Err(Error::invalid_field("timestamp", "timestamp is more than 5 minutes in the future"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        for good in ["signup", "screen:home", "a.b-c_d$e", &"x".repeat(64)] {
            assert!(EventName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "has space", "émoji", "semi;colon", &"x".repeat(65)] {
            assert!(EventName::parse(bad).is_err(), "{bad}");
        }
        for name in lifecycle::reserved_names() {
            assert!(EventName::parse(name).is_ok(), "{name} may be read");
            assert!(EventName::parse_sent(name, Source::Client).is_err(), "{name}");
            assert!(EventName::parse_sent(name, Source::Server).is_err(), "{name}");
            assert!(EventName::parse_sent(name, Source::System).is_ok(), "{name}");
        }
    }

    #[test]
    fn properties() {
        assert_eq!(parse_properties(None).unwrap(), json!({}));
        assert!(parse_properties(Some(json!({"a": {"b": {"c": 1}}}))).is_ok());
        assert!(parse_properties(Some(json!({"a": {"b": {"c": {"d": 1}}}}))).is_err(), "4 levels");
        assert!(parse_properties(Some(json!([1]))).is_err());
        let many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(parse_properties(Some(Value::Object(many))).is_err());
        assert!(parse_properties(Some(json!({"big": "x".repeat(9000)}))).is_err());
    }

    #[test]
    fn timestamps() {
        let now = Utc::now();
        assert_eq!(occurred_at(None, now).unwrap(), now);
        let six_days = (now - Duration::days(6)).to_rfc3339();
        assert!(occurred_at(Some(&six_days), now).is_ok());
        let eight_days = (now - Duration::days(8)).to_rfc3339();
        assert!(occurred_at(Some(&eight_days), now).is_err());
        let ahead = (now + Duration::minutes(6)).to_rfc3339();
        assert!(occurred_at(Some(&ahead), now).is_err());
        assert!(occurred_at(Some("yesterday"), now).is_err());
    }
}
