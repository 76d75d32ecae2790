//! `POST /api/notifications/unsubscribe?token=` (RFC 8058 one-click, what mail clients send
//! for `List-Unsubscribe-Post`) and `GET` of the same link (what a person's click sends).
//! The signed token names the address and the category; either records the opt-out.

use axum::extract::State;
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::suppressions::{self, Category, Reason};
use crate::auth::LinkKeys;
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{ok, QueryParams};
use crate::openapi::{self, Ok};
use crate::signing::{verify_any, LinkError};
use crate::state::AppState;
use crate::uses::Resource;

pub const UNSUBSCRIBE: Endpoint = Endpoint {
    function: "notifications-unsubscribe",
    method: Method::POST,
    path: "/api/notifications/unsubscribe",
    route: || post(unsubscribe),
    doc: openapi::describe::<__path_unsubscribe>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::LinkKey, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const UNSUBSCRIBE_PAGE: Endpoint = Endpoint {
    function: "notifications-unsubscribe-page",
    method: Method::GET,
    path: "/api/notifications/unsubscribe",
    route: || get(unsubscribe_page),
    doc: openapi::describe::<__path_unsubscribe_page>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::LinkKey],
};

/// An unsubscribe link works for a year: mail is kept, and read, long after it is sent.
const LINK_TTL_SECS: i64 = 365 * 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Opt {
    email: String,
    category: Category,
}

const PURPOSE: &str = "unsubscribe";

/// The one-click unsubscribe URL for `email` and `category`.
pub fn unsubscribe_url(api_base_url: &str, keys: &LinkKeys, email: &str, category: Category) -> String {
    let token = keys.link_signer(PURPOSE).sign(&Opt { email: email.to_lowercase(), category }, LINK_TTL_SECS);
    format!("{}/api/notifications/unsubscribe?token={token}", api_base_url.trim_end_matches('/'))
}

/// Longest token accepted: a signed address (at most 254 characters) and category, in
/// base64url, stay well under it.
const MAX_TOKEN_CHARS: usize = 2048;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TokenQuery {
    /// The signed token from the email's link.
    #[param(required = true, min_length = 1, max_length = 2048)]
    token: Option<String>,
}

/// The opt-out a link's token asks for, checked.
async fn verify(state: &AppState, token: Option<&str>) -> Result<Opt> {
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| Error::invalid_field("token", "token is required"))?;
    if token.chars().count() > MAX_TOKEN_CHARS {
        return Err(Error::invalid_field("token", "token must be at most 2048 characters"));
    }
    let keys = state.tokens.links().await?;
    let opt: Opt = verify_any(&keys.link_signers(PURPOSE), token).map_err(|e| match e {
        LinkError::Expired => Error::invalid_field("token", "the link has expired"),
        LinkError::Invalid => Error::invalid_field("token", "the link is not valid"),
    })?;
    if opt.category == Category::All {
        return Err(Error::invalid_field("token", "the link is not valid"));
    }
    Ok(opt)
}

async fn record(state: &AppState, token: Option<&str>) -> Result<Opt> {
    let opt = verify(state, token).await?;
    suppressions::suppress(&state.db.writer().await?, &opt.email, opt.category, Reason::Unsubscribe).await?;
    tracing::info!(category = opt.category.as_str(), "unsubscribed");
    Ok(opt)
}

/// What an opt-out of `category` stops, in words.
fn stops(category: Category) -> &'static str {
    match category {
        Category::Invitations => "invitations from other GrowStack users",
        Category::KycReminders => "reminders to finish verifying your identity",
        Category::Inactivity | Category::All => "news and reminders when you have been away",
    }
}

/// A small page of our own words (nothing of the request's in it).
fn page(title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto\">\
         {body}</body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// The opt-out recorded.
#[derive(Serialize, ToSchema)]
struct Unsubscribed {
    /// Always `true`.
    unsubscribed: bool,
    /// The kind of email no longer sent to the address.
    category: Category,
}

#[utoipa::path(post, path = "/api/notifications/unsubscribe", params(TokenQuery),
    responses((status = 200, description = "The address no longer gets this category of email.", body = Ok<Unsubscribed>)))]
/// Unsubscribes an address from one category of email, in one click (RFC 8058).
///
/// What mail clients send for `List-Unsubscribe-Post`; any body is ignored. Authenticated by
/// the signed token in the link, not by a bearer token. Repeating it changes nothing.
#[tracing::instrument(skip_all)]
async fn unsubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<TokenQuery>,
) -> Result<Response> {
    let opt = record(&state, q.token.as_deref()).await?;
    // The page's own button (a browser's form) gets a page; a mail client gets the envelope.
    let browser = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if browser {
        let what = stops(opt.category);
        return Ok(page(
            "Unsubscribed",
            &format!(
                "<h1>You're unsubscribed</h1><p>We won't send you {what} any more. Messages about your account, \
                 such as rewards and security, still reach you.</p>"
            ),
        ));
    }
    Ok(ok(Unsubscribed { unsubscribed: true, category: opt.category }))
}

#[utoipa::path(get, path = "/api/notifications/unsubscribe", params(TokenQuery),
    responses((status = 200, description = "A page asking to confirm, with a button that posts the opt-out.", body = String,
        content_type = "text/html")))]
/// The page a person lands on from the link in an email: what they would stop getting, and a
/// button to confirm.
///
/// Opening it changes nothing: mail scanners fetch the links in mail, and must not unsubscribe
/// anyone. The button posts to this address, as a mail client's one-click unsubscribe does.
/// Authenticated by the signed token in the link. Failures answer the JSON error envelope.
#[tracing::instrument(skip_all)]
async fn unsubscribe_page(State(state): State<AppState>, QueryParams(q): QueryParams<TokenQuery>) -> Result<Response> {
    let opt = verify(&state, q.token.as_deref()).await?;
    let what = stops(opt.category);
    // The form posts to this very address, token and all.
    Ok(page(
        "Unsubscribe",
        &format!(
            "<h1>Unsubscribe?</h1><p>You will no longer get {what}. Messages about your account, such as rewards \
             and security, still reach you.</p><form method=\"post\"><button type=\"submit\">Unsubscribe</button>\
             </form>"
        ),
    ))
}
