//! All of the referrals' SQL.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::fraud::{History, Referrer};
use super::ReferralCode;
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::events::lifecycle;
use crate::macros::text_enum;
use crate::users::Email;

text_enum!(ReferralStatus { Pending => "pending", Completed => "completed", Failed => "failed", Rewarded => "rewarded" });

/// A referral as its referrer sees it: no fraud signals, no referee IP or device.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Referral {
    pub id: Uuid,
    pub referrer_id: Uuid,
    /// Null until the invited friend signs up.
    pub referred_user_id: Option<Uuid>,
    /// The address invited; null for a sign-up with the code alone.
    pub referred_email: Option<String>,
    /// The referrer's code the referral was made with.
    pub code: Option<String>,
    pub status: ReferralStatus,
    /// The referrer's reward, a decimal string, once claimed.
    #[schema(value_type = Option<String>, example = "1000.00")]
    pub reward_amount: Option<Decimal>,
    /// ISO 4217.
    #[schema(example = "NGN")]
    pub reward_currency: String,
    pub reward_paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, referrer_id, referred_user_id, referred_email, code, status, reward_amount, \
     reward_currency, reward_paid_at, created_at, updated_at";

impl Referral {
    fn from_row(row: &Row) -> Result<Self> {
        let status: String = row.get("status");
        Ok(Referral {
            id: row.get("id"),
            referrer_id: row.get("referrer_id"),
            referred_user_id: row.get("referred_user_id"),
            referred_email: row.get("referred_email"),
            code: row.get("code"),
            status: ReferralStatus::parse(&status)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("unexpected referrals.status {status}")))?,
            reward_amount: row.get("reward_amount"),
            reward_currency: row.get::<_, String>("reward_currency").trim().to_owned(),
            reward_paid_at: row.get("reward_paid_at"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        })
    }
}

/// The owner of a referral code, with what the fraud checks compare against.
#[tracing::instrument(skip_all)]
pub async fn referrer_by_code(conn: &Conn, code: &ReferralCode) -> Result<Option<Referrer>> {
    let row = conn
        .query_opt(
            "SELECT id, email, phone, device_fingerprint, signup_ip, last_ip FROM users
             WHERE referral_code = $1 AND NOT blocked AND status = 'active'",
            &[&code.as_str()],
        )
        .await?;
    Ok(row.map(|r| Referrer {
        id: r.get("id"),
        email: r.get("email"),
        phone: r.get("phone"),
        device_fingerprint: r.get("device_fingerprint"),
        signup_ip: r.get("signup_ip"),
        last_ip: r.get("last_ip"),
    }))
}

/// The referrer's recent referral history, for the fraud checks.
#[tracing::instrument(skip_all)]
pub async fn history(conn: &Conn, referrer: Uuid, device: Option<&str>) -> Result<History> {
    let row = conn
        .query_one(
            "SELECT
                (SELECT count(*) FROM users WHERE referred_by = $1 AND created_at > now() - interval '1 hour')
                    AS last_hour,
                $2::text IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE referred_by = $1 AND device_fingerprint = $2)
                    AS device_seen",
            &[&referrer, &device],
        )
        .await?;
    Ok(History { last_hour: row.get("last_hour"), device_seen_among_referrals: row.get("device_seen") })
}

/// What came of an invitation.
pub enum Invited {
    Recorded(Referral),
    /// The referrer invited this address within the window.
    Recently,
    /// The referrer has sent their invitations for the day.
    OverCap,
}

