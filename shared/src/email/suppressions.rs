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

/// Whether mail of `category` (`None` for transactional mail) must not go to `email`. An
/// erased account's suppressions are kept as `sha256:<hex of the address>` (privacy/erase.rs),
/// so the address stays suppressed without being stored.
pub async fn is_suppressed(conn: &Conn, email: &str, category: Option<Category>) -> Result<bool> {
    let row = conn
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM email_suppressions
                            WHERE email IN (lower($1), 'sha256:' || encode(sha256(convert_to(lower($1), 'UTF8')), 'hex'))
                              AND (category = 'all' OR category = $2)) AS suppressed",
            &[&email, &category.map(Category::as_str)],
        )
        .await?;
    Ok(row.get("suppressed"))
}
