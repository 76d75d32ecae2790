//! All of the API keys' SQL.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;
use crate::macros::text_enum;

text_enum!(
    /// What a key may do: each route that takes keys names the one it needs.
    Scope {
        EventsWrite => "events:write",
        RewardsRead => "rewards:read",
        RewardsWrite => "rewards:write",
        UsersRead => "users:read",
    }
);

/// A key as staff see it: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// `gs_` and the secret's first 8 characters: enough to tell keys apart in logs.
    #[schema(example = "gs_3kT9xQ2a")]
    pub prefix: String,
    #[schema(value_type = Vec<Scope>)]
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// The last request it made, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set once revoked: from then on every request with it is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "k.id, k.name, k.prefix, k.scopes, k.created_at, k.last_used_at, k.revoked_at";

impl ApiKey {
    fn from_row(row: &Row) -> Self {
        ApiKey {
            id: row.get("id"),
            name: row.get("name"),
            prefix: row.get("prefix"),
            scopes: row.get("scopes"),
            created_at: row.get("created_at"),
            last_used_at: row.get("last_used_at"),
            revoked_at: row.get("revoked_at"),
        }
    }
}

/// A new key.
pub struct NewKey<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a [u8],
    pub scopes: &'a [&'a str],
}

/// Stores a key made by `admin`, with its audit row: one statement.
pub async fn create(conn: &Conn, key: &NewKey<'_>, admin: Uuid) -> Result<ApiKey> {
    let row = conn
        .query_one(
            &format!(
                "WITH k AS (
                    INSERT INTO api_keys (id, name, prefix, secret_hash, scopes, created_by)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    RETURNING *
                 ), audit AS (
                    INSERT INTO audit_log (id, actor_id, entity, entity_id, action, before, after)
                    SELECT $7, $6, 'api_key', k.id, 'created', 'null'::jsonb,
                           jsonb_build_object('name', k.name, 'prefix', k.prefix, 'scopes', k.scopes)
                    FROM k
                 )
                 SELECT {COLUMNS} FROM k"
            ),
            &[&key.id, &key.name, &key.prefix, &key.secret_hash, &key.scopes, &admin, &Uuid::now_v7()],
        )
        .await?;
    Ok(ApiKey::from_row(&row))
}

/// Every key, newest first (revoked ones too: their history stays readable).
pub async fn list(conn: &Conn) -> Result<Vec<ApiKey>> {
    let rows =
        conn.query(&format!("SELECT {COLUMNS} FROM api_keys k ORDER BY k.created_at DESC, k.id DESC"), &[]).await?;
    Ok(rows.iter().map(ApiKey::from_row).collect())
}

/// Revokes a key (again: nothing changes), auditing the first revocation; `None` when there
/// is no such key.
pub async fn revoke(conn: &Conn, id: Uuid, admin: Uuid) -> Result<Option<ApiKey>> {
    let row = conn
        .query_opt(
            &format!(
                "WITH revoked AS (
                    UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING *
                 ), audit AS (
                    INSERT INTO audit_log (id, actor_id, entity, entity_id, action, before, after)
                    SELECT $2, $3, 'api_key', r.id, 'revoked', 'null'::jsonb,
                           jsonb_build_object('name', r.name, 'prefix', r.prefix, 'revokedAt', r.revoked_at)
                    FROM revoked r
                 )
                 SELECT {COLUMNS} FROM revoked k
                 UNION ALL
                 SELECT {COLUMNS} FROM api_keys k WHERE k.id = $1 AND NOT EXISTS (SELECT 1 FROM revoked)"
            ),
            &[&id, &Uuid::now_v7(), &admin],
        )
        .await?;
    Ok(row.as_ref().map(ApiKey::from_row))
}

/// What the gate needs of the key a request presents.
pub struct Presented {
    pub id: Uuid,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<String>,
    pub revoked: bool,
    /// Whether `last_used_at` is more than a minute old (or unset): worth a write.
    pub stale_use: bool,
}

pub async fn by_prefix(conn: &Conn, prefix: &str) -> Result<Option<Presented>> {
    let row = conn
        .query_opt(
            "SELECT id, name, secret_hash, scopes, revoked_at IS NOT NULL AS revoked,
                    coalesce(last_used_at < now() - interval '1 minute', true) AS stale_use
             FROM api_keys WHERE prefix = $1",
            &[&prefix],
        )
        .await?;
    Ok(row.map(|r| Presented {
        id: r.get("id"),
        name: r.get("name"),
        secret_hash: r.get("secret_hash"),
        scopes: r.get("scopes"),
        revoked: r.get("revoked"),
        stale_use: r.get("stale_use"),
    }))
}

/// Records a use, at most once a minute per key (the gate asks only when it is stale).
pub async fn touch(conn: &Conn, id: Uuid) -> Result<()> {
    conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = $1", &[&id]).await?;
    Ok(())
}

/// An audit row for a write made with key `key`: what `entity` it changed and how.
pub async fn audit(conn: &Conn, key: Uuid, entity: &str, entity_id: Uuid, action: &str, after: &Value) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_log (id, actor_id, api_key_id, entity, entity_id, action, before, after)
         VALUES ($1, NULL, $2, $3, $4, $5, 'null'::jsonb, $6)",
        &[&Uuid::now_v7(), &key, &entity, &entity_id, &action, &after],
    )
    .await?;
    Ok(())
}