/// Records an invitation of `email`, unless the referrer invited it within `window_hours` or
/// has sent `per_day` invitations in the last 24 hours (counted in the inserting statement);
/// an older open invitation of the address is renewed rather than duplicated. Invitations of
/// one referrer are taken one at a time (a transaction-scoped lock on the referrer), so that
/// the count holds for invitations sent at once. Call inside a transaction.
#[tracing::instrument(skip_all)]
pub async fn invite(
    conn: &Conn,
    referrer: Uuid,
    email: &Email,
    window_hours: i32,
    per_day: i64,
    metadata: &Value,
) -> Result<Invited> {
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('invite:' || $1::uuid::text, 0))", &[&referrer])
        .await?;
    let row = conn
        .query_opt(
            &format!(
                "WITH sent AS (
                    SELECT count(*) AS today FROM referrals
                    WHERE referrer_id = $2 AND invited_at > now() - interval '1 day'
                 ), invited AS (
                    INSERT INTO referrals (id, referrer_id, referred_email, code, status, metadata, invited_at)
                    SELECT $1, u.id, $3, u.referral_code, 'pending', $5, now() FROM users u, sent
                    WHERE u.id = $2 AND sent.today < $6
                    ON CONFLICT (referrer_id, referred_email) WHERE referred_user_id IS NULL AND referred_email IS NOT NULL
                    DO UPDATE SET created_at = now(), updated_at = now(), invited_at = now(), metadata = EXCLUDED.metadata
                    WHERE referrals.created_at <= now() - make_interval(hours => $4)
                    RETURNING {COLUMNS}
                 ), {created}
                 SELECT {COLUMNS} FROM invited",
                created = lifecycle::Record { name: "created", event: lifecycle::REFERRAL_INVITED, from: "invited", user: "referrer_id", properties: "jsonb_build_object('referralId', id, 'via', 'invite')" }.cte(),
            ),
            &[&Uuid::now_v7(), &referrer, &email.as_str(), &window_hours, metadata, &per_day],
        )
        .await?;
    match row {
        Some(row) => Ok(Invited::Recorded(Referral::from_row(&row)?)),
        // Nothing recorded: the lock still held, so the count is the one the statement saw.
        None if invitations_today(conn, referrer).await? >= per_day => Ok(Invited::OverCap),
        None => Ok(Invited::Recently),
    }
}

/// Invitations the referrer has sent in the last 24 hours.
pub async fn invitations_today(conn: &Conn, referrer: Uuid) -> Result<i64> {
    Ok(conn
        .query_one(
            "SELECT count(*) AS today FROM referrals WHERE referrer_id = $1 AND invited_at > now() - interval '1 day'",
            &[&referrer],
        )
        .await?
        .get("today"))
}

/// One page of the referrer's referrals, newest first, with the filter's total.
#[tracing::instrument(skip_all)]
pub async fn page(
    conn: &Conn,
    referrer: Uuid,
    status: Option<ReferralStatus>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Referral>, i64)> {
    let rows = conn
        .query(
            &format!(
                "SELECT {COLUMNS}, count(*) OVER () AS total FROM referrals
                 WHERE referrer_id = $1 AND ($2::text IS NULL OR status = $2)
                 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
            ),
            &[&referrer, &status.map(|s| s.as_str()), &limit, &offset],
        )
        .await?;
    let total = match rows.first() {
        Some(row) => row.get("total"),
        // Past the last page the window count has no row to ride on: count alone.
        None if offset > 0 => conn
            .query_one(
                "SELECT count(*) AS total FROM referrals WHERE referrer_id = $1 AND ($2::text IS NULL OR status = $2)",
                &[&referrer, &status.map(|s| s.as_str())],
            )
            .await?
            .get("total"),
        None => 0,
    };
    Ok((rows.iter().map(Referral::from_row).collect::<Result<_>>()?, total))
}

/// What a completed referral pays, and when.
pub struct Payout {
    /// The referrer's reward, written when they claim.
    pub amount: Decimal,
    pub currency: String,
    /// The referred user's reward, written when the referral completes; zero for none.
    pub referred_amount: Decimal,
    /// Hours after completion before a claim is accepted and a reward can be paid out.
    pub hold_hours: i32,
}

/// A referral that has just completed: its id and referrer, and the referred user's first
/// name (for the referrer's notification).
pub struct Completed {
    pub referral: Uuid,
    pub referrer: Uuid,
    pub friend: String,
}

