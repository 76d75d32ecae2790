//! Sessions: every refresh token is stored (as its SHA-256 hash) in a family, one family
//! per sign-in. A refresh exchanges the presented token for the next of its family, once:
//! presenting a used token again is the signal that it was stolen, and revokes the family,
//! so neither the thief nor the victim holds a working token afterwards.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::token::{Claims, Subject, TokenPair, TokenType, Tokens};
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::events::lifecycle;
use crate::signing::sha256;
use crate::users::{self, User};

fn expiry(tokens: &Tokens) -> DateTime<Utc> {
    Utc::now() + tokens.refresh_ttl()
}

/// Signs in `user` on a new device: a new family and its first token pair.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn start(conn: &Conn, tokens: &Tokens, user: &User) -> Result<TokenPair> {
    let subject = Subject { user: user.id, role: user.role, version: user.token_version, family: Uuid::now_v7() };
    let pair = tokens.issue(&subject).await?;
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
        &[&sha256(pair.refresh_token.as_bytes()), &subject.family, &user.id, &expiry(tokens)],
    )
    .await?;
    Ok(pair)
}

/// Exchanges a refresh token for a new pair of its family, once. A token presented a
/// second time revokes its whole family (and answers 401); so does nothing else.
#[tracing::instrument(skip_all)]
pub async fn rotate(conn: &Conn, tokens: &Tokens, presented: &str) -> Result<(User, TokenPair)> {
    const REVOKED: Error = Error::Unauthorized("session revoked; sign in again");
    let claims = tokens.verify(presented, TokenType::Refresh).await?;
    let family = claims.fam.ok_or(Error::Unauthorized("invalid token"))?;
    let user = users::by_id(conn, claims.sub).await?.ok_or(Error::Unauthorized("invalid token"))?;
    user.ensure_may_sign_in()?;
    // The role and version come from the database, so a promotion or demotion takes effect here.
    let pair = tokens.issue(&Subject { user: user.id, role: user.role, version: user.token_version, family }).await?;
    let sql = format!(
        "WITH presented AS (
                SELECT token_hash, family_id, used_at, revoked_at, expires_at FROM refresh_tokens
                WHERE token_hash = $1 AND user_id = $2 AND family_id = $3
                FOR UPDATE
             ), rotated AS (
                UPDATE refresh_tokens t SET used_at = now(), updated_at = now() FROM presented p
                WHERE t.token_hash = p.token_hash
                  AND p.used_at IS NULL AND p.revoked_at IS NULL AND p.expires_at > now()
                RETURNING t.family_id
             ), issued AS (
                INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)
                SELECT $4, family_id, $2, $5 FROM rotated
             ), {refreshed}
             SELECT EXISTS (SELECT 1 FROM rotated) AS rotated,
                    EXISTS (SELECT 1 FROM presented WHERE used_at IS NOT NULL) AS reused",
        refreshed = lifecycle::Record {
            name: "refreshed",
            event: lifecycle::TOKEN_REFRESHED,
            from: "rotated",
            user: "$2::uuid",
            properties: lifecycle::NO_PROPERTIES
        }
        .cte(),
    );
    let row = conn
        .query_one(
            &sql,
            &[
                &sha256(presented.as_bytes()),
                &user.id,
                &family,
                &sha256(pair.refresh_token.as_bytes()),
                &expiry(tokens),
            ],
        )
        .await?;
    let (rotated, reused): (bool, bool) = (row.get("rotated"), row.get("reused"));
    if rotated {
        return Ok((user, pair));
    }
    if reused {
        // A separate statement, so that it also sees a token a concurrent rotation of the
        // same family has just committed.
        let revoked = end_family(conn, user.id, family).await?;
        tracing::warn!(user_id = %user.id, family = %family, revoked, "refresh token reused: family revoked");
    }
    Err(REVOKED)
}

/// Revokes one family (a sign-out). Returns how many live tokens it had.
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn end_family(conn: &Conn, user: Uuid, family: Uuid) -> Result<u64> {
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now(), updated_at = now()
         WHERE family_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        &[&family, &user],
    )
    .await
}

/// The family a refresh token belongs to, from its signed claims.
pub fn family_of(claims: &Claims) -> Result<Uuid> {
    claims.fam.ok_or(Error::Unauthorized("invalid token"))
}

/// Drops tokens that expired more than a day ago; the scheduler's housekeeping.
pub async fn purge_expired(conn: &Conn) -> Result<u64> {
    conn.execute("DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'", &[]).await
}
