//! All of the users' SQL and cache keys.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::types::{Email, NewUser, Phone, PhoneRegion, ProfileUpdate, Role, User};
use crate::cache::Cache;
use crate::db::Conn;
use crate::error::{unique_violation, Error, Result};
use crate::events::lifecycle;
use crate::referrals::{ReferralCode, ReferralStatus};

const COLUMNS: &str = "id, email, phone, password_hash, first_name, last_name, role, status, onboarding_step, \
     kyc_status, referral_code, referred_by, device_fingerprint, last_active_at, fraud_score, blocked, \
     email_verified_at, token_version, duplicate_of, created_at, updated_at";

/// The cache family holding every cached page of the admin user list.
pub const LIST_CACHE_FAMILY: &str = "{users-list}:keys";

fn one(row: Option<tokio_postgres::Row>) -> Result<Option<User>> {
    row.as_ref().map(User::from_row).transpose()
}

#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn by_id(conn: &Conn, id: Uuid) -> Result<Option<User>> {
    one(conn.query_opt(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"), &[&id]).await?)
}

#[tracing::instrument(skip_all)]
pub async fn by_email(conn: &Conn, email: &Email) -> Result<Option<User>> {
    one(conn.query_opt(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"), &[&email.as_str()]).await?)
}

fn conflict(e: tokio_postgres::Error) -> Error {
    match unique_violation(&e) {
        Some("users_email_key") => Error::Conflict("an account with this email already exists"),
        Some("users_phone_key") => Error::Conflict("an account with this phone number already exists"),
        _ => e.into(),
    }
}

/// The referral a sign-up with a code creates, as the fraud checks judged it.
pub struct NewReferral<'a> {
    pub referrer: Uuid,
    pub code: &'a ReferralCode,
    pub status: ReferralStatus,
    pub fraud_score: i32,
    pub metadata: serde_json::Value,
}

/// Inserts the user with a fresh referral code and, when referred, their referral (taking
/// over the referrer's pending invitation of this address, if there is one), in one
/// statement: atomic, with no transaction to hold open. A referral code collision is
/// retried with a new code.
#[tracing::instrument(skip_all)]
pub async fn create(
    conn: &Conn,
    user: &NewUser,
    password_hash: &str,
    signup_ip: &str,
    referral: Option<&NewReferral<'_>>,
) -> Result<User> {
    let sql = format!(
        "WITH new_user AS (
            INSERT INTO users (id, email, phone, password_hash, first_name, last_name, referral_code, referred_by,
                               device_fingerprint, signup_ip, fraud_score)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (referral_code) DO NOTHING
            RETURNING {COLUMNS}
        ), invited AS (
            UPDATE referrals SET referred_user_id = (SELECT id FROM new_user), code = $12, status = $13,
                fraud_score = $11, metadata = metadata || $14::jsonb, updated_at = now()
            WHERE id = (SELECT id FROM referrals WHERE referrer_id = $8 AND referred_email = $2
                          AND referred_user_id IS NULL ORDER BY created_at DESC LIMIT 1)
              AND EXISTS (SELECT 1 FROM new_user)
            RETURNING id
        ), referral AS (
            INSERT INTO referrals (id, referrer_id, referred_user_id, code, status, fraud_score, metadata)
            SELECT $15, referred_by, id, $12, $13, $11, $14::jsonb FROM new_user
            WHERE referred_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM invited)
        ), {registered}, {referred}
        SELECT {COLUMNS} FROM new_user",
        registered = lifecycle::Record {
            name: "registered",
            event: lifecycle::USER_REGISTERED,
            from: "new_user",
            user: "id",
            properties: "jsonb_build_object('referred', referred_by IS NOT NULL)"
        }
        .cte(),
        referred = lifecycle::Record {
            name: "referred",
            event: lifecycle::REFERRAL_CREATED,
            from: "new_user WHERE referred_by IS NOT NULL",
            user: "referred_by",
            properties: "jsonb_build_object('referredUserId', id, 'via', 'code', 'status', $13::text)"
        }
        .cte(),
    );
    let referrer = referral.map(|r| r.referrer);
    let code_used = referral.map(|r| r.code.as_str());
    let status = referral.map(|r| r.status.as_str());
    let fraud_score = referral.map_or(0, |r| r.fraud_score);
    let metadata = referral.map(|r| r.metadata.clone()).unwrap_or_else(|| serde_json::json!({}));
    for _ in 0..5 {
        let code = ReferralCode::generate();
        let row = conn
            .try_query_opt(
                &sql,
                &[
                    &Uuid::now_v7(),
                    &user.email.as_str(),
                    &user.phone.as_str(),
                    &password_hash,
                    &user.first_name.as_str(),
                    &user.last_name.as_str(),
                    &code.as_str(),
                    &referrer,
                    &user.device_fingerprint.as_ref().map(|f| f.as_str()),
                    &signup_ip,
                    &fraud_score,
                    &code_used,
                    &status,
                    &metadata,
                    &Uuid::now_v7(),
                ],
            )
            .await?
            .map_err(conflict)?;
        if let Some(user) = one(row)? {
            return Ok(user);
        }
    }
    Err(Error::Internal(anyhow::anyhow!("no free referral code after 5 tries")))
}

