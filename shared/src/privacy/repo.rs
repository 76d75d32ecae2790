//! The export's SQL: one statement, a section per place a user's rows live.

use serde_json::Value;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;

/// Most events an export carries (the newest); `eventsTotal` says how many there are, and a
/// larger history is written whole to S3 and its link mailed (`exports`).
pub const EVENTS_IN_EXPORT: i64 = 10_000;

/// Every column that refers to a user, and where the export covers it (the section), or
/// why it does not. A test reads the schema and fails on a column missing here, so a new
/// table holding a user's rows cannot be left out of the export by oversight.
pub const COVERED: &[(&str, &str, &str)] = &[
    ("users", "id", "profile"),
    ("users", "referred_by", "profile"),
    ("refresh_tokens", "user_id", "sessions"),
    ("referrals", "referrer_id", "referralsMade"),
    ("referrals", "referred_user_id", "referredBy"),
    ("rewards", "user_id", "rewards"),
    ("onboarding_events", "user_id", "onboarding"),
    ("kyc_events", "user_id", "kyc"),
    ("kyc_identities", "user_id", "kycIdentity"),
    ("notifications", "user_id", "notifications"),
    ("nudges", "user_id", "nudges"),
    ("events", "user_id", "events"),
    ("event_dedupe", "user_id", "not exported: the client's event ids, already in `events`"),
    ("experiment_exposures", "user_id", "experimentExposures"),
    ("experiments", "created_by", "experimentsCreated"),
    ("phone_conflicts", "user_id", "phoneConflicts"),
    ("phone_conflicts", "held_by", "phoneConflicts"),
    ("audit_log", "actor_id", "auditActions"),
    ("api_keys", "created_by", "apiKeysCreated"),
    ("webhook_endpoints", "created_by", "webhooksCreated"),
    ("erasures", "user_id", "erasure"),
    ("user_exports", "user_id", "exports"),
    ("user_exports", "requested_by", "exports"),
];

/// Everything held about `user`, or `None` when there is no such account.
pub async fn export(conn: &Conn, user: Uuid) -> Result<Option<Value>> {
    export_with(conn, user, EVENTS_IN_EXPORT).await
}

/// As [`export`], with at most `events` events (the newest).
pub async fn export_with(conn: &Conn, user: Uuid, events: i64) -> Result<Option<Value>> {
    let row = conn
        .query_one(
            "WITH u AS (SELECT * FROM users WHERE id = $1)
             SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM u) THEN NULL ELSE jsonb_build_object(
                'profile', (SELECT to_jsonb(u) - 'password_hash' FROM u),
                'sessions', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'familyId', family_id, 'createdAt', created_at, 'expiresAt', expires_at,
                        'usedAt', used_at, 'revokedAt', revoked_at) ORDER BY created_at), '[]')
                    FROM refresh_tokens WHERE user_id = $1),
                'referralsMade', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.created_at), '[]')
                    FROM referrals r WHERE r.referrer_id = $1),
                'referredBy', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.created_at), '[]')
                    FROM referrals r WHERE r.referred_user_id = $1),
                'rewards', (SELECT coalesce(jsonb_agg(to_jsonb(w) ORDER BY w.created_at), '[]')
                    FROM rewards w WHERE w.user_id = $1),
                'onboarding', (SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.created_at), '[]')
                    FROM onboarding_events o WHERE o.user_id = $1),
                'kyc', (SELECT coalesce(jsonb_agg(to_jsonb(k) - 'identity_hash' ORDER BY k.occurred_at), '[]')
                    FROM kyc_events k WHERE k.user_id = $1),
                'kycIdentity', (SELECT jsonb_build_object('identityHash', encode(identity_hash, 'hex'))
                    FROM kyc_identities WHERE user_id = $1),
                'notifications', (SELECT coalesce(jsonb_agg(to_jsonb(n) ORDER BY n.created_at), '[]')
                    FROM notifications n WHERE n.user_id = $1),
                'nudges', (SELECT coalesce(jsonb_agg(to_jsonb(d)), '[]') FROM nudges d WHERE d.user_id = $1),
                'emailSuppressions', (SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]')
                    FROM email_suppressions s WHERE s.email = (SELECT email FROM u)),
                'eventsTotal', (SELECT count(*) FROM events WHERE user_id = $1),
                'events', (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.occurred_at DESC), '[]') FROM (
                    SELECT id, event_name, properties, metadata, occurred_at, received_at, source
                    FROM events WHERE user_id = $1 ORDER BY occurred_at DESC LIMIT $2) e),
                'experimentExposures', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'experimentId', x.experiment_id, 'key', ex.key, 'variant', x.variant,
                        'exposedAt', x.exposed_at) ORDER BY x.exposed_at), '[]')
                    FROM experiment_exposures x JOIN experiments ex ON ex.id = x.experiment_id WHERE x.user_id = $1),
                'experimentsCreated', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'key', key, 'name', name)), '[]')
                    FROM experiments WHERE created_by = $1),
                'phoneConflicts', (SELECT coalesce(jsonb_agg(to_jsonb(p)), '[]')
                    FROM phone_conflicts p WHERE p.user_id = $1 OR p.held_by = $1),
                'auditActions', (SELECT coalesce(jsonb_agg(jsonb_build_object('entity', a.entity, 'entityId', a.entity_id,
                        'action', a.action, 'at', a.created_at) ORDER BY a.created_at), '[]')
                    FROM audit_log a WHERE a.actor_id = $1),
                'auditAbout', (SELECT coalesce(jsonb_agg(jsonb_build_object('entity', a.entity, 'entityId', a.entity_id,
                        'action', a.action, 'at', a.created_at) ORDER BY a.created_at), '[]')
                    FROM audit_log a
                    WHERE (a.entity = 'user' AND a.entity_id = $1)
                       OR (a.entity = 'reward' AND a.entity_id IN (SELECT id FROM rewards WHERE user_id = $1))
                       OR (a.entity = 'referral' AND a.entity_id IN (
                            SELECT id FROM referrals WHERE referrer_id = $1 OR referred_user_id = $1))),
                'apiKeysCreated', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'name', name, 'prefix', prefix,
                        'createdAt', created_at)), '[]') FROM api_keys WHERE created_by = $1),
                'exports', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'userId', user_id,
                        'requestedBy', requested_by, 'status', status, 'createdAt', created_at, 'readyAt', ready_at,
                        'expiresAt', expires_at) ORDER BY created_at), '[]')
                    FROM user_exports WHERE user_id = $1 OR requested_by = $1),
                'erasure', (SELECT jsonb_build_object('erasedAt', erased_at, 'archivePurgedAt', archive_purged_at)
                    FROM erasures WHERE user_id = $1),
                'webhooksCreated', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'url', url,
                        'createdAt', created_at)), '[]') FROM webhook_endpoints WHERE created_by = $1)
             ) END AS document",
            &[&user, &events],
        )
        .await?;
    Ok(row.get("document"))
}

/// The audit row of what `actor` did to `user`'s data (`exported`, `erased`), and why.
pub async fn audit(conn: &Conn, actor: Uuid, user: Uuid, action: &str, reason: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_log (id, actor_id, entity, entity_id, action, before, after)
         VALUES ($1, $2, 'user', $3, $4, 'null'::jsonb, jsonb_build_object('reason', $5::text))",
        &[&Uuid::now_v7(), &actor, &user, &action, &reason],
    )
    .await?;
    Ok(())
}
