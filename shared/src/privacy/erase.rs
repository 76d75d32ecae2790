//! Erasure's SQL: everything that names or locates a person removed or replaced in one
//! transaction, the account kept as a pseudonym for the records that must outlive it.
//!
//! What stays, and why (docs/privacy.md): the `users` row with its id, role, onboarding and KYC
//! status and dates, since the ledger, the audit log and the analytics rows refer to it; the
//! rewards (money records, kept for their legal retention), with amounts, status, payout
//! references and void reasons; the KYC results and the identity hash (the provider's record,
//! and one person, one reward); events and experiment exposures without their properties and
//! metadata, so analytics totals do not move; audit rows, with the person's details in them
//! replaced.

use serde_json::json;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;
use crate::outbox::Staged;

/// What an erasure found.
pub enum Erased {
    /// Erased now; the messages to send once the transaction commits (the `user.erased`
    /// webhook).
    Now(Vec<Staged>),
    /// Erased before: nothing more to do.
    Already,
    /// No such account.
    Missing,
}

/// The text that replaces a person's details inside a document kept about them.
pub const REDACTED: &str = "[erased]";

/// Erases `user` inside the caller's transaction; `actor` (staff, or the user themselves)
/// and `reason` go into the audit row.
pub async fn erase(conn: &Conn, user: Uuid, actor: Uuid, reason: &str) -> Result<Erased> {
    let Some(row) = conn
        .query_opt(
            "SELECT email, phone, first_name, last_name, signup_ip, last_ip, device_fingerprint,
                    EXISTS (SELECT 1 FROM erasures WHERE user_id = $1) AS erased
             FROM users WHERE id = $1 FOR UPDATE",
            &[&user],
        )
        .await?
    else {
        return Ok(Erased::Missing);
    };
    if row.get::<_, bool>("erased") {
        return Ok(Erased::Already);
    }
    let email: String = row.get("email");
    // Every string that names or locates the person, to be replaced wherever a document
    // about them keeps it; with the addresses and agents their events recorded.
    let mut needles: Vec<String> =
        ["email", "phone", "first_name", "last_name", "signup_ip", "last_ip", "device_fingerprint"]
            .into_iter()
            .filter_map(|c| row.get::<_, Option<String>>(c))
            .collect();
    let seen = conn
        .query(
            "SELECT DISTINCT v FROM events, LATERAL (VALUES (metadata->>'ip'), (metadata->>'userAgent')) m(v)
             WHERE user_id = $1 AND v IS NOT NULL",
            &[&user],
        )
        .await?;
    needles.extend(seen.iter().map(|r| r.get::<_, String>(0)));
    // Too short to be a person's detail, and would blot out unrelated text.
    needles.retain(|n| n.chars().count() >= 3);
    needles.sort();
    needles.dedup();

    let id: &(dyn ToSql + Sync) = &user;
    let address: &(dyn ToSql + Sync) = &email;
    let id_text = user.to_string();
    let steps: [(&str, &[&(dyn ToSql + Sync)]); 13] = [
        // The account: a pseudonym. The address is unique and can receive nothing (.invalid);
        // the hash matches no password; `deleted` stops sign-in, refresh and the referral code.
        (
            "UPDATE users SET email = 'erased+' || id || '@erased.invalid', phone = NULL,
                first_name = 'Erased', last_name = '', password_hash = '!erased',
                signup_ip = NULL, last_ip = NULL, device_fingerprint = NULL, email_verified_at = NULL,
                status = 'deleted', token_version = token_version + 1, updated_at = now()
             WHERE id = $1",
            &[id],
        ),
        ("INSERT INTO erasures (user_id) VALUES ($1)", &[id]),
        ("DELETE FROM refresh_tokens WHERE user_id = $1", &[id]),
        ("DELETE FROM notifications WHERE user_id = $1", &[id]),
        ("DELETE FROM nudges WHERE user_id = $1", &[id]),
        ("DELETE FROM phone_conflicts WHERE user_id = $1", &[id]),
        ("UPDATE phone_conflicts SET held_by = NULL WHERE held_by = $1", &[id]),
        ("UPDATE onboarding_events SET metadata = '{}' WHERE user_id = $1 AND metadata <> '{}'", &[id]),
        // The sign-up's (or the invitation's) address, device and agent; the invitations the
        // person sent to addresses that never signed up.
        (
            "UPDATE referrals SET metadata = metadata - 'ip' - 'deviceId' - 'userAgent',
                referred_email = CASE WHEN referred_user_id = $1 OR referred_user_id IS NULL THEN NULL
                                      ELSE referred_email END,
                updated_at = now()
             WHERE referred_user_id = $1 OR referrer_id = $1",
            &[id],
        ),
        (
            "UPDATE events SET properties = '{}', metadata = '{}'
             WHERE user_id = $1 AND (properties <> '{}' OR metadata <> '{}')",
            &[id],
        ),
        ("DELETE FROM event_dedupe WHERE user_id = $1", &[id]),
        // Their exports' links stop at once; the files expire with the bucket's lifecycle.
        ("DELETE FROM user_exports WHERE user_id = $1", &[id]),
        // Mail and notifications not sent yet, and sent ones not pruned yet.
        ("DELETE FROM outbox WHERE strpos(body, $1) > 0 OR strpos(body, $2) > 0", &[address, &id_text]),
    ];
    for (sql, params) in steps {
        conn.execute(sql, params).await?;
    }
    // Still never mailed if it was suppressed: the list keeps the address's hash.
    crate::email::keep_as_hash(conn, &email).await?;
    // Documents kept about the person: audit rows about them, their rewards and referrals, and
    // the webhook events that named them.
    conn.execute(
        "UPDATE audit_log SET before = erase_values(before, $2, $3), after = erase_values(after, $2, $3)
         WHERE (entity = 'user' AND entity_id = $1)
            OR (entity = 'reward' AND entity_id IN (SELECT id FROM rewards WHERE user_id = $1))
            OR (entity = 'referral' AND entity_id IN (SELECT id FROM referrals WHERE referrer_id = $1 OR referred_user_id = $1))",
        &[&user, &needles, &REDACTED],
    )
    .await?;
    // What others were told about the person (a referrer's "your friend … joined"), and its
    // jobs not sent or pruned yet.
    conn.execute(
        "UPDATE notifications SET title = erase_text(title, $2, $3), content = erase_text(content, $2, $3),
            variables = erase_values(variables, $2, $3), updated_at = now()
         WHERE user_id IN (SELECT referrer_id FROM referrals WHERE referred_user_id = $1
                           UNION SELECT referred_user_id FROM referrals WHERE referrer_id = $1)
           AND (title, content, variables) IS DISTINCT FROM
               (erase_text(title, $2, $3), erase_text(content, $2, $3), erase_values(variables, $2, $3))",
        &[&user, &needles, &REDACTED],
    )
    .await?;
    conn.execute(
        "UPDATE outbox SET body = erase_text(body, $1, $2), updated_at = now() WHERE body <> erase_text(body, $1, $2)",
        &[&needles, &REDACTED],
    )
    .await?;
    conn.execute(
        "UPDATE rewards SET void_reason = erase_text(void_reason, $2, $3), external_ref = erase_text(external_ref, $2, $3)
         WHERE user_id = $1",
        &[&user, &needles, &REDACTED],
    )
    .await?;
    conn.execute(
        "UPDATE webhook_events SET data = erase_values(data, $2, $3) WHERE strpos(data::text, $1) > 0",
        &[&user.to_string(), &needles, &REDACTED],
    )
    .await?;
    super::repo::audit(conn, actor, user, "erased", reason).await?;
    let data = json!({ "id": user, "erasedAt": chrono::Utc::now() });
    let staged = crate::webhooks::raise(conn, crate::webhooks::EventType::UserErased, &data).await?;
    Ok(Erased::Now(staged))
}
