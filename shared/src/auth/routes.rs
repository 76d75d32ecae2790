//! `POST /api/auth/register`, `/login`, `/refresh-token`, `/logout`, `/logout-all`,
//! `/verify-email` and `/resend-verification`.

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::cookie;
use super::extract::AuthUser;
use super::limits::{admit_password_check, IpLimited, Login, Refresh, Register, VerifyEmail};
use super::password::{self, Password};
use super::sessions;
use super::token::{TokenPair, TokenType};
use crate::db::Conn;
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{created, ok, ClientInfo, JsonBody};
use crate::jobs::{self, EmailJob, Greeting, Mail, NotificationJob, NotificationType};
use crate::openapi::{self, Ok};
use crate::outbox::{self, Destination};
use crate::referrals::{self, Referee, ReferralCode, ReferralStatus, Rules};
use crate::signing::{verify_any, LinkError};
use crate::state::AppState;
use crate::users::{
    self, AccountChange, DeviceFingerprint, Email, NewReferral, NewUser, PersonName, Phone, PhoneRegion, User, Verified,
};
use crate::uses::Resource;

pub const REGISTER: Endpoint = Endpoint {
    function: "auth-register",
    method: Method::POST,
    path: "/api/auth/register",
    route: || post(register),
    doc: openapi::describe::<__path_register>,
    tier: Tier::PasswordHashing,
    key_scope: None,
    uses: &[
        Resource::NotificationQueue,
        Resource::EmailQueue,
        Resource::WebhookQueue,
        Resource::TokenSigningKey,
        Resource::TokenPublicKeys,
        Resource::TokenPublicKeysWrite,
        Resource::LinkKey,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};
pub const LOGIN: Endpoint = Endpoint {
    function: "auth-login",
    method: Method::POST,
    path: "/api/auth/login",
    route: || post(login),
    doc: openapi::describe::<__path_login>,
    tier: Tier::PasswordHashing,
    key_scope: None,
    uses: &[
        Resource::TokenSigningKey,
        Resource::TokenPublicKeys,
        Resource::TokenPublicKeysWrite,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};
pub const REFRESH_TOKEN: Endpoint = Endpoint {
    function: "auth-refresh-token",
    method: Method::POST,
    path: "/api/auth/refresh-token",
    route: || post(refresh_token),
    doc: openapi::describe::<__path_refresh_token>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[
        Resource::TokenSigningKey,
        Resource::TokenPublicKeys,
        Resource::TokenPublicKeysWrite,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};
pub const LOGOUT: Endpoint = Endpoint {
    function: "auth-logout",
    method: Method::POST,
    path: "/api/auth/logout",
    route: || post(logout),
    doc: openapi::describe::<__path_logout>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LOGOUT_ALL: Endpoint = Endpoint {
    function: "auth-logout-all",
    method: Method::POST,
    path: "/api/auth/logout-all",
    route: || post(logout_all),
    doc: openapi::describe::<__path_logout_all>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const VERIFY_EMAIL: Endpoint = Endpoint {
    function: "auth-verify-email",
    method: Method::POST,
    path: "/api/auth/verify-email",
    route: || post(verify_email),
    doc: openapi::describe::<__path_verify_email>,
    tier: Tier::Standard,
    key_scope: None,
    // Verifying can complete a referral: its notices, and `referral.completed` for the webhooks.
    uses: &[
        Resource::NotificationQueue,
        Resource::WebhookQueue,
        Resource::LinkKey,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};
pub const RESEND_VERIFICATION: Endpoint = Endpoint {
    function: "auth-resend-verification",
    method: Method::POST,
    path: "/api/auth/resend-verification",
    route: || post(resend_verification),
    doc: openapi::describe::<__path_resend_verification>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[
        Resource::EmailQueue,
        Resource::TokenPublicKeys,
        Resource::LinkKey,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};

/// How long an email verification link works.
const VERIFICATION_TTL_SECS: i64 = 24 * 3600;
/// Verification emails a user may ask for per hour.
const RESENDS_PER_HOUR: u32 = 3;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RegisterRequest)]
struct RegisterBody {
    /// Stored lower-cased; at most 254 characters, with a dotted domain.
    #[schema(min_length = 5, max_length = 254, example = "ada@example.com")]
    email: String,
    /// 8 to 128 characters.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// 1 to 100 characters after trimming.
    #[schema(min_length = 1, max_length = 100, example = "Ada")]
    first_name: String,
    /// 1 to 100 characters after trimming.
    #[schema(min_length = 1, max_length = 100, example = "Lovelace")]
    last_name: String,
    /// 7 to 15 digits, optionally after `+`; spaces, dashes, dots and brackets are dropped.
    #[schema(min_length = 7, max_length = 32, example = "+2348012345678")]
    phone: String,
    /// The client SDK's opaque device fingerprint, for fraud checks.
    #[schema(min_length = 1, max_length = 256)]
    device_fingerprint: Option<String>,
    /// The code of the user who invited this one: 6 letters or digits, any case. Blank is
    /// the same as none; an unknown code, or one's own, is refused (400).
    #[schema(pattern = "^\\s*([0-9A-Za-z]{6}\\s*)?$", example = "K3X9QZ")]
    referral_code: Option<String>,
}

struct Registration {
    user: NewUser,
    password: Password,
    referral_code: Option<ReferralCode>,
}

impl Registration {
    /// Checks a sign-up; a phone number without its country code is read in `region`.
    fn parse(body: RegisterBody, region: PhoneRegion) -> Result<Self> {
        Ok(Registration {
            user: NewUser {
                email: Email::parse(&body.email)?,
                phone: Phone::parse(&body.phone, region)?,
                first_name: PersonName::parse("firstName", &body.first_name)?,
                last_name: PersonName::parse("lastName", &body.last_name)?,
                device_fingerprint: body.device_fingerprint.as_deref().map(DeviceFingerprint::parse).transpose()?,
            },
            password: Password::parse(body.password)?,
            referral_code: body
                .referral_code
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .map(|c| {
                    ReferralCode::parse(c).map_err(|_| Error::invalid_field("referralCode", "unknown referral code"))
                })
                .transpose()?,
        })
    }
}

/// What signing in answers: the user and their tokens — at the top level, and again under
/// `tokens: {accessToken, refreshToken}` where the Node version's clients read them.
pub struct Session {
    pub user: User,
    pub tokens: TokenPair,
}

impl Serialize for Session {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let node = NodeTokens { access_token: &self.tokens.access_token, refresh_token: &self.tokens.refresh_token };
        SessionAnswer { user: &self.user, tokens: &self.tokens, node, token: &self.tokens.access_token }
            .serialize(serializer)
    }
}

/// The document describes a session by what it serializes to.
impl utoipa::PartialSchema for Session {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <SessionAnswer as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for Session {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <SessionAnswer as utoipa::ToSchema>::schemas(schemas);
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct NodeTokens<'a> {
    access_token: &'a str,
    /// Absent when the session is kept in a cookie.
    #[serde(skip_serializing_if = "str::is_empty")]
    refresh_token: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SessionAnswer<'a> {
    user: &'a User,
    #[serde(flatten)]
    tokens: &'a TokenPair,
    /// The same tokens, where the Node version's clients read them.
    #[serde(rename = "tokens")]
    node: NodeTokens<'a>,
    /// The access token again, under the name the Node version's API documentation gives.
    token: &'a str,
}

#[utoipa::path(post, path = "/api/auth/register", request_body = RegisterBody,
    responses((status = 201, description = "The account, signed in: the user and their tokens.", body = Ok<Session>),
        (status = 409, description = "An account with this email or phone number already exists."),
        (status = 429, description = "Too many sign-ups from this address; retry after `Retry-After` seconds.")))]
/// Creates an account and signs it in.
///
/// A welcome notification and an email verification link are sent. With a referral code,
/// the sign-up is screened for fraud and the referral recorded.
#[tracing::instrument(skip_all)]
async fn register(
    _: IpLimited<Register>,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<Response> {
    let registration = Registration::parse(body, state.config.phone_region)?;
    let referral = match &registration.referral_code {
        Some(code) => Some(screen(&state, &state.db.writer().await?, &registration.user, code, &client).await?),
        None => None,
    };
    // No pooled connection is held while the password hashes: a burst of sign-ups must not
    // starve every other request of connections.
    let password_hash = state.hasher.hash(registration.password).await?;
    let conn = state.db.writer().await?;
    // The account and the messages it promises (the welcome, the verification email) are
    // committed together; the messages are sent right after, or by the outbox relay.
    let (user, staged) = conn
        .atomically(async |conn| {
            let user = users::create(conn, &registration.user, &password_hash, &client.ip, referral.as_ref()).await?;
            let mut staged = outbox::stage(conn, Destination::Notification, &[welcome(&user)]).await?;
            staged.extend(outbox::stage(conn, Destination::Email, &[verification_job(&state, &user).await?]).await?);
            let data = serde_json::json!({
                "id": user.id, "email": user.email, "firstName": user.first_name, "lastName": user.last_name,
                "referredBy": user.referred_by, "createdAt": user.created_at,
            });
            staged.extend(crate::webhooks::raise(conn, crate::webhooks::EventType::UserRegistered, &data).await?);
            Ok((user, staged))
        })
        .await?;
    users::invalidate_lists(&state.cache).await;
    tracing::info!(
        user_id = %user.id,
        referral_status = referral.as_ref().map(|r| r.status.as_str()),
        fraud_score = user.fraud_score,
        "user registered"
    );
    let tokens = sessions::start(&conn, &state.tokens, &user).await?;
    // No pooled connection is held while SQS is asked.
    drop(conn);
    state.relay().send_now(&staged).await;
    Ok(created(Session { user, tokens }))
}

const VERIFY_EMAIL_PURPOSE: &str = "verify-email";

/// The link that proves `user` owns their address: signed, for 24 hours, and useless once
/// the address is verified.
pub async fn verification_link(state: &AppState, user: &User) -> Result<String> {
    let keys = state.tokens.links().await?;
    let token = keys.link_signer(VERIFY_EMAIL_PURPOSE).sign(&(user.id, &user.email), VERIFICATION_TTL_SECS);
    Ok(format!("{}/verify-email?token={token}", state.config.app_base_url.trim_end_matches('/')))
}

async fn verification_job(state: &AppState, user: &User) -> Result<EmailJob> {
    Ok(EmailJob {
        id: Uuid::now_v7(),
        to: user.email.clone(),
        mail: Mail::VerifyEmail(jobs::VerifyEmail {
            first_name: Some(user.first_name.clone()),
            verify_link: verification_link(state, user).await?,
        }),
    })
}

/// Checks a sign-up with a referral code: the code must be a live user's, a referral of
/// oneself is refused, and the fraud signals decide whether the referral starts `pending`
/// or `failed`.
async fn screen<'a>(
    state: &AppState,
    conn: &Conn,
    user: &NewUser,
    code: &'a ReferralCode,
    client: &ClientInfo,
) -> Result<NewReferral<'a>> {
    let referrer = referrals::referrer_by_code(conn, code)
        .await?
        .ok_or_else(|| Error::invalid_field("referralCode", "unknown referral code"))?;
    let device = user.device_fingerprint.as_ref().map(|d| d.as_str());
    let referee =
        Referee { email: user.email.as_str(), phone: user.phone.as_str(), device_fingerprint: device, ip: &client.ip };
    referrals::ensure_not_self(&referrer, &referee)?;
    let history = referrals::history(conn, referrer.id, device).await?;
    let rules = Rules {
        threshold: state.config.fraud_score_threshold,
        velocity_per_hour: state.config.fraud_velocity_per_hour,
    };
    let assessment = referrals::assess(&referrer, &referee, history, &rules);
    let status = if assessment.failed(&rules) { ReferralStatus::Failed } else { ReferralStatus::Pending };
    if status == ReferralStatus::Failed {
        tracing::warn!(referrer_id = %referrer.id, score = assessment.score, reasons = ?assessment.reasons, "referral failed fraud checks");
    }
    Ok(NewReferral {
        referrer: referrer.id,
        code,
        status,
        fraud_score: assessment.score,
        metadata: serde_json::json!({
            "ip": client.ip,
            "deviceId": device,
            "userAgent": client.user_agent,
            "source": "code",
            "fraud": assessment,
        }),
    })
}

/// The welcome: an inbox notification, delivered by email.
fn welcome(user: &User) -> NotificationJob {
    NotificationJob::by_email(
        user.id,
        NotificationType::Welcome,
        "Welcome to GrowStack",
        "Your account is ready. Finish verifying your identity to unlock everything.",
        &Mail::Welcome(Greeting { first_name: Some(user.first_name.clone()) }),
    )
}

#[derive(Deserialize, ToSchema)]
#[schema(as = LoginRequest)]
struct LoginBody {
    /// Any case; a malformed address is answered as a wrong one (401).
    #[schema(example = "ada@example.com")]
    email: String,
    password: String,
}

#[utoipa::path(post, path = "/api/auth/login", request_body = LoginBody,
    params(("x-growstack-session" = Option<String>, Header, description = SESSION_HEADER_DOC)),
    responses((status = 200, description = "Signed in on a new session: the user and their tokens.", body = Ok<Session>),
        (status = 401, description = "Wrong email or password."),
        (status = 403, description = "The account is blocked or not active."),
        (status = 429, description = "Too many attempts from this address, or too many failed ones on this \
            account; retry after `Retry-After` seconds.")))]
