//! HTTP plumbing shared by every route: the success envelope, the JSON body extractor, the
//! caller's IP and request id (from API Gateway in Lambda, from the socket on a server), and
//! the one log line per request.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::state::AppState;

/// Bodies above this are refused before parsing; no endpoint needs more.
pub const BODY_LIMIT: usize = 64 * 1024;

/// `{"success": true, "data": …}` with 200.
pub fn ok<T: Serialize>(data: T) -> Response {
    axum::Json(Envelope { success: true, data }).into_response()
}

/// `{"success": true, "data": …}` with 201.
pub fn created<T: Serialize>(data: T) -> Response {
    (StatusCode::CREATED, axum::Json(Envelope { success: true, data })).into_response()
}

/// A required text field: trimmed, 1 to `max` characters, no control characters; else a 400
/// naming `field`.
pub fn required_text<'a>(field: &str, value: Option<&'a str>, max: usize) -> Result<&'a str, Error> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() && v.chars().count() <= max && !v.chars().any(char::is_control) => Ok(v),
        _ => Err(Error::invalid_field(field, format!("{field} must be 1 to {max} characters"))),
    }
}

/// A list of names, each one of `known`: at least one, each kept once (as `known` spells it);
/// else a 400 naming `field` and listing the names it takes.
pub fn names_from(field: &str, raw: &[String], known: &[&'static str]) -> Result<Vec<&'static str>, Error> {
    if raw.is_empty() {
        return Err(Error::invalid_field(field, format!("{field} must name at least one")));
    }
    let mut names = Vec::with_capacity(raw.len());
    for name in raw {
        let Some(found) = known.iter().find(|k| **k == name.as_str()) else {
            let message = format!("`{name}` is not one of the {field}: {}", known.join(", "));
            return Err(Error::invalid_field(field, message));
        };
        if !names.contains(found) {
            names.push(*found);
        }
    }
    Ok(names)
}

/// `{"success": true, "data": …}` with 202: taken, to be done shortly.
pub fn accepted<T: Serialize>(data: T) -> Response {
    (StatusCode::ACCEPTED, axum::Json(Envelope { success: true, data })).into_response()
}

#[derive(Serialize)]
struct Envelope<T> {
    success: bool,
    data: T,
}

/// Wraps an already serialized JSON value (as stored in the cache) in the envelope without
/// parsing it again.
pub fn envelope_bytes(data_json: &str) -> Bytes {
    Bytes::from(format!("{{\"success\":true,\"data\":{data_json}}}"))
}

/// A response whose body is already an enveloped JSON document.
pub fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// A JSON request body, parsed into `T`; every failure is a 4xx in the envelope, naming the
/// offending field where serde can tell.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Error;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Error> {
        if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
            let is_json = content_type
                .to_str()
                .map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
                .unwrap_or(false);
            if !is_json {
                return Err(Error::validation("Content-Type must be application/json"));
            }
        }
        let bytes = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map_err(|_| Error::PayloadTooLarge { limit: BODY_LIMIT })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON document; an empty body parses as `{}` so that endpoints whose fields are
/// all optional accept no body at all.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    if has_escaped_nul(bytes) {
        return Err(Error::validation(NUL_REFUSED));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("request body is not valid JSON: {inner}")
        } else {
            format!("invalid request body: {inner}")
        };
        // serde names a missing field in its message only; the client gets it as the field.
        let missing =
            message.split("missing field `").nth(1).and_then(|rest| rest.split('`').next()).map(str::to_owned);
        match missing {
            _ if path != "." && !path.is_empty() => Error::invalid_field(&path, message),
            Some(field) => Error::invalid_field(&field, message),
            None => Error::validation(message),
        }
    })
}

/// Postgres stores no NUL character in text or jsonb; refused at the edge, for every body and
/// query, rather than failing the statement.
const NUL_REFUSED: &str = "the request must not contain the NUL character (\\u0000)";

/// Whether a JSON document holds `\u0000`: a `u0000` after an odd run of backslashes (an
/// even run is escaped backslashes followed by the text "u0000").
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = json[from..].windows(5).position(|w| w == b"u0000") {
        let at = from + at;
        let backslashes = json[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes % 2 == 1 {
            return true;
        }
        from = at + 5;
    }
    false
}

/// Query parameters parsed into `T`; a malformed one is a 400 in the envelope naming the
/// parameter.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        let query = parts.uri.query().unwrap_or_default();
        if query.contains("%00") {
            return Err(Error::validation(NUL_REFUSED));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(QueryParams).map_err(|e| {
            let field = e.path().to_string();
            let message = format!("invalid query string: {}", e.into_inner());
            if field.is_empty() || field == "." {
                Error::validation(message)
            } else {
                Error::invalid_field(&field, message)
            }
        })
    }
}

/// A query filter: one of `T`'s values, or nothing when empty or left out (`?status=` is
/// how some clients say "all"). Anything else is a 400 naming the parameter and the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter<T>(pub Option<T>);

