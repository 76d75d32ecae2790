//! `POST /api/events/track` and `/batch`, `GET /api/events` and `/api/events/stats`.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::repo::{self, Event, Filter, NewEvent};
use super::types::{occurred_at, parse_properties, ClientEventId, EventName};
use crate::app::{AppState, Endpoint};
use crate::auth::AuthUser;
use crate::error::{Error, Result};
use crate::http::{created, ok, ClientInfo, DateRange, JsonBody, QueryParams};
use crate::uses::Resource;

pub const TRACK: Endpoint = Endpoint {
    function: "events-track",
    method: Method::POST,
    path: "/api/events/track",
    route: || post(track),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const BATCH: Endpoint = Endpoint {
    function: "events-batch",
    method: Method::POST,
    path: "/api/events/batch",
    route: || post(batch),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LIST: Endpoint = Endpoint {
    function: "events-list",
    method: Method::GET,
    path: "/api/events",
    route: || get(list),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const STATS: Endpoint = Endpoint {
    function: "events-stats",
    method: Method::GET,
    path: "/api/events/stats",
    route: || get(stats),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

/// Most events one batch may carry.
pub const MAX_BATCH: usize = 500;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventBody {
    event_name: String,
    properties: Option<Value>,
    metadata: Option<Value>,
    event_id: Option<String>,
    timestamp: Option<String>,
}

impl EventBody {
    /// The event as we store it: checked, with the server's view of who sent it.
    fn parse(self, client: &ClientInfo, now: DateTime<Utc>) -> Result<NewEvent> {
        let name = EventName::parse(&self.event_name)?;
        let client_id = self.event_id.as_deref().map(ClientEventId::parse).transpose()?;
        let properties = parse_properties(self.properties)?;
        let mut metadata = match self.metadata {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) if Value::Object(map.clone()).to_string().len() <= 2048 => map,
            Some(_) => return Err(Error::invalid_field("metadata", "metadata must be a JSON object of at most 2 KiB")),
        };
        // What the client says about its own IP and agent is not evidence: ours overwrites it.
        metadata.insert("ip".into(), json!(client.ip));
        metadata.insert("userAgent".into(), json!(client.user_agent));
        Ok(NewEvent {
            id: Uuid::now_v7(),
            name: name.as_str().to_owned(),
            client_id: client_id.map(|c| c.as_str().to_owned()),
            properties,
            metadata: Value::Object(metadata),
            occurred_at: occurred_at(self.timestamp.as_deref(), now)?,
        })
    }
}

/// An event as `track` answers it.
fn answer(id: Uuid, name: &str, properties: &Value, occurred_at: DateTime<Utc>, received_at: DateTime<Utc>) -> Value {
    json!({ "id": id, "eventName": name, "properties": properties, "occurredAt": occurred_at, "receivedAt": received_at })
}

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn track(
    caller: AuthUser,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<EventBody>,
) -> Result<Response> {
    let event = body.parse(&client, Utc::now())?;
    let conn = state.db.writer().await?;
    let stored = repo::insert(&conn, caller.id, std::slice::from_ref(&event)).await?;
    let Some((_, received_at)) = stored.first() else {
        // Sent before under this client id: the answer is the event as first stored.
        let client_id = event.client_id.as_deref().unwrap_or_default();
        let first = repo::by_client_id(&conn, caller.id, client_id).await?.ok_or(Error::Conflict("event changed"))?;
        let first = answer(first.id, &first.event_name, &first.properties, first.occurred_at, first.received_at);
        return Ok(ok(json!({ "event": first, "duplicate": true })));
    };
    Ok(created(json!({ "event": answer(event.id, &event.name, &event.properties, event.occurred_at, *received_at) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    events: Vec<Value>,
}

/// Up to 500 events in one statement; a bad item rejects that item only.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn batch(
    caller: AuthUser,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<BatchBody>,
) -> Result<Response> {
    if body.events.len() > MAX_BATCH {
        return Err(Error::invalid_field("events", "a batch carries at most 500 events"));
    }
    let now = Utc::now();
    let mut accepted = Vec::with_capacity(body.events.len());
    let mut rejected = Vec::new();
    for (index, item) in body.events.into_iter().enumerate() {
        let parsed = serde_json::from_value::<EventBody>(item)
            .map_err(|e| Error::validation(format!("invalid event: {e}")))
            .and_then(|b| b.parse(&client, now));
        match parsed {
            Ok(event) => accepted.push(event),
            Err(e) => rejected.push(json!({ "index": index, "code": "VALIDATION_ERROR", "message": e.to_string() })),
        }
    }
    let stored = if accepted.is_empty() {
        Vec::new()
    } else {
        repo::insert(&state.db.writer().await?, caller.id, &accepted).await?
    };
    Ok(ok(json!({
        "accepted": stored.len(),
        "duplicates": accepted.len() - stored.len(),
        "rejected": rejected,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    cursor: Option<String>,
    event_name: Option<String>,
    user_id: Option<Uuid>,
}

/// Whose events the caller asks for: their own, or (staff who read analytics) anyone's.
fn subject(caller: &AuthUser, user_id: Option<Uuid>) -> Result<Uuid> {
    match user_id {
        None => Ok(caller.id),
        Some(id) if id == caller.id => Ok(id),
        Some(id) if caller.role.reads_analytics() => Ok(id),
        Some(_) => Err(Error::Forbidden("only staff may read other users' events")),
    }
}

fn filter(caller: &AuthUser, user_id: Option<Uuid>, name: Option<String>, range: &DateRange) -> Result<Filter> {
    let (from, to) = range.bounds()?;
    let name =
        name.filter(|n| !n.is_empty()).map(|n| EventName::parse(&n).map(|n| n.as_str().to_owned())).transpose()?;
    Ok(Filter { user: subject(caller, user_id)?, name, from, to })
}

fn encode_cursor(event: &Event) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", event.occurred_at.to_rfc3339(), event.id))
}

fn decode_cursor(raw: &str) -> Result<(DateTime<Utc>, Uuid)> {
    let bad = || Error::invalid_field("cursor", "cursor is not one this API gave");
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok((DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc), id.parse().map_err(|_| bad())?))
}

/// The caller's events, newest first: keyset pages with `cursor`, or `offset` with a total
/// (the Node version's shape).
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn list(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid_field("limit", "limit must be between 1 and 100"));
    }
    if q.cursor.is_some() && q.offset.is_some() {
        return Err(Error::validation("give cursor or offset, not both"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::invalid_field("offset", "offset must not be negative"));
    }
    let filter = filter(&caller, q.user_id, q.event_name, &range)?;
    let before = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let conn = state.db.reader().await?;
    let events = repo::page(&conn, &filter, before, limit, offset).await?;
    let next = (events.len() as i64 == limit).then(|| events.last().map(encode_cursor)).flatten();
    let mut data = json!({ "events": events, "nextCursor": next });
    if before.is_none() {
        data["total"] = json!(repo::count(&conn, &filter).await?);
    }
    Ok(ok(data))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatsQuery {
    event_name: Option<String>,
    user_id: Option<Uuid>,
}

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn stats(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<StatsQuery>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let filter = filter(&caller, q.user_id, q.event_name, &range)?;
    let stats = repo::stats(&state.db.reader().await?, &filter).await?;
    Ok(ok(json!({ "stats": stats })))
}
