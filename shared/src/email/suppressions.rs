//! The suppression list: addresses opted out of a category of marketing mail, and (category
//! `all`) addresses that bounced hard or complained, which get no mail at all.

use crate::db::Conn;
use crate::error::Result;
use crate::macros::text_enum;

text_enum!(
    /// What mail an opt-out covers. `All` is only ever set by bounces and complaints.
    Category { All => "all", Invitations => "invitations", KycReminders => "kyc_reminders", Inactivity => "inactivity" }
);

text_enum!(Reason { Unsubscribe => "unsubscribe", Bounce => "bounce", Complaint => "complaint" });

/// Adds `email` to the list for `category`; already there, nothing changes.
pub async fn suppress(conn: &Conn, email: &str, category: Category, reason: Reason) -> Result<()> {
    conn.execute(
        "INSERT INTO email_suppressions (email, category, reason) VALUES (lower($1), $2, $3)
         ON CONFLICT (email, category) DO NOTHING",
        &[&email, &category.as_str(), &reason.as_str()],
    )
    .await?;
    Ok(())
}

/// An address as the list keeps it once its account is erased: `sha256:<hex>` of the
/// lower-cased address, in SQL on `$1`.
const HASHED: &str = "'sha256:' || encode(sha256(convert_to(lower($1), 'UTF8')), 'hex')";

/// Whether mail of `category` (`None` for transactional mail) must not go to `email`, stored
/// as it is or hashed ([`keep_as_hash`]).
pub async fn is_suppressed(conn: &Conn, email: &str, category: Option<Category>) -> Result<bool> {
    let row = conn
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM email_suppressions
                                WHERE email IN (lower($1), {HASHED}) AND (category = 'all' OR category = $2)) AS suppressed"
            ),
            &[&email, &category.map(Category::as_str)],
        )
        .await?;
    Ok(row.get("suppressed"))
}

/// Replaces `email` on the list with its hash (an erasure, privacy/erase.rs): the address is
/// no longer stored, and still never mailed.
pub async fn keep_as_hash(conn: &Conn, email: &str) -> Result<()> {
    conn.execute(
        &format!(
            "WITH gone AS (DELETE FROM email_suppressions WHERE email = lower($1) RETURNING category, reason, created_at)
             INSERT INTO email_suppressions (email, category, reason, created_at)
             SELECT {HASHED}, category, reason, created_at FROM gone
             ON CONFLICT (email, category) DO NOTHING"
        ),
        &[&email],
    )
    .await?;
    Ok(())
}
