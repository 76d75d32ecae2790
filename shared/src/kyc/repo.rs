//! All of KYC's SQL.

use uuid::Uuid;

use super::types::{KycCallback, KycOutcome};
use crate::db::Conn;
use crate::error::Result;
use crate::events::lifecycle;
use crate::signing::sha256;

/// Whether a callback with this event id was already taken.
pub async fn seen(conn: &Conn, event_id: &str) -> Result<bool> {
    Ok(conn.query_opt("SELECT 1 FROM kyc_events WHERE event_id = $1", &[&event_id]).await?.is_some())
}

/// What a verdict did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    UnknownUser,
    Verdict,
    /// Successful, on an identity the given account was verified with first.
    DuplicateOf(Uuid),
}

/// The identity reference as we keep it.
fn identity_hash(callback: &KycCallback) -> Option<Vec<u8>> {
    callback.identity_ref.as_deref().map(|r| sha256(r.trim().as_bytes()))
}

/// Applies the provider's verdict to the user: `successful` sets the KYC status and the
/// `kyc_complete` step (recording its time), and claims the identity for the user unless
/// another account holds it, which makes the user a duplicate of that account; `failed`
/// records the failure, never undoing a success. Idempotent; run inside a transaction.
#[tracing::instrument(skip_all, fields(user_id = %callback.user_id))]
pub async fn apply(conn: &Conn, callback: &KycCallback) -> Result<Applied> {
    let identity = identity_hash(callback).filter(|_| callback.status == KycOutcome::Successful);
    let mut holder: Option<Uuid> = None;
    if let Some(identity) = &identity {
        // Two statements: a claim that loses a race waits for the winner, and only the next
        // statement's snapshot sees the winner's row.
        conn.execute(
            "INSERT INTO kyc_identities (identity_hash, user_id) SELECT $1, id FROM users WHERE id = $2
             ON CONFLICT DO NOTHING",
            &[identity, &callback.user_id],
        )
        .await?;
        holder = conn
            .query_opt("SELECT user_id FROM kyc_identities WHERE identity_hash = $1", &[identity])
            .await?
            .map(|r| r.get("user_id"));
    }
    let duplicate_of = holder.filter(|h| *h != callback.user_id);
    let sql = format!(
        "WITH previous AS (
            SELECT onboarding_step FROM users WHERE id = $1
         ), moved AS (
            UPDATE users SET
                kyc_status = CASE WHEN $2 = 'successful' THEN 'successful'
                                  WHEN kyc_status = 'successful' THEN kyc_status ELSE 'failed' END,
                onboarding_step = CASE WHEN $2 = 'successful' THEN 'kyc_complete' ELSE onboarding_step END,
                duplicate_of = COALESCE(duplicate_of, $5),
                updated_at = now()
            WHERE id = $1
            RETURNING id
         ), recorded AS (
            INSERT INTO onboarding_events (id, user_id, step, metadata)
            SELECT $3, id, 'kyc_complete', jsonb_build_object('reference', $4::text) FROM moved WHERE $2 = 'successful'
            ON CONFLICT (user_id, step) DO NOTHING
            RETURNING user_id
         ), {completed}
         SELECT EXISTS (SELECT 1 FROM moved) AS known",
        completed = lifecycle::Record {
            name: "completed",
            event: lifecycle::ONBOARDING_STEP_COMPLETED,
            from: "recorded",
            user: "user_id",
            properties:
                "jsonb_build_object('step', 'kyc_complete', 'previousStep', (SELECT onboarding_step FROM previous))"
        }
        .cte(),
    );
    let row = conn
        .query_one(
            &sql,
            &[&callback.user_id, &callback.status.as_str(), &Uuid::now_v7(), &callback.reference, &duplicate_of],
        )
        .await?;
    Ok(match (row.get("known"), duplicate_of) {
        (false, _) => Applied::UnknownUser,
        (true, Some(holder)) => Applied::DuplicateOf(holder),
        (true, None) => Applied::Verdict,
    })
}

/// Records the callback as taken, last, so that a callback that failed half-way is applied
/// again when the provider retries it.
pub async fn record(conn: &Conn, callback: &KycCallback, applied: bool) -> Result<()> {
    conn.execute(
        "INSERT INTO kyc_events (event_id, user_id, status, reference, occurred_at, applied, identity_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
        &[
            &callback.event_id,
            &callback.user_id,
            &callback.status.as_str(),
            &callback.reference,
            &callback.occurred_at,
            &applied,
            &identity_hash(callback),
        ],
    )
    .await?;
    Ok(())
}
