//! The referral routes: the caller's code and link, invitations, their referrals and stats,
//! claiming a reward, and the admin's referral tree.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, patch, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::repo::{self, FailOutcome, Invited, Payout, Referral, ReferralStatus, Refusal, Stats, TreeRow};
use crate::auth::{ActingAdmin, AdminUser, AuthUser};
use crate::db::Conn;
use crate::email;
use crate::endpoint::{Endpoint, Tier};
use crate::error::{Error, Result};
use crate::http::{created, ok, ClientInfo, DateRange, Filter, JsonBody, PageInfo, Paging, PathParams, QueryParams};
use crate::idempotency::MaybeIdempotencyKey;
use crate::jobs::{self, EmailJob, Mail, NotificationJob, NotificationType, ReferralCompleted, RewardGranted};
use crate::openapi::{self, Ok};
use crate::outbox::{self, Destination};
use crate::state::AppState;
use crate::users::{self, Email};
use crate::uses::Resource;

pub const CODE: Endpoint = Endpoint {
    function: "referrals-code",
    method: Method::GET,
    path: "/api/referrals/code",
    route: || get(code),
    doc: openapi::describe::<__path_code>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LINK: Endpoint = Endpoint {
    function: "referrals-link",
    method: Method::GET,
    path: "/api/referrals/link",
    route: || get(link),
    doc: openapi::describe::<__path_link>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const LIST: Endpoint = Endpoint {
    function: "referrals-list",
    method: Method::GET,
    path: "/api/referrals",
    route: || get(list),
    doc: openapi::describe::<__path_list>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const INVITE: Endpoint = Endpoint {
    function: "referrals-invite",
    method: Method::POST,
    path: "/api/referrals",
    route: || post(invite),
    doc: openapi::describe::<__path_invite>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::EmailQueue, Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const CLAIM_REWARD: Endpoint = Endpoint {
    function: "referrals-claim-reward",
    method: Method::POST,
    path: "/api/referrals/claim-reward",
    route: || post(claim_reward),
    doc: openapi::describe::<__path_claim_reward>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[
        Resource::NotificationQueue,
        Resource::IdempotencyTable,
        Resource::TokenPublicKeys,
        Resource::DatabaseSecret,
        Resource::RedisSecret,
    ],
};
pub const STATS: Endpoint = Endpoint {
    function: "referrals-stats",
    method: Method::GET,
    path: "/api/referrals/stats",
    route: || get(stats),
    doc: openapi::describe::<__path_stats>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const ADMIN_UPDATE: Endpoint = Endpoint {
    function: "admin-referrals-update",
    method: Method::PATCH,
    path: "/api/admin/referrals/{id}",
    route: || patch(admin_update),
    doc: openapi::describe::<__path_admin_update>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};
pub const TREE: Endpoint = Endpoint {
    function: "referrals-tree",
    method: Method::GET,
    path: "/api/referrals/tree",
    route: || get(tree),
    doc: openapi::describe::<__path_tree>,
    tier: Tier::Standard,
    key_scope: None,
    uses: &[Resource::TokenPublicKeys, Resource::DatabaseSecret, Resource::RedisSecret],
};

fn link_for(state: &AppState, code: &str) -> String {
    format!("{}{code}", state.config.referral_link_base)
}

/// The caller's referral code.
#[derive(Serialize, ToSchema)]
struct MyReferralCode {
    /// What a friend enters at sign-up.
    #[schema(example = "AB12CD")]
    code: String,
}

#[utoipa::path(get, path = "/api/referrals/code", security(("bearer" = [])),
    responses((status = 200, description = "The caller's referral code.", body = Ok<MyReferralCode>),
        (status = 403, description = "The account is blocked or not active.")))]
/// Gives the caller's referral code.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn code(caller: AuthUser, State(state): State<AppState>) -> Result<Response> {
    let user = caller.load(&state).await?;
    Ok(ok(MyReferralCode { code: user.referral_code }))
}

/// The caller's referral code and the sign-up link that carries it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReferralLink {
    #[schema(example = "AB12CD")]
    code: String,
    /// The configured link base followed by the code.
    link: String,
    /// `code` again, where the Node version's clients read it.
    referral_code: String,
    /// `link` again, where the Node version's clients read it.
    referral_link: String,
}

#[utoipa::path(get, path = "/api/referrals/link", security(("bearer" = [])),
    responses((status = 200, description = "The caller's code and sign-up link.", body = Ok<ReferralLink>),
        (status = 403, description = "The account is blocked or not active.")))]
