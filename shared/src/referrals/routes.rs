//! The referral routes: the caller's code and link, invitations, their referrals and stats,
//! claiming a reward, and the admin's referral tree.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, patch, post};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::repo::{self, FailOutcome, Payout, ReferralStatus, Refusal, TreeRow};
use crate::app::{AppState, Endpoint};
use crate::auth::{ActingAdmin, AdminUser, AuthUser};
use crate::db::Conn;
use crate::email;
use crate::error::{Error, Result};
use crate::http::{created, ok, ClientInfo, DateRange, JsonBody, Paging, PathParams, QueryParams};
use crate::idempotency::MaybeIdempotencyKey;
use crate::jobs::{EmailJob, EmailTemplate, NotificationJob, NotificationType};
use crate::outbox::{self, Destination};
use crate::users::{self, Email};
use crate::uses::Resource;

pub const CODE: Endpoint = Endpoint {
    function: "referrals-code",
    method: Method::GET,
    path: "/api/referrals/code",
    route: || get(code),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LINK: Endpoint = Endpoint {
    function: "referrals-link",
    method: Method::GET,
    path: "/api/referrals/link",
    route: || get(link),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LIST: Endpoint = Endpoint {
    function: "referrals-list",
    method: Method::GET,
    path: "/api/referrals",
    route: || get(list),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const INVITE: Endpoint = Endpoint {
    function: "referrals-invite",
    method: Method::POST,
    path: "/api/referrals",
    route: || post(invite),
    uses: &[Resource::EmailQueue, Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const CLAIM_REWARD: Endpoint = Endpoint {
    function: "referrals-claim-reward",
    method: Method::POST,
    path: "/api/referrals/claim-reward",
    route: || post(claim_reward),
    uses: &[
        Resource::NotificationQueue,
        Resource::IdempotencyTable,
        Resource::JwtKeys,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};
pub const STATS: Endpoint = Endpoint {
    function: "referrals-stats",
    method: Method::GET,
    path: "/api/referrals/stats",
    route: || get(stats),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const ADMIN_UPDATE: Endpoint = Endpoint {
    function: "admin-referrals-update",
    method: Method::PATCH,
    path: "/api/admin/referrals/{id}",
    route: || patch(admin_update),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const TREE: Endpoint = Endpoint {
    function: "referrals-tree",
    method: Method::GET,
    path: "/api/referrals/tree",
    route: || get(tree),
    uses: &[Resource::JwtKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

fn link_for(state: &AppState, code: &str) -> String {
    format!("{}{code}", state.config.referral_link_base)
}

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn code(caller: AuthUser, State(state): State<AppState>) -> Result<Response> {
    let user = caller.load(&state).await?;
    Ok(ok(json!({ "code": user.referral_code })))
}

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn link(caller: AuthUser, State(state): State<AppState>) -> Result<Response> {
    let user = caller.load(&state).await?;
    Ok(ok(json!({ "code": user.referral_code, "link": link_for(&state, &user.referral_code) })))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
}

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn list(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(paging): QueryParams<Paging>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response> {
    let page = paging.check()?;
    let status =
        match q.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(ReferralStatus::parse(s).ok_or_else(|| {
                Error::invalid_field("status", "status must be pending, completed, failed or rewarded")
            })?),
        };
    let (referrals, total) = repo::page(&state.db.reader().await?, caller.id, status, page.limit, page.offset).await?;
    Ok(page.respond("referrals", referrals, total))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
}

/// Invites an address by email, at most once per configured window.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn invite(
    caller: AuthUser,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<InviteBody>,
) -> Result<Response> {
    let email = Email::parse(&body.email)?;
    let user = caller.load(&state).await?;
    user.ensure_email_verified()?;
    if email.as_str() == user.email {
        return Err(Error::invalid_field("email", "you cannot invite yourself"));
    }
    let conn = state.db.writer().await?;
    if users::by_email(&conn, &email).await?.is_some() {
        return Err(Error::Conflict("this address already has an account"));
    }
    if email::is_suppressed(&conn, email.as_str(), Some(email::Category::Invitations)).await? {
        return Err(Error::Conflict("this address does not accept invitations"));
    }
    // Counted in Postgres, not Redis: a limit on what we mail must not fail open.
    if repo::invitations_today(&conn, user.id).await? >= state.config.referral_invites_per_day {
        return Err(Error::RateLimited { retry_after_secs: 3600 });
    }
    let metadata = json!({ "ip": client.ip, "userAgent": client.user_agent, "source": "invite" });
    let window = state.config.referral_invite_window_hours;
    let job = EmailJob {
        // Each invitation email its own id: a renewed invitation reuses the referral row.
        id: Uuid::now_v7(),
        to: email.as_str().to_owned(),
        template: EmailTemplate::ReferralInvite,
        data: json!({
            "inviterName": user.first_name,
            "referralLink": link_for(&state, &user.referral_code),
        }),
    };
    // The invitation and its email are committed together: a queue that says no delays the
    // email (the outbox relay sends it), it never leaves an invitation unsent.
    let (referral, staged) = conn
        .atomically(async |conn| {
            let referral = repo::invite(conn, user.id, &email, window, &metadata)
                .await?
                .ok_or(Error::Conflict("this address was invited recently; try again later"))?;
            Ok((referral, outbox::stage(conn, Destination::Email, &[job]).await?))
        })
        .await?;
    drop(conn);
    state.relay().send_now(&staged).await;
    users::invalidate_lists(&state.cache).await;
    Ok(created(referral))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClaimBody {
    referral_id: Uuid,
}

/// Pays a completed referral's reward, once. Accepts an `Idempotency-Key`.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn claim_reward(
    caller: AuthUser,
    State(state): State<AppState>,
    MaybeIdempotencyKey(key): MaybeIdempotencyKey,
    JsonBody(body): JsonBody<ClaimBody>,
) -> Result<Response> {
    let key = key.map(|k| format!("claim-reward#{}#{}", caller.id, k.as_str()));
    let request = body.referral_id.to_string();
    state.idempotency().respond_once(key, &request, pay(&state, caller, body.referral_id)).await
}

async fn pay(state: &AppState, caller: AuthUser, referral_id: Uuid) -> Result<(StatusCode, Value)> {
    let user = caller.load(state).await?;
    user.ensure_email_verified()?;
    let payout = payout(state);
    let conn = state.db.writer().await?;
    // The reward and the message about it are committed together.
    let paid = conn
        .atomically(async |conn| {
            let Some(referral) = repo::claim(conn, user.id, referral_id, &payout).await? else { return Ok(None) };
            let notice = reward_notice(user.id, payout.amount, &payout.currency);
            Ok(Some((referral, outbox::stage(conn, Destination::Notification, &[notice]).await?)))
        })
        .await?;
    let Some((referral, staged)) = paid else {
        return Err(match repo::refusal(&conn, user.id, referral_id, payout.hold_hours).await? {
            Refusal::NotFound => Error::NotFound("referral not found"),
            Refusal::Held(from) => Error::ConflictDetail {
                message: format!("the reward is on hold; it can be claimed from {}", from.to_rfc3339()),
                details: json!({ "claimableFrom": from }),
            },
            Refusal::ReferredBlocked => Error::Conflict("the referred account is not in good standing"),
            Refusal::ReferredUnverified => Error::Conflict("the referred user has not verified their email"),
            Refusal::Status(ReferralStatus::Pending) => Error::Conflict("the referral is not completed yet"),
            Refusal::Status(ReferralStatus::Rewarded) => Error::Conflict("the reward was already paid"),
            Refusal::Status(ReferralStatus::Failed) => Error::Conflict("the referral failed its fraud checks"),
            Refusal::Status(ReferralStatus::Completed) => Error::Conflict("the referral changed; try again"),
        });
    };
    tracing::info!(referral_id = %referral.id, amount = %payout.amount, "referral reward paid");
    state.metrics.reward_paid(&payout.currency, payout.amount.try_into().unwrap_or(0.0));
    users::invalidate_lists(&state.cache).await;
    drop(conn);
    state.relay().send_now(&staged).await;
    Ok((StatusCode::OK, serde_json::to_value(referral).map_err(anyhow::Error::new)?))
}

/// What a completed referral pays, from the configuration.
pub fn payout(state: &AppState) -> Payout {
    Payout {
        amount: state.config.referral_reward_amount,
        currency: state.config.referral_reward_currency.clone(),
        referred_amount: state.config.referred_reward_amount,
        hold_hours: state.config.reward_hold_hours,
    }
}

fn reward_notice(user: Uuid, amount: rust_decimal::Decimal, currency: &str) -> NotificationJob {
    NotificationJob::by_email(
        user,
        NotificationType::ReferralReward,
        EmailTemplate::RewardGranted,
        "You've earned a referral reward",
        format!("We've credited {currency} {amount} to your account."),
        json!({ "amount": amount.to_string(), "currency": currency }),
    )
}

/// Completes `user`'s referral if they are now ready (see [`repo::complete_if_ready`]) and
/// tells both sides: the referrer that they can claim, the referred user of their reward.
/// The completion and its messages are committed together.
pub async fn complete_if_ready(state: &AppState, conn: &Conn, user: Uuid) -> Result<()> {
    let payout = payout(state);
    let completed = conn
        .atomically(async |conn| {
            let Some(done) = repo::complete_if_ready(conn, user, &payout).await? else { return Ok(None) };
            let mut jobs = vec![NotificationJob::by_email(
                done.referrer,
                NotificationType::ReferralReward,
                EmailTemplate::ReferralCompleted,
                "Your referral is complete",
                format!("{} finished signing up. Claim your referral reward in the app.", done.friend),
                json!({ "friendName": done.friend, "referralId": done.referral }),
            )];
            if !payout.referred_amount.is_zero() {
                jobs.push(reward_notice(user, payout.referred_amount, &payout.currency));
            }
            Ok(Some((done.referral, outbox::stage(conn, Destination::Notification, &jobs).await?)))
        })
        .await?;
    let Some((referral, staged)) = completed else { return Ok(()) };
    tracing::info!(referral_id = %referral, "referral completed");
    users::invalidate_lists(&state.cache).await;
    state.relay().send_now(&staged).await;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminUpdateBody {
    status: String,
    reason: String,
}

#[derive(Deserialize)]
struct ReferralPath {
    id: Uuid,
}

/// An admin fails a referral found fraudulent, while none of its rewards is paid out; its
/// outstanding rewards are voided.
#[tracing::instrument(skip_all, fields(referral_id = %path.id))]
async fn admin_update(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<ReferralPath>,
    JsonBody(body): JsonBody<AdminUpdateBody>,
) -> Result<Response> {
    if body.status != "failed" {
        return Err(Error::invalid_field("status", "status must be failed"));
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(Error::invalid_field("reason", "reason must be 1 to 500 characters"));
    }
    match repo::fail(&state.db.writer().await?, path.id, admin.id, reason).await? {
        FailOutcome::Failed(referral, voided) => {
            tracing::info!(admin_id = %admin.id, voided, "referral failed by an admin");
            users::invalidate_lists(&state.cache).await;
            Ok(ok(json!({ "referral": referral, "voidedRewards": voided })))
        }
        FailOutcome::NotFound => Err(Error::NotFound("referral not found")),
        FailOutcome::AlreadyFailed => Err(Error::Conflict("the referral has already failed")),
        FailOutcome::Paid => Err(Error::Conflict("a reward of this referral has been paid out")),
    }
}

#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn stats(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let (from, to) = range.bounds()?;
    Ok(ok(repo::stats(&state.db.reader().await?, caller.id, from, to).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TreeQuery {
    user_id: Uuid,
    depth: Option<i32>,
}

/// The admin's view of who referred whom, `depth` levels down from a user.
#[tracing::instrument(skip_all)]
async fn tree(_: AdminUser, State(state): State<AppState>, QueryParams(q): QueryParams<TreeQuery>) -> Result<Response> {
    let depth = q.depth.unwrap_or(3);
    if !(1..=10).contains(&depth) {
        return Err(Error::invalid_field("depth", "depth must be between 1 and 10"));
    }
    let rows = repo::tree(&state.db.reader().await?, q.user_id, depth).await?;
    let root = nest(&rows).ok_or(Error::NotFound("user not found"))?;
    Ok(ok(json!({ "depth": depth, "size": rows.len(), "tree": root })))
}

/// Builds the nested tree from the flat rows (parents come before their children).
fn nest(rows: &[TreeRow]) -> Option<Value> {
    let mut children: HashMap<Uuid, Vec<&TreeRow>> = HashMap::new();
    for row in rows.iter().skip(1) {
        if let Some(parent) = row.parent {
            children.entry(parent).or_default().push(row);
        }
    }
    fn node(row: &TreeRow, children: &HashMap<Uuid, Vec<&TreeRow>>) -> Value {
        let kids: Vec<Value> =
            children.get(&row.id).map(|c| c.iter().map(|r| node(r, children)).collect()).unwrap_or_default();
        json!({
            "id": row.id,
            "email": row.email,
            "firstName": row.first_name,
            "lastName": row.last_name,
            "depth": row.depth,
            "referralStatus": row.referral_status,
            "fraudScore": row.fraud_score,
            "fraudReasons": row.fraud_reasons,
            "joinedAt": row.joined_at,
            "referrals": kids,
        })
    }
    rows.first().filter(|r| r.depth == 0).map(|root| node(root, &children))
}