/// Signs in with email and password, starting a new session.
#[tracing::instrument(skip_all)]
async fn login(
    _: IpLimited<Login>,
    client: ClientInfo,
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response> {
    const WRONG: Error = Error::Unauthorized("invalid email or password");
    let account = body.email.trim().to_lowercase();
    let check = admit_password_check(&state, &account, &client.ip).await?;
    // A malformed email cannot belong to anyone; answer as for any unknown email.
    let email = Email::parse(&body.email).ok();
    let user = match &email {
        Some(email) => users::by_email(&state.db.writer().await?, email).await?,
        None => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    // A hash made with earlier settings is made again once the password is proven.
    let again = stored.as_deref().is_some_and(|s| !password::is_current(s)).then(|| body.password.clone());
    let proven = state.hasher.verify(body.password, stored).await;
    // A hash that could not run (no slot in time) proved nothing either way.
    check.settle(&state, matches!(proven, Ok(false))).await;
    if !proven? {
        return Err(WRONG);
    }
    let user = user.ok_or(WRONG)?;
    user.ensure_may_sign_in()?;
    let conn = state.db.writer().await?;
    // A password from before today's length rules keeps its hash, and so does a sign-in whose
    // second hash fails: it is not worth refusing the user for.
    if let Some(proven) = again.and_then(|p| Password::parse(p).ok()) {
        let rehash = async {
            let rehashed = state.hasher.hash(proven).await?;
            users::rehash_password(&conn, user.id, &user.password_hash, &rehashed).await
        };
        if let Err(error) = rehash.await {
            tracing::warn!(%error, "kept a password hash of earlier settings");
        }
    }
    let user = users::touch_last_active(&conn, user.id, &client.ip).await?.ok_or(WRONG)?;
    let tokens = sessions::start(&conn, &state.tokens, &user).await?;
    Ok(answer(&state, &headers, Session { user, tokens }))
}

/// A session's answer: the refresh token in the body, or in the cookie when the request asked
/// for a cookie session (see [`cookie`]).
fn answer(state: &AppState, headers: &HeaderMap, mut session: Session) -> Response {
    if !cookie::wanted(headers) {
        return ok(session);
    }
    let token = std::mem::take(&mut session.tokens.refresh_token);
    let mut response = ok(session);
    cookie::set(&mut response, Some(&token), state.tokens.refresh_ttl());
    response
}

/// The presented refresh token: the body's, else the cookie of a cookie session.
fn presented(headers: &HeaderMap, body: RefreshBody) -> Result<String> {
    body.refresh_token
        .filter(|t| !t.is_empty())
        .or_else(|| cookie::token(headers))
        .ok_or_else(|| Error::invalid_field("refreshToken", "refreshToken is required"))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RefreshTokenRequest)]
struct RefreshBody {
    /// The refresh token from sign-up, sign-in or the last refresh; required unless the
    /// session is kept in the cookie (`X-GrowStack-Session: cookie`).
    #[serde(default)]
    refresh_token: Option<String>,
}

/// The header that keeps a session's refresh token in an HttpOnly cookie instead of the body.
const SESSION_HEADER_DOC: &str = "`cookie`: keep the refresh token in an HttpOnly, Secure, SameSite=Strict cookie \
    scoped to `/api/auth` (`growstack_refresh`) rather than in the body, as the console does. Refresh and \
    sign-out read the cookie only when they are sent this header too.";

#[utoipa::path(post, path = "/api/auth/refresh-token", request_body = RefreshBody,
    params(("x-growstack-session" = Option<String>, Header, description = SESSION_HEADER_DOC)),
    responses((status = 200, description = "The session's next tokens; the presented refresh token is used up.",
            body = Ok<Session>),
        (status = 400, description = "No refresh token: neither in the body nor in a cookie session."),
        (status = 401, description = "The refresh token is invalid, expired, revoked or already used; a reused \
            token also ends its whole session."),
        (status = 403, description = "The account is blocked or not active."),
        (status = 429, description = "Too many refreshes from this address; retry after `Retry-After` seconds.")))]
