//! `POST /api/events/track` and `/batch`, `GET /api/events` and `/api/events/stats`.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::openapi::ObjectBuilder;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::lifecycle::{self, Source};
use super::repo::{self, Event, Filter, NewEvent, Stats};
use super::types::{occurred_at, parse_properties, ClientEventId, EventName, MAX_PROPERTY_KEYS};
use crate::apikeys::{KeyCaller, OrKey, Scope};
use crate::auth::AuthUser;
use crate::db::Conn;
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{created, ok, ClientInfo, DateRange, JsonBody, QueryParams};
use crate::openapi::{self, ErrorCode, Ok};
use crate::state::AppState;
use crate::uses::Resource;

pub const TRACK: Endpoint = Endpoint {
    function: "events-track",
    method: Method::POST,
    path: "/api/events/track",
    route: || post(track),
    doc: openapi::describe::<__path_track>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const BATCH: Endpoint = Endpoint {
    function: "events-batch",
    method: Method::POST,
    path: "/api/events/batch",
    route: || post(batch),
    doc: openapi::describe::<__path_batch>,
    tier: Tier::Standard,
    key_scope: Some(Scope::EventsWrite),
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LIST: Endpoint = Endpoint {
    function: "events-list",
    method: Method::GET,
    path: "/api/events",
    route: || get(list),
    doc: openapi::describe::<__path_list>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const STATS: Endpoint = Endpoint {
    function: "events-stats",
    method: Method::GET,
    path: "/api/events/stats",
    route: || get(stats),
    doc: openapi::describe::<__path_stats>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

/// Most events one batch may carry.
pub const MAX_BATCH: usize = 500;

/// An event as a client sends it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EventBody {
    #[schema(schema_with = event_name_schema)]
    event_name: String,
    #[schema(schema_with = properties_schema)]
    properties: Option<Value>,
    /// About the client, at most 2 KiB serialized; the server sets `ip` and `userAgent` in it
    /// itself. Null or left out for none.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// The client's id for the event, 1 to 64 bytes of UTF-8 without control characters: an
    /// event is stored once per user however often it is sent with the same id.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$")]
    event_id: Option<String>,
    /// When it happened (RFC 3339): within the last 7 days and at most 5 minutes ahead of the
    /// server's clock. The time it arrives when left out.
    #[schema(format = DateTime)]
    timestamp: Option<String>,
}

/// `eventName`: what `EventName::parse_sent` accepts, the reserved names listed.
fn event_name_schema() -> utoipa::openapi::Object {
    let reserved = lifecycle::reserved_names().iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some("^[A-Za-z0-9_.:$-]+$"))
        .examples([json!("screen:home")])
        .description(Some(format!(
            "Letters, digits and `_ . : - $`. Not one of the names GrowStack records itself (a 400 naming \
             `eventName`): {reserved}."
        )))
        .build()
}

/// `properties`: what `types::parse_properties` accepts.
fn properties_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(MAX_PROPERTY_KEYS))
        .description(Some(
            "What happened: an object of at most 50 keys, nested at most 3 levels, 8 KiB serialized. \
             Null or left out for none.",
        ))
        .build()
}