/// Completes the pending referral of `user` if they are ready: KYC confirmed by the
/// provider, address verified, account in good standing; and writes the referred side's
/// reward, held for `hold_hours`. Idempotent, so every path that may make a user ready (the
/// KYC callback, email verification) calls it, and a retry is harmless.
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn complete_if_ready(conn: &Conn, user: Uuid, payout: &Payout) -> Result<Option<Completed>> {
    let sql = format!(
        "WITH ready AS (
                SELECT id, first_name FROM users
                WHERE id = $1 AND kyc_status = 'successful' AND email_verified_at IS NOT NULL
                  AND NOT blocked AND status = 'active' AND duplicate_of IS NULL
             ), completed AS (
                UPDATE referrals r SET status = 'completed', completed_at = now(), updated_at = now()
                FROM ready WHERE r.referred_user_id = ready.id AND r.status = 'pending'
                RETURNING r.id, r.referrer_id, r.referred_user_id
             ), referred_reward AS (
                INSERT INTO rewards (id, referral_id, user_id, side, amount, currency, status, available_at)
                SELECT $2, id, referred_user_id, 'referred', $3::numeric, $4::text,
                       CASE WHEN $5::int > 0 THEN 'pending' ELSE 'available' END, now() + make_interval(hours => $5::int)
                FROM completed WHERE $3::numeric > 0
                ON CONFLICT (referral_id, side) DO NOTHING
             ), {event}
             SELECT c.id, c.referrer_id, ready.first_name FROM completed c CROSS JOIN ready",
        event = lifecycle::Record { name: "event", event: lifecycle::REFERRAL_COMPLETED, from: "completed", user: "referred_user_id", properties: "jsonb_build_object('referralId', id, 'referrerId', referrer_id)" }.cte(),
    );
    let row = conn
        .query_opt(&sql, &[&user, &Uuid::now_v7(), &payout.referred_amount, &payout.currency, &payout.hold_hours])
        .await?;
    Ok(row.map(|r| Completed { referral: r.get("id"), referrer: r.get("referrer_id"), friend: r.get("first_name") }))
}

/// Moves the caller's completed referral to rewarded and writes the referrer's reward, in
/// one conditional statement: however many claims race, one finds it `completed`. Only
/// once the hold has passed, and only while the referred user is verified and in good
/// standing.
#[tracing::instrument(skip_all, fields(referral_id = %referral))]
pub async fn claim(conn: &Conn, referrer: Uuid, referral: Uuid, payout: &Payout) -> Result<Option<Referral>> {
    let row = conn
        .query_opt(
            &format!(
                "WITH claimed AS (
                    UPDATE referrals r SET status = 'rewarded', reward_amount = $3::numeric, reward_currency = $4::text,
                        reward_paid_at = now(), updated_at = now()
                    WHERE r.id = $1 AND r.referrer_id = $2 AND r.status = 'completed'
                      AND r.completed_at <= now() - make_interval(hours => $5::int)
                      AND EXISTS (SELECT 1 FROM users u WHERE u.id = r.referred_user_id AND NOT u.blocked
                                  AND u.status = 'active' AND u.email_verified_at IS NOT NULL
                                  AND u.duplicate_of IS NULL)
                    RETURNING {COLUMNS}
                 ), paid AS (
                    INSERT INTO rewards (id, referral_id, user_id, side, amount, currency, status, available_at)
                    SELECT $6::uuid, id, referrer_id, 'referrer', $3::numeric, $4::text, 'available', now() FROM claimed
                 ), {event}
                 SELECT * FROM claimed",
                event = lifecycle::Record {
                    name: "event",
                    event: lifecycle::REFERRAL_REWARD_CLAIMED,
                    from: "claimed",
                    user: "referrer_id",
                    properties:
                        "jsonb_build_object('referralId', id, 'amount', $3::numeric::text, 'currency', $4::text)"
                }
                .cte(),
            ),
            &[&referral, &referrer, &payout.amount, &payout.currency, &payout.hold_hours, &Uuid::now_v7()],
        )
        .await?;
    row.as_ref().map(Referral::from_row).transpose()
}

/// Why a claim changed nothing.
pub enum Refusal {
    NotFound,
    Status(ReferralStatus),
    /// Still in its hold: claimable from then.
    Held(DateTime<Utc>),
    ReferredBlocked,
    ReferredUnverified,
}

/// Explains a claim that changed nothing.
pub async fn refusal(conn: &Conn, referrer: Uuid, referral: Uuid, hold_hours: i32) -> Result<Refusal> {
    let row = conn
        .query_opt(
            "SELECT r.status, r.completed_at + make_interval(hours => $3::int) AS claimable_from,
                    COALESCE(u.blocked OR u.status <> 'active', true) AS referred_blocked,
                    u.email_verified_at IS NOT NULL AS referred_verified
             FROM referrals r LEFT JOIN users u ON u.id = r.referred_user_id
             WHERE r.id = $1 AND r.referrer_id = $2",
            &[&referral, &referrer, &hold_hours],
        )
        .await?;
    let Some(row) = row else { return Ok(Refusal::NotFound) };
    let status = ReferralStatus::parse(row.get("status")).unwrap_or(ReferralStatus::Pending);
    let claimable_from: Option<DateTime<Utc>> = row.get("claimable_from");
    Ok(match status {
        ReferralStatus::Completed if row.get::<_, bool>("referred_blocked") => Refusal::ReferredBlocked,
        ReferralStatus::Completed if !row.get::<_, bool>("referred_verified") => Refusal::ReferredUnverified,
        ReferralStatus::Completed => match claimable_from {
            Some(from) if from > Utc::now() => Refusal::Held(from),
            _ => Refusal::Status(status),
        },
        other => Refusal::Status(other),
    })
}