impl<T> Default for Filter<T> {
    fn default() -> Self {
        Filter(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Filter<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.trim() {
            "" => Ok(Filter(None)),
            value => T::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(value)).map(|t| Filter(Some(t))),
        }
    }
}

/// Path parameters parsed into `T`; a malformed one (say, an id that is not a UUID) is a 400.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| PathParams(p))
            .map_err(|e| Error::validation(format!("invalid path parameter: {}", e.body_text())))
    }
}

/// `page` (from 1) and `limit` (1 to 100, default 20) query parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    #[param(minimum = 1, default = 1)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
}

/// The `pagination` of a paged answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageInfo {
    pub page: i64,
    pub limit: i64,
    /// Rows in all pages.
    pub total: i64,
    /// How many pages `total` makes (the Node version's clients read it).
    pub pages: i64,
}

/// A checked page: its number, size and the rows to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// The `pagination` of this page of `total` rows.
    pub fn info(self, total: i64) -> PageInfo {
        PageInfo { page: self.page, limit: self.limit, total, pages: (total + self.limit - 1) / self.limit }
    }
}

impl Paging {
    pub fn check(&self) -> Result<Page, Error> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(20);
        if page < 1 {
            return Err(Error::invalid_field("page", "page must be at least 1"));
        }
        if !(1..=100).contains(&limit) {
            return Err(Error::invalid_field("limit", "limit must be between 1 and 100"));
        }
        Ok(Page { page, limit, offset: (page - 1).saturating_mul(limit) })
    }
}

/// A half-open interval of time, either end open when `None`.
pub type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `startDate` and `endDate` query parameters: a day (`2026-11-28`, the whole day, so an
/// end day is included) or an instant (RFC 3339). Either may be left out.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DateRange {
    /// A day (`2026-11-01`, from its start, UTC) or an RFC 3339 time; from 1970; for a
    /// question about what happened, not after today.
    #[param(example = "2026-11-01")]
    pub start_date: Option<String>,
    /// A day (`2026-11-30`, included) or an RFC 3339 time (excluded); not before `startDate`.
    #[param(example = "2026-11-30")]
    pub end_date: Option<String>,
}

impl DateRange {
    /// The half-open interval [from, to) the range covers; `None` is unbounded.
    pub fn bounds(&self) -> Result<Bounds, Error> {
        // Nothing here predates the Unix epoch, and Postgres refuses some of the signed years
        // chrono reads.
        const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;
        let parse = |field: &str, raw: &Option<String>, end: bool| -> Result<Option<DateTime<Utc>>, Error> {
            let Some(raw) = raw.as_deref().map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
            let out_of_range =
                || Error::invalid_field(field, format!("{field} must be between the years 1970 and 9999"));
            if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                // chrono reads signed years of any size; Postgres does not take them all.
                if !YEARS.contains(&day.year()) {
                    return Err(out_of_range());
                }
                let day = if end { day.succ_opt().unwrap_or(day) } else { day };
                return Ok(Some(day.and_time(NaiveTime::MIN).and_utc()));
            }
            let time = DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                Error::invalid_field(field, format!("{field} must be a date (YYYY-MM-DD) or an RFC 3339 time"))
            })?;
            if !YEARS.contains(&time.year()) {
                return Err(out_of_range());
            }
            Ok(Some(time))
        };
        let from = parse("startDate", &self.start_date, false)?;
        let to = parse("endDate", &self.end_date, true)?;
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                return Err(Error::invalid_field("endDate", "endDate must not be before startDate"));
            }
        }
        Ok((from, to))
    }

    /// As [`DateRange::bounds`], for a question about what happened: a range that starts
    /// after today (UTC) is a mistake, not a question, and a 400 naming `startDate`.
    pub fn past(&self) -> Result<Bounds, Error> {
        let (from, to) = self.bounds()?;
        if from.is_some_and(|from| from.date_naive() > Utc::now().date_naive()) {
            return Err(Error::invalid_field("startDate", "startDate must not be after today (UTC)"));
        }
        Ok((from, to))
    }
}

/// The caller's IP: API Gateway's `sourceIp` in Lambda; on a server, the address the trusted
/// proxies saw (`X-Forwarded-For`, counted from the right) or the socket's peer.
pub fn client_ip(headers: &HeaderMap, extensions: &http::Extensions, trusted_proxy_hops: usize) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = extensions.get::<RequestContext>() {
        if let Some(ip) = &ctx.http.source_ip {
            return ip.clone();
        }
    }
    if trusted_proxy_hops > 0 {
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if let Some(ip) = forwarded.len().checked_sub(trusted_proxy_hops).and_then(|i| forwarded.get(i)) {
            return (*ip).to_owned();
        }
    }
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => addr.ip().to_string(),
        None => "unknown".to_owned(),
    }
}