impl EventBody {
    /// The event as we store it: checked, with the server's view of who sent it (`client`:
    /// a user's app; `None`: the operator's server, whose address says nothing of the user).
    fn parse(self, client: Option<&ClientInfo>, now: DateTime<Utc>) -> Result<NewEvent> {
        let source = if client.is_some() { Source::Client } else { Source::Server };
        let name = EventName::parse_sent(&self.event_name, source)?;
        let client_id = self.event_id.as_deref().map(ClientEventId::parse).transpose()?;
        let properties = parse_properties(self.properties)?;
        let mut metadata = match self.metadata {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) if Value::Object(map.clone()).to_string().len() <= 2048 => map,
            Some(_) => return Err(Error::invalid_field("metadata", "metadata must be a JSON object of at most 2 KiB")),
        };
        // What the client says about its own IP and agent is not evidence: ours overwrites it.
        match client {
            Some(client) => {
                metadata.insert("ip".into(), json!(client.ip));
                metadata.insert("userAgent".into(), json!(client.user_agent));
            }
            None => {
                metadata.remove("ip");
                metadata.remove("userAgent");
            }
        }
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
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TrackedEvent {
    id: Uuid,
    event_name: String,
    #[schema(value_type = Object)]
    properties: Value,
    occurred_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
}

/// A tracked event.
#[derive(Serialize, ToSchema)]
struct Tracked {
    event: TrackedEvent,
    /// `true` when the event was sent before under its `eventId`; left out otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

#[utoipa::path(post, path = "/api/events/track", security(("bearer" = [])), request_body = EventBody,
    responses((status = 201, description = "The event, stored.", body = Ok<Tracked>),
        (status = 200, description = "Sent before under this `eventId`: the event as first stored, with `duplicate`.", body = Ok<Tracked>),
        (status = 403, description = "The account is blocked."),
        (status = 409, description = "The event first stored under this `eventId` is no longer kept."),
        (status = 429, description = "Past the user's events per minute (`EVENTS_PER_USER_PER_MINUTE`, default 600); \
            retry after `Retry-After` seconds.")))]
