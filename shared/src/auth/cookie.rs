//! The console's refresh token, kept where script cannot read it. A client that sends
//! `X-GrowStack-Session: cookie` with sign-in gets its refresh token as an HttpOnly, Secure,
//! SameSite=Strict cookie scoped to `/api/auth`, never in the body; refresh and sign-out
//! then read it from there, and only with that header again: a cross-site form cannot set
//! it, and a cross-origin script that does must pass a CORS preflight we do not grant.

use std::time::Duration;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

/// The header that asks for a cookie session, and its one value.
pub const HEADER: &str = "x-growstack-session";
const WANTED: &str = "cookie";
/// The cookie's name.
pub const NAME: &str = "growstack_refresh";
/// Only the calls that take a refresh token see it.
const PATH: &str = "/api/auth";

/// Whether the request keeps its session in the cookie.
pub fn wanted(headers: &HeaderMap) -> bool {
    headers.get(HEADER).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(WANTED.as_bytes()))
}

/// The refresh token in the request's cookie, for a request that asked for a cookie session.
pub fn token(headers: &HeaderMap) -> Option<String> {
    if !wanted(headers) {
        return None;
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// Sets the cookie to `token` for `ttl`, or clears it (`None`).
pub fn set(response: &mut Response, token: Option<&str>, ttl: Duration) {
    let (value, age) = match token {
        Some(token) => (token, ttl.as_secs()),
        None => ("", 0),
    };
    let cookie = format!("{NAME}={value}; Path={PATH}; Max-Age={age}; HttpOnly; Secure; SameSite=Strict");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_only_when_the_header_asks() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; growstack_refresh=abc.def; b=2"));
        assert_eq!(token(&headers), None, "a cookie a cross-site form carries is not a session");
        headers.insert(HEADER, HeaderValue::from_static("Cookie"));
        assert_eq!(token(&headers).as_deref(), Some("abc.def"));
        headers.insert(COOKIE, HeaderValue::from_static("growstack_refresh="));
        assert_eq!(token(&headers), None);
        let mut response = Response::new(axum::body::Body::empty());
        set(&mut response, Some("abc.def"), Duration::from_secs(60));
        set(&mut response, None, Duration::from_secs(60));
        let set: Vec<_> = response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(
            set,
            [
                "growstack_refresh=abc.def; Path=/api/auth; Max-Age=60; HttpOnly; Secure; SameSite=Strict",
                "growstack_refresh=; Path=/api/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
            ]
        );
    }
}