/// What an admin's failing of a referral did.
pub enum FailOutcome {
    /// Failed now, with this many outstanding rewards voided.
    Failed(Referral, i64),
    AlreadyFailed,
    /// A reward of it has been paid out: too late to fail it.
    Paid,
    NotFound,
}

/// Fails a referral (an admin's fraud finding, or GrowStack's own when `actor` is `None`),
/// voids its rewards not yet paid out, and audits the referral and every voided reward: one
/// statement. Refused once a reward of the referral has been paid out.
#[tracing::instrument(skip_all, fields(referral_id = %referral))]
pub async fn fail(conn: &Conn, referral: Uuid, actor: Option<Uuid>, reason: &str) -> Result<FailOutcome> {
    let row = conn
        .query_one(
            &format!(
                "WITH target AS (
                    SELECT r.id, r.status, to_jsonb(r) AS row FROM referrals r WHERE r.id = $1 FOR UPDATE
                 ), paid AS (
                    SELECT 1 FROM rewards WHERE referral_id = $1 AND status = 'paid'
                 ), failed AS (
                    UPDATE referrals r SET status = 'failed', updated_at = now(),
                        metadata = r.metadata || jsonb_build_object('failedBy', $2::text, 'failReason', $3::text)
                    FROM target t WHERE r.id = t.id AND t.status <> 'failed' AND NOT EXISTS (SELECT 1 FROM paid)
                    RETURNING r.*
                 ), outstanding AS (
                    SELECT w.id, to_jsonb(w) AS row FROM rewards w
                    WHERE w.referral_id IN (SELECT id FROM failed) AND w.status IN ('pending', 'available')
                    FOR UPDATE
                 ), voided AS (
                    UPDATE rewards w SET status = 'voided', voided_at = now(), void_reason = $3, updated_at = now()
                    FROM outstanding o WHERE w.id = o.id
                    RETURNING w.*
                 ), audit AS (
                    INSERT INTO audit_log (id, actor_id, entity, entity_id, action, before, after)
                    SELECT $4::uuid, $5::uuid, 'referral', f.id, 'failed', (SELECT row FROM target), to_jsonb(f)
                    FROM failed f
                    UNION ALL
                    SELECT gen_random_uuid(), $5::uuid, 'reward', v.id, 'voided', o.row, to_jsonb(v)
                    FROM voided v JOIN outstanding o ON o.id = v.id
                 )
                 SELECT (SELECT status FROM target) AS found, EXISTS (SELECT 1 FROM paid) AS paid,
                        (SELECT count(*) FROM voided) AS voided, f.{cols}
                 FROM (SELECT 1) one LEFT JOIN failed f ON true",
                cols = COLUMNS.replace(", ", ", f.")
            ),
            &[&referral, &actor.map_or("system".to_owned(), |a| a.to_string()), &reason, &Uuid::now_v7(), &actor],
        )
        .await?;
    let found: Option<String> = row.get("found");
    let failed: Option<Uuid> = row.get("id");
    Ok(match (found.as_deref(), failed) {
        (None, _) => FailOutcome::NotFound,
        (Some(_), Some(_)) => FailOutcome::Failed(Referral::from_row(&row)?, row.get("voided")),
        (Some("failed"), None) => FailOutcome::AlreadyFailed,
        (Some(_), None) if row.get::<_, bool>("paid") => FailOutcome::Paid,
        (Some(_), None) => FailOutcome::AlreadyFailed,
    })
}

/// Why a referral failed when the referred account turned out to be a second account of a
/// person already verified on another.
pub const DUPLICATE_IDENTITY: &str = "duplicate_identity";

/// Fails the referral that brought `user`, a duplicate of an account verified with the same
/// identity, as [`fail`] does for staff. Nothing to fail, or a reward already paid out (too
/// late: logged for staff), leaves it as it is.
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn fail_duplicate_identity(conn: &Conn, user: Uuid) -> Result<()> {
    let Some(row) = conn.query_opt("SELECT id FROM referrals WHERE referred_user_id = $1", &[&user]).await? else {
        return Ok(());
    };
    match fail(conn, row.get("id"), None, DUPLICATE_IDENTITY).await? {
        FailOutcome::Failed(referral, voided) => {
            tracing::info!(referral_id = %referral.id, voided, "referral failed: duplicate identity")
        }
        FailOutcome::Paid => tracing::warn!("a duplicate identity's referral was already paid out"),
        FailOutcome::AlreadyFailed | FailOutcome::NotFound => {}
    }
    Ok(())
}

