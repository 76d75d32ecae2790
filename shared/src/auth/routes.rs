//! `POST /api/auth/register`, `/login`, `/refresh-token`, `/logout`, `/logout-all`,
//! `/verify-email` and `/resend-verification`.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use serde_json::json;
use uuid::Uuid;

use super::extract::AuthUser;
use super::limits::{ensure_account_not_locked, record_failure, IpLimited, Login, Refresh, Register, VerifyEmail};
use super::password::Password;
use super::sessions;
use super::token::{TokenPair, TokenType};
use crate::app::{AppState, Endpoint};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::http::{created, ok, ClientInfo, JsonBody};
use crate::jobs::{EmailJob, EmailTemplate, NotificationJob, NotificationType};
use crate::outbox::{self, Destination};
use crate::referrals::{self, Referee, ReferralCode, ReferralStatus, Rules};
use crate::signing::{verify_any, LinkError};
use crate::users::{
    self, AccountChange, DeviceFingerprint, Email, NewReferral, NewUser, PersonName, Phone, User, Verified,
};
use crate::uses::Resource;

pub const REGISTER: Endpoint = Endpoint {
    function: "auth-register",
    method: Method::POST,
    path: "/api/auth/register",
    route: || post(register),
    uses: &[
        Resource::NotificationQueue,
        Resource::EmailQueue,
        Resource::JwtKeys,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};
pub const LOGIN: Endpoint = Endpoint {
    function: "auth-login",
    method: Method::POST,
    path: "/api/auth/login",
    route: || post(login),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const REFRESH_TOKEN: Endpoint = Endpoint {
    function: "auth-refresh-token",
    method: Method::POST,
    path: "/api/auth/refresh-token",
    route: || post(refresh_token),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LOGOUT: Endpoint = Endpoint {
    function: "auth-logout",
    method: Method::POST,
    path: "/api/auth/logout",
    route: || post(logout),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LOGOUT_ALL: Endpoint = Endpoint {
    function: "auth-logout-all",
    method: Method::POST,
    path: "/api/auth/logout-all",
    route: || post(logout_all),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const VERIFY_EMAIL: Endpoint = Endpoint {
    function: "auth-verify-email",
    method: Method::POST,
    path: "/api/auth/verify-email",
    route: || post(verify_email),
    uses: &[Resource::NotificationQueue, Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const RESEND_VERIFICATION: Endpoint = Endpoint {
    function: "auth-resend-verification",
    method: Method::POST,
    path: "/api/auth/resend-verification",
    route: || post(resend_verification),
    uses: &[Resource::EmailQueue, Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

/// How long an email verification link works.
const VERIFICATION_TTL_SECS: i64 = 24 * 3600;
/// Verification emails a user may ask for per hour.
const RESENDS_PER_HOUR: u32 = 3;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    email: String,
    password: String,
    first_name: String,
    last_name: String,
    phone: String,
    device_fingerprint: Option<String>,
    referral_code: Option<String>,
}

struct Registration {
    user: NewUser,
    password: Password,
    referral_code: Option<ReferralCode>,
}

impl TryFrom<RegisterBody> for Registration {
    type Error = Error;

    fn try_from(body: RegisterBody) -> Result<Self> {
        Ok(Registration {
            user: NewUser {
                email: Email::parse(&body.email)?,
                phone: Phone::parse(&body.phone)?,
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
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct NodeTokens<'a> {
            access_token: &'a str,
            refresh_token: &'a str,
        }
        #[derive(Serialize)]
        struct Answer<'a> {
            user: &'a User,
            #[serde(flatten)]
            tokens: &'a TokenPair,
            #[serde(rename = "tokens")]
            node: NodeTokens<'a>,
        }
        let node = NodeTokens { access_token: &self.tokens.access_token, refresh_token: &self.tokens.refresh_token };
        Answer { user: &self.user, tokens: &self.tokens, node }.serialize(serializer)
    }
}

#[tracing::instrument(skip_all)]
async fn register(
    _: IpLimited<Register>,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<Response> {
    let registration = Registration::try_from(body)?;
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
    let keys = state.tokens.keys().await?;
    let token = keys.link_signer(VERIFY_EMAIL_PURPOSE).sign(&(user.id, &user.email), VERIFICATION_TTL_SECS);
    Ok(format!("{}/verify-email?token={token}", state.config.app_base_url.trim_end_matches('/')))
}

async fn verification_job(state: &AppState, user: &User) -> Result<EmailJob> {
    Ok(EmailJob {
        id: Uuid::now_v7(),
        to: user.email.clone(),
        template: EmailTemplate::VerifyEmail,
        data: json!({ "firstName": user.first_name, "verifyLink": verification_link(state, user).await? }),
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
        EmailTemplate::Welcome,
        "Welcome to GrowStack",
        "Your account is ready. Finish verifying your identity to unlock everything.",
        serde_json::json!({ "firstName": user.first_name }),
    )
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

#[tracing::instrument(skip_all)]
async fn login(
    _: IpLimited<Login>,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response> {
    const WRONG: Error = Error::Unauthorized("invalid email or password");
    let account = body.email.trim().to_lowercase();
    ensure_account_not_locked(&state, &account).await?;
    // A malformed email cannot belong to anyone; answer as for any unknown email.
    let email = Email::parse(&body.email).ok();
    let user = match &email {
        Some(email) => users::by_email(&state.db.writer().await?, email).await?,
        None => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    if !state.hasher.verify(body.password, stored).await? {
        record_failure(&state, &account).await;
        return Err(WRONG);
    }
    let user = user.ok_or(WRONG)?;
    user.ensure_may_sign_in()?;
    let conn = state.db.writer().await?;
    let user = users::touch_last_active(&conn, user.id, &client.ip).await?.ok_or(WRONG)?;
    let tokens = sessions::start(&conn, &state.tokens, &user).await?;
    Ok(ok(Session { user, tokens }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

#[tracing::instrument(skip_all)]
async fn refresh_token(
    _: IpLimited<Refresh>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response> {
    let (user, tokens) = sessions::rotate(&state.db.writer().await?, &state.tokens, &body.refresh_token).await?;
    Ok(ok(Session { user, tokens }))
}

/// Ends the session the refresh token belongs to (its whole family).
#[tracing::instrument(skip_all)]
async fn logout(
    _: IpLimited<Refresh>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response> {
    let claims = state.tokens.verify(&body.refresh_token, TokenType::Refresh).await?;
    let family = sessions::family_of(&claims)?;
    sessions::end_family(&state.db.writer().await?, claims.sub, family).await?;
    Ok(ok(json!({ "loggedOut": true })))
}

/// Ends every session of the caller, access tokens included.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn logout_all(caller: AuthUser, State(state): State<AppState>) -> Result<Response> {
    caller.load(&state).await?;
    let user = users::change_account(&state.db.writer().await?, caller.id, &AccountChange::default())
        .await?
        .ok_or(Error::Unauthorized("account not found"))?;
    state.revocations.publish(&user).await;
    Ok(ok(json!({ "loggedOut": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    token: String,
}

/// Proves the address: the token from the emailed link, once.
#[tracing::instrument(skip_all)]
async fn verify_email(
    _: IpLimited<VerifyEmail>,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Response> {
    let keys = state.tokens.keys().await?;
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
    Ok(ok(json!({ "emailVerified": true, "user": user })))
}

/// Sends the verification email again, a few times an hour at most.
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
    Ok(ok(json!({ "sent": true })))
}