/// Exchanges a refresh token for a new pair of tokens, once.
///
/// Authenticated by the refresh token in the body, not by a bearer token.
#[tracing::instrument(skip_all)]
async fn refresh_token(
    _: IpLimited<Refresh>,
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response> {
    let presented = presented(&headers, body)?;
    let (user, tokens) = sessions::rotate(&state.db.writer().await?, &state.tokens, &presented).await?;
    Ok(answer(&state, &headers, Session { user, tokens }))
}

/// `{"loggedOut": true}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct LoggedOut {
    /// Always `true`.
    logged_out: bool,
}

#[utoipa::path(post, path = "/api/auth/logout", request_body = RefreshBody,
    params(("x-growstack-session" = Option<String>, Header, description = SESSION_HEADER_DOC)),
    responses((status = 200, description = "The session is over: its refresh tokens no longer work.", body = Ok<LoggedOut>),
        (status = 400, description = "No refresh token: neither in the body nor in a cookie session."),
        (status = 401, description = "The refresh token is invalid or expired."),
        (status = 429, description = "Too many requests from this address; retry after `Retry-After` seconds.")))]
/// Signs out of one session: the one the refresh token belongs to.
///
/// Authenticated by the refresh token in the body, not by a bearer token. Access tokens
/// already issued stay valid until they expire; sign out everywhere to end them too.
// The session is the token's family: every refresh token it was rotated into ends with it.
#[tracing::instrument(skip_all)]
async fn logout(
    _: IpLimited<Refresh>,
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response> {
    let claims = state.tokens.verify(&presented(&headers, body)?, TokenType::Refresh).await?;
    let family = sessions::family_of(&claims)?;
    sessions::end_family(&state.db.writer().await?, claims.sub, family).await?;
    let mut response = ok(LoggedOut { logged_out: true });
    if cookie::wanted(&headers) {
        cookie::set(&mut response, None, state.tokens.refresh_ttl());
    }
    Ok(response)
}

#[utoipa::path(post, path = "/api/auth/logout-all", security(("bearer" = [])),
    responses((status = 200, description = "Every session is over, access tokens included.", body = Ok<LoggedOut>),
        (status = 403, description = "The account is blocked or not active.")))]
