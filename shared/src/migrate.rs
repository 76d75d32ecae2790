//! A deploy's schema step: the pending migrations, then what they leave to code — the months
//! of events partitions an insert may need (so that the first request after a deploy finds
//! them), stored phone numbers brought to E.164, and the application's DML-only login.

use anyhow::Context;

use crate::db::Db;
use crate::events::partitions;

/// Runs the whole step on the writer; each part is safe to repeat.
pub async fn run(db: &Db) -> anyhow::Result<()> {
    let conn = db.apply_migrations().await?;
    let client: &tokio_postgres::Client = &conn;
    for (part, from, to) in partitions::needed(chrono::Utc::now().date_naive()) {
        client.execute(partitions::ENSURE, &[&part, &from, &to]).await.context("create events partitions")?;
    }
    crate::users::normalise_phones(client, db.phone_region()).await.context("normalise stored phone numbers")?;
    db.grant_app_role(client).await
}