/// A referrer's referrals counted by status, and their rewards.
#[derive(Debug, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReferralStats)]
pub struct Stats {
    pub total: i64,
    pub pending: i64,
    pub completed: i64,
    pub rewarded: i64,
    pub failed: i64,
    /// The referrer's rewards of these referrals, voided ones left out: a decimal string.
    #[schema(value_type = String, example = "3000.00")]
    pub total_rewards: Decimal,
}

/// The referrer's referrals created in [from, to), counted by status in SQL; their rewards
/// summed from the ledger, voided ones left out.
#[tracing::instrument(skip_all)]
pub async fn stats(
    conn: &Conn,
    referrer: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Stats> {
    let row = conn
        .query_one(
            "SELECT count(*) AS total,
                    count(*) FILTER (WHERE r.status = 'pending') AS pending,
                    count(*) FILTER (WHERE r.status = 'completed') AS completed,
                    count(*) FILTER (WHERE r.status = 'rewarded') AS rewarded,
                    count(*) FILTER (WHERE r.status = 'failed') AS failed,
                    COALESCE((SELECT sum(w.amount) FROM rewards w JOIN referrals wr ON wr.id = w.referral_id
                              WHERE wr.referrer_id = $1 AND w.user_id = $1 AND w.status <> 'voided'
                                AND ($2::timestamptz IS NULL OR wr.created_at >= $2)
                                AND ($3::timestamptz IS NULL OR wr.created_at < $3)), 0)::numeric(12, 2)
                        AS total_rewards
             FROM referrals r
             WHERE r.referrer_id = $1 AND ($2::timestamptz IS NULL OR r.created_at >= $2)
               AND ($3::timestamptz IS NULL OR r.created_at < $3)",
            &[&referrer, &from, &to],
        )
        .await?;
    Ok(Stats {
        total: row.get("total"),
        pending: row.get("pending"),
        completed: row.get("completed"),
        rewarded: row.get("rewarded"),
        failed: row.get("failed"),
        total_rewards: row.get("total_rewards"),
    })
}

/// One node of a referral tree, as the recursive query returns it.
pub struct TreeRow {
    pub id: Uuid,
    pub parent: Option<Uuid>,
    pub depth: i32,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub referral_status: Option<String>,
    /// The referral's fraud score and the signals that fired (staff only).
    pub fraud_score: Option<i32>,
    pub fraud_reasons: Option<Value>,
    pub fail_reason: Option<String>,
    pub joined_at: DateTime<Utc>,
}

/// The user and everyone they referred, down to `depth` levels, in one recursive statement.
#[tracing::instrument(skip_all, fields(user_id = %root, depth))]
pub async fn tree(conn: &Conn, root: Uuid, depth: i32) -> Result<Vec<TreeRow>> {
    let rows = conn
        .query(
            "WITH RECURSIVE tree AS (
                SELECT id, NULL::uuid AS parent, 0 AS depth FROM users WHERE id = $1
                UNION ALL
                SELECT u.id, u.referred_by, t.depth + 1 FROM users u JOIN tree t ON u.referred_by = t.id
                WHERE t.depth < $2
             )
             SELECT t.id, t.parent, t.depth, u.email, u.first_name, u.last_name, r.status, u.created_at,
                    r.fraud_score, r.metadata->'fraud'->'reasons' AS fraud_reasons,
                    r.metadata->>'failReason' AS fail_reason
             FROM tree t JOIN users u ON u.id = t.id
             LEFT JOIN referrals r ON r.referred_user_id = t.id
             ORDER BY t.depth, u.created_at, t.id",
            &[&root, &depth],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TreeRow {
            id: r.get("id"),
            parent: r.get("parent"),
            depth: r.get("depth"),
            email: r.get("email"),
            first_name: r.get("first_name"),
            last_name: r.get("last_name"),
            referral_status: r.get("status"),
            joined_at: r.get("created_at"),
            fraud_score: r.get("fraud_score"),
            fraud_reasons: r.get("fraud_reasons"),
            fail_reason: r.get("fail_reason"),
        })
        .collect())
}