/// Gives the caller's referral link to share.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn link(caller: AuthUser, State(state): State<AppState>) -> Result<Response> {
    let user = caller.load(&state).await?;
    let link = link_for(&state, &user.referral_code);
    Ok(ok(ReferralLink {
        referral_code: user.referral_code.clone(),
        referral_link: link.clone(),
        code: user.referral_code,
        link,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only the referrals in this state; empty or left out for all.
    #[serde(default)]
    #[param(value_type = Option<ReferralStatus>, inline)]
    status: Filter<ReferralStatus>,
}

/// One page of the caller's referrals.
#[derive(Serialize, ToSchema)]
struct ReferralPage {
    referrals: Vec<Referral>,
    pagination: PageInfo,
}

#[utoipa::path(get, path = "/api/referrals", security(("bearer" = [])), params(Paging, ListQuery),
    responses((status = 200, description = "A page of the caller's referrals, newest first.", body = Ok<ReferralPage>),
        (status = 403, description = "The account is blocked.")))]
/// Lists the referrals the caller made.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn list(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(paging): QueryParams<Paging>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Response> {
    let page = paging.check()?;
    let (referrals, total) =
        repo::page(&state.db.reader().await?, caller.id, q.status.0, page.limit, page.offset).await?;
    Ok(ok(ReferralPage { referrals, pagination: page.info(total) }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReferralInvite {
    /// The address to invite: not the caller's.
    #[schema(format = Email, max_length = 254, example = "friend@example.com")]
    email: String,
}

#[utoipa::path(post, path = "/api/referrals", security(("bearer" = [])), request_body = ReferralInvite,
    responses((status = 201, description = "The invitation, a pending referral. The email is on its way unless the \
            address already has an account or takes no invitations: the answer is the same either way, so that it \
            tells nobody who has an account.", body = Ok<Referral>),
        (status = 403, description = "The caller's email address is not verified, or the account is blocked or not active."),
        (status = 409, description = "The caller invited this address recently."),
        (status = 429, description = "The caller sent the most invitations allowed in a day.")))]
/// Invites a friend by email.
///
/// An address may be invited again once the configured window since its last invitation
/// has passed; the invitation is then renewed.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn invite(
    caller: AuthUser,
    client: ClientInfo,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ReferralInvite>,
) -> Result<Response> {
    let email = Email::parse(&body.email)?;
    let user = caller.load(&state).await?;
    user.ensure_email_verified()?;
    if email.as_str() == user.email {
        return Err(Error::invalid_field("email", "you cannot invite yourself"));
    }
    let conn = state.db.writer().await?;
    // Whether the address has an account, or takes no invitations, changes only whether mail
    // goes out: the answer is the same, so that invitations tell nobody who has an account.
    let deliver = users::by_email(&conn, &email).await?.is_none()
        && !email::is_suppressed(&conn, email.as_str(), Some(email::Category::Invitations)).await?;
    let metadata = json!({ "ip": client.ip, "userAgent": client.user_agent, "source": "invite" });
    let window = state.config.referral_invite_window_hours;
    let job = EmailJob {
        // Each invitation email its own id: a renewed invitation reuses the referral row.
        id: Uuid::now_v7(),
        to: email.as_str().to_owned(),
        mail: Mail::ReferralInvite(jobs::ReferralInvite {
            inviter_name: Some(user.first_name.clone()),
            referral_link: link_for(&state, &user.referral_code),
        }),
    };
    // The invitation and its email are committed together: a queue that says no delays the
    // email (the outbox relay sends it), it never leaves an invitation unsent. The daily cap
    // is counted in Postgres, in the statement that records the invitation: a limit on what
    // we mail must not fail open, nor give way to invitations sent at once.
    let per_day = state.config.referral_invites_per_day;
    let (referral, staged) = conn
        .atomically(async |conn| {
            let referral = match repo::invite(conn, user.id, &email, window, per_day, &metadata).await? {
                Invited::Recorded(referral) => referral,
                Invited::OverCap => return Err(Error::RateLimited { retry_after_secs: 3600 }),
                Invited::Recently => return Err(Error::Conflict("this address was invited recently; try again later")),
            };
            let staged = if deliver { outbox::stage(conn, Destination::Email, &[job]).await? } else { Vec::new() };
            Ok((referral, staged))
        })
        .await?;
    drop(conn);
    if !staged.is_empty() {
        state.relay().send_now(&staged).await;
    }
    users::invalidate_lists(&state.cache).await;
    Ok(created(referral))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RewardClaim {
    /// One of the caller's completed referrals.
    referral_id: Uuid,
}

#[utoipa::path(post, path = "/api/referrals/claim-reward", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
        description = "Makes a retried claim answer as the first did. Reusing a key for another referral is a 400.")),
    request_body = RewardClaim,
    responses((status = 200, description = "The referral, now rewarded.", body = Ok<Referral>,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the saved answer to an earlier request with the same key."))),
        (status = 403, description = "The caller's email address is not verified, or the account is blocked or not active."),
        (status = 404, description = "The caller has no such referral."),
        (status = 409, description = "The referral is not claimable: not completed yet, on hold (`error.details.claimableFrom`), already rewarded, failed, or the referred account is unverified or not in good standing; or a request with this key is in progress.")))]