#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn touch_last_active(conn: &Conn, id: Uuid, ip: &str) -> Result<Option<User>> {
    let sql = format!(
        "WITH touched AS (
            UPDATE users SET last_active_at = now(), last_ip = $2 WHERE id = $1 RETURNING {COLUMNS}
         ), {logged_in}
         SELECT {COLUMNS} FROM touched",
        logged_in = lifecycle::Record {
            name: "logged_in",
            event: lifecycle::USER_LOGGED_IN,
            from: "touched",
            user: "id",
            properties: lifecycle::NO_PROPERTIES
        }
        .cte(),
    );
    one(conn.query_opt(&sql, &[&id, &ip]).await?)
}

#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn update_profile(conn: &Conn, id: Uuid, update: &ProfileUpdate) -> Result<Option<User>> {
    let sql = format!(
        "WITH updated AS (
            UPDATE users SET
                first_name = COALESCE($2, first_name),
                last_name = COALESCE($3, last_name),
                phone = COALESCE($4, phone),
                device_fingerprint = COALESCE($5, device_fingerprint),
                updated_at = now()
            WHERE id = $1 RETURNING {COLUMNS}
         ), {event}
         SELECT {COLUMNS} FROM updated",
        event = lifecycle::Record { name: "event", event: lifecycle::PROFILE_UPDATED, from: "updated", user: "id", properties: "jsonb_strip_nulls(jsonb_build_object('firstName', $2::text IS NOT NULL, 'lastName', $3::text IS NOT NULL, \
             'phone', $4::text IS NOT NULL, 'deviceFingerprint', $5::text IS NOT NULL))" }.cte(),
    );
    let row = conn
        .try_query_opt(
            &sql,
            &[
                &id,
                &update.first_name.as_ref().map(|v| v.as_str()),
                &update.last_name.as_ref().map(|v| v.as_str()),
                &update.phone.as_ref().map(|v| v.as_str()),
                &update.device_fingerprint.as_ref().map(|v| v.as_str()),
            ],
        )
        .await?
        .map_err(conflict)?;
    one(row)
}

/// A change to an account that ends all of its sessions: each given field is set, the token
/// version is bumped (so every access token issued before dies) and every refresh token is
/// revoked, in one statement.
#[derive(Debug, Default)]
pub struct AccountChange<'a> {
    pub blocked: Option<bool>,
    pub role: Option<Role>,
    pub password_hash: Option<&'a str>,
}

#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn change_account(conn: &Conn, id: Uuid, change: &AccountChange<'_>) -> Result<Option<User>> {
    let sql = format!(
        "WITH changed AS (
            UPDATE users SET token_version = token_version + 1,
                blocked = COALESCE($2, blocked), role = COALESCE($3, role),
                password_hash = COALESCE($4, password_hash), updated_at = now()
            WHERE id = $1 RETURNING {COLUMNS}
         ), revoked AS (
            UPDATE refresh_tokens SET revoked_at = now(), updated_at = now()
            WHERE user_id = $1 AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM changed)
         ), {blocked}, {unblocked}
         SELECT {COLUMNS} FROM changed",
        blocked = lifecycle::Record {
            name: "blocked",
            event: lifecycle::USER_BLOCKED,
            from: "changed WHERE $2::bool",
            user: "id",
            properties: lifecycle::NO_PROPERTIES
        }
        .cte(),
        unblocked = lifecycle::Record {
            name: "unblocked",
            event: lifecycle::USER_UNBLOCKED,
            from: "changed WHERE NOT $2::bool",
            user: "id",
            properties: lifecycle::NO_PROPERTIES
        }
        .cte(),
    );
    one(conn.query_opt(&sql, &[&id, &change.blocked, &change.role.map(Role::as_str), &change.password_hash]).await?)
}