/// Tracks an event for the caller.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn track(
    caller: AuthUser,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<EventBody>,
) -> Result<Response> {
    let now = Utc::now();
    let event = body.parse(Some(&client), now)?;
    take_budget(&state, caller.id, 1).await?;
    let conn = state.db.writer().await?;
    let stored = insert(&state, &conn, caller.id, now, std::slice::from_ref(&event)).await?;
    let Some((_, received_at)) = stored.first() else {
        // Sent before under this client id: the answer is the event as first stored.
        let client_id = event.client_id.as_deref().unwrap_or_default();
        let first = repo::by_client_id(&conn, caller.id, client_id).await?.ok_or(Error::Conflict("event changed"))?;
        let event = TrackedEvent {
            id: first.id,
            event_name: first.event_name,
            properties: first.properties,
            occurred_at: first.occurred_at,
            received_at: first.received_at,
        };
        return Ok(ok(Tracked { event, duplicate: true }));
    };
    let event = TrackedEvent {
        id: event.id,
        event_name: event.name,
        properties: event.properties,
        occurred_at: event.occurred_at,
        received_at: *received_at,
    };
    Ok(created(Tracked { event, duplicate: false }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventBatch {
    /// Up to 500 events, each an `EventBody`; an item that is not one is rejected alone, in
    /// the answer's `rejected`. Sent with an API key, each item also names its user in
    /// `userId` (an account that exists).
    #[schema(value_type = Vec<Value>, max_items = 500)]
    events: Vec<Value>,
}

/// What a batch did.
#[derive(Serialize, ToSchema)]
struct EventBatchResult {
    /// Events stored.
    accepted: usize,
    /// Valid events not stored again: their `eventId` was sent before (or earlier in the batch).
    duplicates: usize,
    rejected: Vec<RejectedEvent>,
}

/// An item of a batch that is not a valid event.
#[derive(Serialize, ToSchema)]
struct RejectedEvent {
    /// Its place in `events`, from 0.
    index: usize,
    /// Always `VALIDATION_ERROR`.
    code: ErrorCode,
    message: String,
}

#[utoipa::path(post, path = "/api/events/batch", security(("bearer" = [])), request_body = EventBatch,
    responses((status = 200, description = "How many events were stored, and which items were rejected.", body = Ok<EventBatchResult>),
        (status = 403, description = "The account is blocked, or the API key lacks `events:write`."),
        (status = 429, description = "The batch does not fit in the user's events per minute \
            (`EVENTS_PER_USER_PER_MINUTE`, default 600; every item counts); nothing was stored. Retry after \
            `Retry-After` seconds.")))]
/// Tracks up to 500 events for the caller at once; with an API key, for any users.
///
/// A bad item rejects that item only. With an `events:write` key (the operator's server:
/// a deposit, a card activated), each item names its user in `userId`, and the events are
/// stored with source `server`: they count as the user's activity, and an experiment metric
/// with `"source": "server"` counts only them, since no client can send one.
#[tracing::instrument(skip_all, fields(user_id))]
async fn batch(
    caller: OrKey<AuthUser>,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<EventBatch>,
) -> Result<Response> {
    if body.events.len() > MAX_BATCH {
        return Err(Error::invalid_field("events", "a batch carries at most 500 events"));
    }
    match caller {
        OrKey::User(user) => user_batch(user, client, state, body).await,
        OrKey::Key(key) => server_batch(key, state, body).await,
    }
}

/// A signed-in user's batch: their own events.
async fn user_batch(caller: AuthUser, client: ClientInfo, state: AppState, body: EventBatch) -> Result<Response> {
    tracing::Span::current().record("user_id", tracing::field::display(caller.id));
    take_budget(&state, caller.id, body.events.len() as u64).await?;
    let now = Utc::now();
    let mut accepted = Vec::with_capacity(body.events.len());
    let mut rejected = Vec::new();
    for (index, item) in body.events.into_iter().enumerate() {
        let parsed = serde_json::from_value::<EventBody>(item)
            .map_err(|e| Error::validation(format!("invalid event: {e}")))
            .and_then(|b| b.parse(Some(&client), now));
        match parsed {
            Ok(event) => accepted.push(event),
            Err(e) => rejected.push(RejectedEvent { index, code: ErrorCode::ValidationError, message: e.to_string() }),
        }
    }
    let stored = if accepted.is_empty() {
        Vec::new()
    } else {
        insert(&state, &state.db.writer().await?, caller.id, now, &accepted).await?
    };
    Ok(ok(EventBatchResult { accepted: stored.len(), duplicates: accepted.len() - stored.len(), rejected }))
}

/// The operator's server's batch, with an `events:write` key: each item names its user, who
/// must exist. Stored in one transaction with the audit row of the key's write.
async fn server_batch(key: KeyCaller, state: AppState, body: EventBatch) -> Result<Response> {
    let now = Utc::now();
    let mut parsed = Vec::with_capacity(body.events.len());
    let mut rejected = Vec::new();
    let reject = |index, message: String| RejectedEvent { index, code: ErrorCode::ValidationError, message };
    for (index, item) in body.events.into_iter().enumerate() {
        let mut item = match item {
            Value::Object(map) => map,
            _ => {
                rejected.push(reject(index, "invalid event: an event is an object".to_owned()));
                continue;
            }
        };
        let user = match item.remove("userId").map(serde_json::from_value::<Uuid>) {
            Some(Ok(user)) => user,
            Some(Err(_)) => {
                rejected.push(reject(index, "userId must be a user's id".to_owned()));
                continue;
            }
            None => {
                rejected.push(reject(index, "userId is required with an API key: whose event it is".to_owned()));
                continue;
            }
        };
        match serde_json::from_value::<EventBody>(Value::Object(item))
            .map_err(|e| Error::validation(format!("invalid event: {e}")))
            .and_then(|b| b.parse(None, now))
        {
            Ok(event) => parsed.push((index, user, event)),
            Err(e) => rejected.push(reject(index, e.to_string())),
        }
    }
    let conn = state.db.writer().await?;
    let users: Vec<Uuid> = parsed.iter().map(|(_, user, _)| *user).collect();
    let known = repo::existing_users(&conn, &users).await?;
    let mut by_user: std::collections::BTreeMap<Uuid, Vec<NewEvent>> = std::collections::BTreeMap::new();
    let mut valid = 0;
    for (index, user, event) in parsed {
        if known.contains(&user) {
            by_user.entry(user).or_default().push(event);
            valid += 1;
        } else {
            rejected.push(reject(index, format!("userId {user} is not a user")));
        }
    }
    rejected.sort_by_key(|r| r.index);
    let accepted = conn
        .atomically(async |conn| {
            let mut accepted = 0;
            for (user, events) in &by_user {
                accepted += repo::insert(conn, *user, Source::Server, true, now, events).await?.len();
            }
            let after = json!({
                "key": key.name, "accepted": accepted, "duplicates": valid - accepted,
                "rejected": rejected.len(), "users": by_user.len(),
            });
            crate::apikeys::audit(conn, key.id, "events", Uuid::now_v7(), "track", &after).await?;
            Ok(accepted)
        })
        .await?;
    Ok(ok(EventBatchResult { accepted, duplicates: valid - accepted, rejected }))
}

/// Stores a client's events, moving the user's `last_active_at` unless this process moved it
/// in the last few minutes (the statement would move it only by minutes anyway).
async fn insert(
    state: &AppState,
    conn: &Conn,
    user: Uuid,
    received: DateTime<Utc>,
    events: &[NewEvent],
) -> Result<Vec<(Uuid, DateTime<Utc>)>> {
    let key = user.to_string();
    let touch = state.active.get(&key).is_none();
    let stored = repo::insert(conn, user, Source::Client, touch, received, events).await?;
    if touch && !stored.is_empty() {
        state.active.put(&key, ());
    }
    Ok(stored)
}

/// Takes `n` events of the user's budget per minute (`EVENTS_PER_USER_PER_MINUTE`), every
/// item of a batch counting, or refuses them all (429).
async fn take_budget(state: &AppState, user: Uuid, n: u64) -> Result<()> {
    let per_minute = state.config.events_per_user_per_minute;
    match state.cache.take_leased(&format!("events:{user}"), n, per_minute, std::time::Duration::from_secs(60)).await {
        Some(retry_after_secs) => Err(Error::RateLimited { retry_after_secs }),
        None => Ok(()),
    }
}

/// Longest `cursor` taken: the cursors given are under 100 characters.
const MAX_CURSOR_LEN: usize = 128;

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 50)]
    limit: Option<i64>,
    /// Events to skip; not with `cursor`.
    #[param(minimum = 0, default = 0)]
    offset: Option<i64>,
    /// The `nextCursor` of the page before; not with `offset`. A page read by cursor has no
    /// `total`.
    #[param(max_length = 128)]
    cursor: Option<String>,
    /// Only events of this name; empty for all.
    #[param(max_length = 64, pattern = "^[A-Za-z0-9_.:$-]*$")]
    event_name: Option<String>,
    /// Whose events: the caller's when left out. Only staff who read analytics (admin,
    /// analyst, marketer) may name another user.
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
    let (from, to) = range.past()?;
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