/// Claims the reward of a completed referral.
///
/// The reward is paid once, after the hold that follows completion.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn claim_reward(
    caller: AuthUser,
    State(state): State<AppState>,
    MaybeIdempotencyKey(key): MaybeIdempotencyKey,
    JsonBody(body): JsonBody<RewardClaim>,
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
        "You've earned a referral reward",
        format!("We've credited {currency} {amount} to your account."),
        &Mail::RewardGranted(RewardGranted { first_name: None, amount, currency: Some(currency.to_owned()) }),
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
                "Your referral is complete",
                format!("{} finished signing up. Claim your referral reward in the app.", done.friend),
                &Mail::ReferralCompleted(ReferralCompleted {
                    first_name: None,
                    friend_name: Some(done.friend.clone()),
                    referral_id: Some(done.referral),
                }),
            )];
            if !payout.referred_amount.is_zero() {
                jobs.push(reward_notice(user, payout.referred_amount, &payout.currency));
            }
            let mut staged = outbox::stage(conn, Destination::Notification, &jobs).await?;
            let data =
                serde_json::json!({ "referralId": done.referral, "referrerId": done.referrer, "referredUserId": user });
            staged.extend(crate::webhooks::raise(conn, crate::webhooks::EventType::ReferralCompleted, &data).await?);
            Ok(Some((done.referral, staged)))
        })
        .await?;
    let Some((referral, staged)) = completed else { return Ok(()) };
    tracing::info!(referral_id = %referral, "referral completed");
    users::invalidate_lists(&state.cache).await;
    state.relay().send_now(&staged).await;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReferralFailure {
    /// The only change an admin makes.
    #[schema(pattern = "^failed$", example = "failed")]
    status: String,
    /// Why, for the audit log: 1 to 500 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    reason: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct ReferralPath {
    /// The referral's id.
    id: Uuid,
}

/// A referral an admin failed, and how many of its rewards that voided.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct FailedReferral {
    referral: Referral,
    /// The referral's rewards not yet paid out, now voided.
    voided_rewards: i64,
}

#[utoipa::path(patch, path = "/api/admin/referrals/{id}", security(("bearer" = ["admin"])), params(ReferralPath),
    request_body = ReferralFailure,
    responses((status = 200, description = "The referral, failed, and the number of rewards voided.", body = Ok<FailedReferral>),
        (status = 404, description = "No such referral."),
        (status = 409, description = "The referral has already failed, or a reward of it has been paid out.")))]
/// Fails a referral found fraudulent.
///
/// Only while none of its rewards is paid out; its outstanding rewards are voided, and the
/// change is audited.
#[tracing::instrument(skip_all, fields(referral_id = %path.id))]
async fn admin_update(
    ActingAdmin(admin): ActingAdmin,
    State(state): State<AppState>,
    PathParams(path): PathParams<ReferralPath>,
    JsonBody(body): JsonBody<ReferralFailure>,
) -> Result<Response> {
    if body.status != "failed" {
        return Err(Error::invalid_field("status", "status must be failed"));
    }
    let reason = crate::http::required_text("reason", Some(&body.reason), 500)?;
    match repo::fail(&state.db.writer().await?, path.id, Some(admin.id), reason).await? {
        FailOutcome::Failed(referral, voided) => {
            tracing::info!(admin_id = %admin.id, voided, "referral failed by an admin");
            users::invalidate_lists(&state.cache).await;
            Ok(ok(FailedReferral { referral, voided_rewards: voided }))
        }
        FailOutcome::NotFound => Err(Error::NotFound("referral not found")),
        FailOutcome::AlreadyFailed => Err(Error::Conflict("the referral has already failed")),
        FailOutcome::Paid => Err(Error::Conflict("a reward of this referral has been paid out")),
    }
}