/// Replaces a password hash with one of the same password made with today's settings,
/// unless the hash changed meanwhile (a new password set since the sign-in read it). Not an
/// account change: no token is revoked.
#[tracing::instrument(skip_all, fields(user_id = %id))]
pub async fn rehash_password(conn: &Conn, id: Uuid, read: &str, rehashed: &str) -> Result<()> {
    conn.execute(
        "UPDATE users SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2",
        &[&id, &read, &rehashed],
    )
    .await?;
    Ok(())
}

/// What verifying an address did.
pub enum Verified {
    /// Verified now.
    Now(Box<User>),
    /// The address was verified before: the link has been used.
    Already,
    /// The user no longer exists or changed address.
    Gone,
}

/// Marks `email` as `user`'s verified address and records the email step's time: one
/// statement.
#[tracing::instrument(skip_all, fields(user_id = %user))]
pub async fn verify_email(conn: &Conn, user: Uuid, email: &str) -> Result<Verified> {
    let sql = format!(
        "WITH verified AS (
            UPDATE users SET email_verified_at = now(), updated_at = now()
            WHERE id = $1 AND email = $2 AND email_verified_at IS NULL
            RETURNING {COLUMNS}
         ), recorded AS (
            INSERT INTO onboarding_events (id, user_id, step) SELECT $3, id, 'email' FROM verified
            ON CONFLICT (user_id, step) DO NOTHING
         )
         SELECT v.*, EXISTS (SELECT 1 FROM users WHERE id = $1 AND email = $2) AS exists
         FROM (SELECT 1) one LEFT JOIN verified v ON true"
    );
    let row = conn.query_one(&sql, &[&user, &email, &Uuid::now_v7()]).await?;
    let id: Option<Uuid> = row.get("id");
    if id.is_none() {
        return Ok(if row.get("exists") { Verified::Already } else { Verified::Gone });
    }
    Ok(Verified::Now(Box::new(User::from_row(&row)?)))
}

/// Creates the admin, or makes an existing account with that email an active, unblocked
/// admin with this password: running it twice changes nothing the second time.
#[tracing::instrument(skip_all)]
pub async fn upsert_admin(conn: &Conn, email: &Email, password_hash: &str) -> Result<User> {
    let sql = format!(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, role, referral_code)
         VALUES ($1, $2, $3, 'Admin', 'User', 'admin', $4)
         ON CONFLICT (email) DO UPDATE SET
            role = 'admin', password_hash = EXCLUDED.password_hash, blocked = false, status = 'active', updated_at = now()
         RETURNING {COLUMNS}"
    );
    for _ in 0..5 {
        let code = ReferralCode::generate();
        match conn.try_query_opt(&sql, &[&Uuid::now_v7(), &email.as_str(), &password_hash, &code.as_str()]).await? {
            Ok(row) => return one(row)?.ok_or_else(|| Error::Internal(anyhow::anyhow!("upsert returned no row"))),
            Err(e) if unique_violation(&e) == Some("users_referral_code_key") => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal(anyhow::anyhow!("no free referral code after 5 tries")))
}

/// One page of the admin list, newest first, each user with their referrals' id and status,
/// built as a JSON array by Postgres in one statement.
#[tracing::instrument(skip_all, fields(limit, offset))]
pub async fn list_page_json(conn: &Conn, limit: i64, offset: i64) -> Result<String> {
    const SQL: &str = r#"SELECT COALESCE(json_agg(json_build_object(
            'id', u.id, 'email', u.email, 'firstName', u.first_name, 'lastName', u.last_name,
            'role', u.role, 'status', u.status, 'blocked', u.blocked,
            'createdAt', to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'referrals', COALESCE((
                SELECT json_agg(json_build_object('id', r.id, 'status', r.status) ORDER BY r.created_at, r.id)
                FROM referrals r WHERE r.referrer_id = u.id), '[]'::json)
        ) ORDER BY u.created_at DESC, u.id DESC), '[]'::json)::text AS page
        FROM (SELECT id, email, first_name, last_name, role, status, blocked, created_at
              FROM users ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2) u"#;
    Ok(conn.query_one(SQL, &[&limit, &offset]).await?.get("page"))
}

