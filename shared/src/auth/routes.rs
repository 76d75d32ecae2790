//! `POST /api/auth/register`, `/login` and `/refresh-token`.

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use super::extract::AuthRateLimit;
use super::password::{self, Password};
use super::token::{TokenPair, TokenType};
use crate::app::{AppState, Endpoint};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::http::{created, ok, ClientInfo, JsonBody};
use crate::jobs::{EmailTemplate, NotificationJob, NotificationType};
use crate::referrals::{self, Referee, ReferralCode, ReferralStatus, Rules};
use crate::users::{self, DeviceFingerprint, Email, NewReferral, NewUser, PersonName, Phone, User};

pub const REGISTER: Endpoint =
    Endpoint { function: "auth-register", method: Method::POST, path: "/api/auth/register", route: || post(register) };
pub const LOGIN: Endpoint =
    Endpoint { function: "auth-login", method: Method::POST, path: "/api/auth/login", route: || post(login) };
pub const REFRESH_TOKEN: Endpoint = Endpoint {
    function: "auth-refresh-token",
    method: Method::POST,
    path: "/api/auth/refresh-token",
    route: || post(refresh_token),
};

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

#[derive(Serialize)]
struct Session {
    user: User,
    #[serde(flatten)]
    tokens: TokenPair,
}

#[tracing::instrument(skip_all)]
async fn register(
    _: AuthRateLimit,
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
    let password_hash = registration.password.hash().await?;
    let conn = state.db.writer().await?;
    let user = users::create(&conn, &registration.user, &password_hash, &client.ip, referral.as_ref()).await?;
    users::invalidate_lists(&state.cache).await;
    tracing::info!(
        user_id = %user.id,
        referral_status = referral.as_ref().map(|r| r.status.as_str()),
        fraud_score = user.fraud_score,
        "user registered"
    );
    // The account exists whatever happens to the welcome message; a failure here is logged
    // for an operator rather than undoing a good registration.
    if let Err(e) = state.queues.notification.send(&welcome(&user)).await {
        tracing::error!(user_id = %user.id, error = format!("{e:#}"), "welcome notification not enqueued");
    }
    let tokens = state.tokens.issue(user.id, user.role)?;
    Ok(created(Session { user, tokens }))
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
    _: AuthRateLimit,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response> {
    const WRONG: Error = Error::Unauthorized("invalid email or password");
    // A malformed email cannot belong to anyone; answer as for any unknown email.
    let email = Email::parse(&body.email).ok();
    let user = match &email {
        Some(email) => users::by_email(&state.db.writer().await?, email).await?,
        None => None,
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    if !password::verify(body.password, stored).await? {
        return Err(WRONG);
    }
    let user = user.ok_or(WRONG)?;
    user.ensure_may_sign_in()?;
    let user = users::touch_last_active(&state.db.writer().await?, user.id, &client.ip).await?.ok_or(WRONG)?;
    let tokens = state.tokens.issue(user.id, user.role)?;
    Ok(ok(Session { user, tokens }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

#[tracing::instrument(skip_all)]
async fn refresh_token(
    _: AuthRateLimit,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response> {
    let claims = state.tokens.verify(&body.refresh_token, TokenType::Refresh)?;
    let conn = state.db.writer().await?;
    let user = users::by_id(&conn, claims.sub).await?.ok_or(Error::Unauthorized("invalid token"))?;
    user.ensure_may_sign_in()?;
    // The role comes from the database, so a promotion or demotion takes effect at refresh.
    let tokens = state.tokens.issue(user.id, user.role)?;
    Ok(ok(Session { user, tokens }))
}