/// A page of events.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EventPage {
    events: Vec<Event>,
    /// The cursor of the next page, given whenever this page is full; null otherwise.
    next_cursor: Option<String>,
    /// Events the filter covers in all pages: only on a page read by offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<i64>,
}

#[utoipa::path(get, path = "/api/events", security(("bearer" = [])), params(ListQuery, DateRange),
    responses((status = 200, description = "A page of events, newest first.", body = Ok<EventPage>),
        (status = 403, description = "The account is blocked, or `userId` names another user and the caller is not staff who read analytics.")))]
/// Lists the caller's events.
///
/// Newest first: pages by `cursor`, or by `offset` with a total (the Node version's shape).
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
    if q.cursor.as_ref().is_some_and(|c| c.len() > MAX_CURSOR_LEN) {
        return Err(Error::invalid_field("cursor", "cursor is not one this API gave"));
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
    let total = match before {
        None => Some(repo::count(&conn, &filter).await?),
        Some(_) => None,
    };
    Ok(ok(EventPage { events, next_cursor: next, total }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct StatsQuery {
    /// Only events of this name; empty for all.
    #[param(max_length = 64, pattern = "^[A-Za-z0-9_.:$-]*$")]
    event_name: Option<String>,
    /// Whose events: the caller's when left out. Only staff who read analytics (admin,
    /// analyst, marketer) may name another user.
    user_id: Option<Uuid>,
}

/// Event statistics.
#[derive(Serialize, ToSchema)]
struct EventStatistics {
    stats: Stats,
}

#[utoipa::path(get, path = "/api/events/stats", security(("bearer" = [])), params(StatsQuery, DateRange),
    responses((status = 200, description = "The count, the distinct days and the first and last times of the events.", body = Ok<EventStatistics>),
        (status = 403, description = "The account is blocked, or `userId` names another user and the caller is not staff who read analytics.")))]
/// Summarizes the caller's events.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn stats(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(q): QueryParams<StatsQuery>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let filter = filter(&caller, q.user_id, q.event_name, &range)?;
    let stats = repo::stats(&state.db.reader().await?, &filter).await?;
    Ok(ok(EventStatistics { stats }))
}