/// The cache key of one page of the admin list: the normalized query.
pub fn list_cache_key(cache: &Cache, limit: i64, offset: i64) -> String {
    cache.key(&format!("{{users-list}}:limit={limit}:offset={offset}"))
}

/// Drops every cached page of the admin list; called after any write to users or referrals.
pub async fn invalidate_lists(cache: &Cache) {
    cache.invalidate(&cache.key(LIST_CACHE_FAMILY)).await;
}

/// What [`normalise_phones`] found.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PhoneReport {
    pub checked: u64,
    pub rewritten: u64,
    pub invalid: u64,
    pub duplicates: u64,
}

const PHONE_FIX: &str = "phones_e164";

/// Rewrites, once, the phone numbers stored before they were parsed into E.164 (see
/// migration V15), reading each as sign-up now does (`region` for numbers without their
/// country code). A number libphonenumber refuses, or one another account already holds,
/// is emptied and listed in `phone_conflicts`; accounts are taken oldest first, so of two
/// spellings of one number the older account keeps it, unless a newer one already held it
/// in E.164. `None` when it had been done.
pub async fn normalise_phones(client: &tokio_postgres::Client, region: PhoneRegion) -> Result<Option<PhoneReport>> {
    if client.query_opt("SELECT 1 FROM data_fixes WHERE name = $1", &[&PHONE_FIX]).await?.is_some() {
        return Ok(None);
    }
    let mut report = PhoneReport::default();
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    loop {
        let rows = client
            .query(
                "SELECT id, phone, created_at FROM users
                 WHERE phone IS NOT NULL AND ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2))
                 ORDER BY created_at, id LIMIT 2000",
                &[&after.map(|a| a.0), &after.map(|a| a.1)],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some((last.get("created_at"), last.get("id")));
        for row in &rows {
            let (id, stored): (Uuid, String) = (row.get("id"), row.get("phone"));
            report.checked += 1;
            let normalised = match Phone::parse(&stored, region) {
                Ok(phone) if phone.as_str() == stored => continue,
                Ok(phone) => Some(phone),
                Err(_) => None,
            };
            let kept: bool = client
                .query_one(
                    "WITH taken AS (
                        SELECT id FROM users WHERE phone = $2 AND id <> $1 ORDER BY created_at LIMIT 1
                     ), fixed AS (
                        UPDATE users SET phone = $2, updated_at = now()
                        WHERE id = $1 AND $2 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM taken)
                        RETURNING id
                     ), emptied AS (
                        UPDATE users SET phone = NULL, updated_at = now()
                        WHERE id = $1 AND ($2 IS NULL OR EXISTS (SELECT 1 FROM taken))
                        RETURNING id
                     ), listed AS (
                        INSERT INTO phone_conflicts (user_id, stored, normalised, held_by, reason)
                        SELECT $1, $3, $2, (SELECT id FROM taken), CASE WHEN $2 IS NULL THEN 'invalid' ELSE 'duplicate' END
                        FROM emptied
                        ON CONFLICT (user_id) DO NOTHING
                     )
                     SELECT EXISTS (SELECT 1 FROM fixed) AS kept",
                    &[&id, &normalised.as_ref().map(Phone::as_str), &stored],
                )
                .await?
                .get("kept");
            match (kept, &normalised) {
                (true, _) => report.rewritten += 1,
                (false, None) => report.invalid += 1,
                (false, Some(_)) => report.duplicates += 1,
            }
            if !kept {
                tracing::warn!(user_id = %id, invalid = normalised.is_none(), "a stored phone number could not be kept; see phone_conflicts");
            }
        }
    }
    let json = serde_json::to_value(&report).map_err(anyhow::Error::new)?;
    client
        .execute("INSERT INTO data_fixes (name, report) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&PHONE_FIX, &json])
        .await?;
    tracing::info!(?report, "stored phone numbers normalised to E.164");
    Ok(Some(report))
}