/// Signs out everywhere: ends every session of the caller, access tokens included.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn logout_all(caller: AuthUser, State(state): State<AppState>) -> Result<Response> {
    caller.load(&state).await?;
    let user = users::change_account(&state.db.writer().await?, caller.id, &AccountChange::default())
        .await?
        .ok_or(Error::Unauthorized("account not found"))?;
    state.revocations.publish(&user).await;
    Ok(ok(LoggedOut { logged_out: true }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VerifyEmailRequest)]
struct VerifyBody {
    /// The `token` of the emailed link; it works for 24 hours.
    token: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EmailVerified {
    /// Always `true`.
    email_verified: bool,
    user: User,
}

#[utoipa::path(post, path = "/api/auth/verify-email", request_body = VerifyBody,
    responses((status = 200, description = "The address is verified.", body = Ok<EmailVerified>),
        (status = 409, description = "The link was used already: the address is verified."),
        (status = 429, description = "Too many attempts from this address; retry after `Retry-After` seconds.")))]
/// Verifies the user's email address with the token from the emailed link, once.
///
/// Authenticated by the signed token, not by a bearer token. An invalid or expired token is
/// refused (400). A user whose KYC is already confirmed completes their referral now.
#[tracing::instrument(skip_all)]
async fn verify_email(
    _: IpLimited<VerifyEmail>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Response> {
    let keys = state.tokens.links().await?;
    let (user, email): (Uuid, String) =
        verify_any(&keys.link_signers(VERIFY_EMAIL_PURPOSE), &body.token).map_err(|e| match e {
            LinkError::Expired => Error::invalid_field("token", "the link has expired; ask for a new one"),
            LinkError::Invalid => Error::invalid_field("token", "the link is not valid"),
        })?;
    let conn = state.db.writer().await?;
    let verified = users::verify_email(&conn, user, &email).await?;
    if !matches!(verified, Verified::Gone) {
        // A user whose KYC was confirmed first completes their referral now. Also after a
        // repeated link: if the first attempt failed between its two statements, this heals it.
        referrals::complete_if_ready(&state, &conn, user).await?;
    }
    let user = match verified {
        Verified::Now(user) => user,
        Verified::Already => return Err(Error::Conflict("this link has been used: the address is verified")),
        Verified::Gone => return Err(Error::invalid_field("token", "the link is not valid")),
    };
    users::invalidate_lists(&state.cache).await;
    Ok(ok(EmailVerified { email_verified: true, user: *user }))
}

/// `{"sent": true}`.
#[derive(Serialize, ToSchema)]
#[schema(as = VerificationSent)]
struct Sent {
    /// Always `true`.
    sent: bool,
}

#[utoipa::path(post, path = "/api/auth/resend-verification", security(("bearer" = [])),
    responses((status = 200, description = "A new verification link is on its way.", body = Ok<Sent>),
        (status = 403, description = "The account is blocked or not active."),
        (status = 409, description = "The address is already verified."),
        (status = 429, description = "Too many requests from this network address, or over 3 emails this hour for \
            this account; retry after `Retry-After` seconds.")))]
/// Sends the email verification link again, 3 times an hour at most.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn resend_verification(
    _: IpLimited<VerifyEmail>,
    caller: AuthUser,
    State(state): State<AppState>,
) -> Result<Response> {
    let user = caller.load(&state).await?;
    if user.email_verified() {
        return Err(Error::Conflict("the address is already verified"));
    }
    let hour = std::time::Duration::from_secs(3600);
    if let Some(retry_after_secs) = state.cache.over_limit(&format!("resend:{}", user.id), RESENDS_PER_HOUR, hour).await
    {
        return Err(Error::RateLimited { retry_after_secs });
    }
    let job = verification_job(&state, &user).await?;
    let staged = outbox::stage(&state.db.writer().await?, Destination::Email, &[job]).await?;
    state.relay().send_now(&staged).await;
    Ok(ok(Sent { sent: true }))
}
