//! The record of emails SES accepted, by job id: what makes a redelivered job whose worker
//! died after the send (and before its completion reached DynamoDB) send nothing more.

use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;

/// SES's message id for `job`, if an attempt sent it.
pub async fn sent(conn: &Conn, job: Uuid) -> Result<Option<String>> {
    Ok(conn
        .query_opt("SELECT message_id FROM email_sends WHERE job_id = $1", &[&job])
        .await?
        .map(|r| r.get("message_id")))
}

pub async fn record(conn: &Conn, job: Uuid, message_id: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO email_sends (job_id, message_id) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING",
        &[&job, &message_id],
    )
    .await?;
    Ok(())
}

/// Drops records older than any message that could still be redelivered.
pub async fn prune(conn: &Conn) -> Result<u64> {
    conn.execute("DELETE FROM email_sends WHERE sent_at < now() - interval '15 days'", &[]).await
}