/// Who is calling from where: the client IP (see [`client_ip`]) and user agent.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Ok(ClientInfo {
            ip: client_ip(&parts.headers, &parts.extensions, state.config.trusted_proxy_hops),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(512).collect()),
        })
    }
}

/// The request id: API Gateway's in Lambda, else the caller's `X-Request-Id`, else a new one.
fn request_id(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.extensions().get::<RequestContext>() {
        if let Some(id) = &ctx.request_id {
            return id.clone();
        }
    }
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Middleware: one structured log line and one metric per request, and the request id
/// echoed back.
pub async fn log_request(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    // A clone of the matched path is a reference count; its text is borrowed below.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let id = request_id(&req);
    // Every line logged while the request runs carries its id (in the line's span list),
    // and the X-Ray trace it belongs to when an ALB or API Gateway sent one.
    let trace = req.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).filter(|v| v.len() <= 256);
    let span = match trace {
        Some(trace) => tracing::info_span!("request", request_id = %id, xray_trace = trace),
        None => tracing::info_span!("request", request_id = %id),
    };
    // A GET changes nothing a second run would repeat, so its reads may be retried when
    // the database drops a connection under them.
    let run = tracing::Instrument::instrument(next.run(req), span.clone());
    let mut response =
        if method == Method::GET || method == Method::HEAD { crate::db::read_only(run).await } else { run.await };
    let _entered = span.enter();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    state.metrics.request(method.as_str(), route, response.status().as_u16(), duration_ms);
    tracing::info!(
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        duration_ms = (duration_ms * 1000.0).round() / 1000.0,
        request_id = %id,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Headers every answer of the API carries: no content sniffing; HTTPS only from here on for
/// a browser that reached us over it (browsers ignore the header over plain HTTP, so local
/// runs are unaffected); and no caching of the API's answers, which are a user's or staff's
/// data, unless the handler said otherwise.
pub async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Fallback for paths no endpoint serves, in the envelope.
pub async fn not_found() -> Error {
    Error::NotFound("no such route")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Body {
        first_name: String,
        #[allow(dead_code)]
        age: Option<u8>,
    }

    #[test]
    fn names_the_field_with_a_wrong_type() {
        let e = parse_json::<Body>(br#"{"firstName": 5}"#).unwrap_err();
        let Error::Validation { details, .. } = e else { panic!() };
        assert_eq!(details.unwrap()["field"], "firstName");
    }

    #[test]
    fn malformed_and_missing() {
        assert!(matches!(parse_json::<Body>(b"{not json"), Err(Error::Validation { .. })));
        let e = parse_json::<Body>(b"{}").unwrap_err();
        assert!(e.to_string().contains("firstName"), "{e}");
        assert!(parse_json::<Body>(br#"{"firstName":"a","role":"admin"}"#).is_err());
        assert_eq!(parse_json::<Body>(br#"{"firstName":"a"}"#).unwrap().first_name, "a");
    }

    #[test]
    fn nul_characters_are_found_only_where_escaped() {
        assert!(has_escaped_nul(br#"{"a": "x\u0000"}"#));
        assert!(has_escaped_nul(br#"{"\u0000": 1}"#));
        assert!(has_escaped_nul(br#"{"a": "\\\u0000"}"#));
        assert!(!has_escaped_nul(br#"{"a": "\\u0000"}"#), "an escaped backslash, then text");
        assert!(!has_escaped_nul(br#"{"a": "u0000"}"#));
        assert!(parse_json::<serde_json::Value>(br#"{"a": "\u0000"}"#).is_err());
        assert!(parse_json::<serde_json::Value>(br#"{"a": "\u0001"}"#).is_ok());
    }

    #[test]
    fn date_ranges() {
        let range = |s: &str, e: &str| DateRange { start_date: Some(s.into()), end_date: Some(e.into()) }.bounds();
        let (from, to) = range("2026-01-01", "2026-01-31").unwrap();
        assert_eq!(from.unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(to.unwrap().to_rfc3339(), "2026-02-01T00:00:00+00:00", "the end day is included");
        let (_, to) = range("2026-01-01", "2026-01-02T10:00:00+01:00").unwrap();
        assert_eq!(to.unwrap().to_rfc3339(), "2026-01-02T09:00:00+00:00");
        assert!(range("2026-02-01", "2026-01-01").is_err());
        assert!(range("yesterday", "2026-01-01").is_err());
        assert_eq!(DateRange::default().bounds().unwrap(), (None, None));
    }

    #[test]
    fn forwarded_for_counts_trusted_hops_from_the_right() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 1.2.3.4"));
        let ext = http::Extensions::new();
        assert_eq!(client_ip(&headers, &ext, 1), "1.2.3.4");
        assert_eq!(client_ip(&headers, &ext, 2), "6.6.6.6");
        assert_eq!(client_ip(&headers, &ext, 0), "unknown");
        assert_eq!(client_ip(&headers, &ext, 3), "unknown");
    }
}