#[utoipa::path(get, path = "/api/referrals/stats", security(("bearer" = [])), params(DateRange),
    responses((status = 200, description = "The caller's referrals created in the range, by status, and their rewards.", body = Ok<StatsAnswer>),
        (status = 403, description = "The account is blocked.")))]
/// Counts the caller's referrals and sums their rewards.
#[tracing::instrument(skip_all, fields(user_id = %caller.id))]
async fn stats(
    caller: AuthUser,
    State(state): State<AppState>,
    QueryParams(range): QueryParams<DateRange>,
) -> Result<Response> {
    let (from, to) = range.past()?;
    let stats = repo::stats(&state.db.reader().await?, caller.id, from, to).await?;
    Ok(ok(StatsAnswer {
        total_referrals: stats.total,
        pending_referrals: stats.pending,
        completed_referrals: stats.completed,
        stats,
    }))
}

/// The stats, with the counts also under the names the Node version's clients read.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReferralStatsAnswer)]
struct StatsAnswer {
    #[serde(flatten)]
    stats: Stats,
    /// `total` again.
    total_referrals: i64,
    /// `pending` again.
    pending_referrals: i64,
    /// `completed` again.
    completed_referrals: i64,
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
struct TreeQuery {
    /// The user at the root.
    user_id: Uuid,
    /// Levels of referrals below the root.
    #[param(minimum = 1, maximum = 10, default = 3)]
    depth: Option<i32>,
}

/// A referral tree, as far down as asked.
#[derive(Serialize, ToSchema)]
struct ReferralTree {
    /// The levels asked for.
    depth: i32,
    /// Users in the tree, the root included.
    size: usize,
    tree: ReferralTreeNode,
}

/// A user in a referral tree, with the users they referred.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ReferralTreeNode {
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    /// Levels below the root: 0 for the root.
    depth: i32,
    /// The state of the referral that brought this user; null for one nobody referred.
    #[schema(value_type = Option<ReferralStatus>)]
    referral_status: Option<String>,
    /// That referral's fraud score, 0 to 100.
    fraud_score: Option<i32>,
    /// The fraud signals that fired at sign-up, e.g. `same_ip_as_referrer`.
    #[schema(value_type = Option<Vec<String>>)]
    fraud_reasons: Option<Value>,
    /// Why that referral failed: the reason staff gave, or `duplicate_identity` when KYC
    /// verified a person already verified on another account.
    fail_reason: Option<String>,
    joined_at: DateTime<Utc>,
    #[schema(no_recursion)]
    referrals: Vec<ReferralTreeNode>,
}

#[utoipa::path(get, path = "/api/referrals/tree", security(("bearer" = ["admin"])), params(TreeQuery),
    responses((status = 200, description = "The user and those they referred, nested.", body = Ok<ReferralTree>),
        (status = 404, description = "No such user.")))]
/// Shows who referred whom, `depth` levels down from a user.
///
/// Each referred user carries their referral's state and fraud signals.
#[tracing::instrument(skip_all)]
async fn tree(_: AdminUser, State(state): State<AppState>, QueryParams(q): QueryParams<TreeQuery>) -> Result<Response> {
    let depth = q.depth.unwrap_or(3);
    if !(1..=10).contains(&depth) {
        return Err(Error::invalid_field("depth", "depth must be between 1 and 10"));
    }
    let rows = repo::tree(&state.db.reader().await?, q.user_id, depth).await?;
    let tree = nest(&rows).ok_or(Error::NotFound("user not found"))?;
    Ok(ok(ReferralTree { depth, size: rows.len(), tree }))
}

/// Builds the nested tree from the flat rows (parents come before their children).
fn nest(rows: &[TreeRow]) -> Option<ReferralTreeNode> {
    let mut children: HashMap<Uuid, Vec<&TreeRow>> = HashMap::new();
    for row in rows.iter().skip(1) {
        if let Some(parent) = row.parent {
            children.entry(parent).or_default().push(row);
        }
    }
    fn node(row: &TreeRow, children: &HashMap<Uuid, Vec<&TreeRow>>) -> ReferralTreeNode {
        let referrals =
            children.get(&row.id).map(|c| c.iter().map(|r| node(r, children)).collect()).unwrap_or_default();
        ReferralTreeNode {
            id: row.id,
            email: row.email.clone(),
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            depth: row.depth,
            referral_status: row.referral_status.clone(),
            fraud_score: row.fraud_score,
            fraud_reasons: row.fraud_reasons.clone(),
            fail_reason: row.fail_reason.clone(),
            joined_at: row.joined_at,
            referrals,
        }
    }
    rows.first().filter(|r| r.depth == 0).map(|root| node(root, &children))
}
