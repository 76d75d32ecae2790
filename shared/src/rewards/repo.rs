//! All of the ledger's SQL.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;
use crate::http::Bounds;
use crate::macros::text_enum;

text_enum!(RewardStatus { Pending => "pending", Available => "available", Paid => "paid", Voided => "voided" });

/// A reward's status as of now: a held (`pending`) reward whose hold has passed is
/// `available`, without anything having to flip it.
pub const EFFECTIVE_STATUS: &str =
    "(CASE WHEN w.status = 'pending' AND w.available_at <= now() THEN 'available' ELSE w.status END)";

/// One row of the ledger: one side of a referral's reward.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reward {
    pub id: Uuid,
    pub referral_id: Uuid,
    /// Who is paid.
    pub user_id: Uuid,
    #[schema(schema_with = side_schema)]
    pub side: String,
    /// A decimal string with two places (`"1500.00"`).
    #[schema(value_type = String, example = "1500.00")]
    pub amount: Decimal,
    /// ISO 4217 (`NGN`).
    #[schema(example = "NGN")]
    pub currency: String,
    /// As of now: a held reward whose hold has passed is `available`.
    #[schema(value_type = RewardStatus)]
    pub status: String,
    /// When the hold ends.
    pub available_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The payout's reference, once paid.
    pub external_ref: Option<String>,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `side` is text checked by the database (`rewards.side`).
fn side_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["referrer", "referred"]))
        .description(Some("Which side of the referral: the user who invited, or the one who joined."))
        .into()
}

fn columns() -> String {
    format!(
        "w.id, w.referral_id, w.user_id, w.side, w.amount, w.currency, {EFFECTIVE_STATUS} AS status, w.available_at, \
         w.paid_at, w.external_ref, w.voided_at, w.void_reason, w.created_at"
    )
}

impl Reward {
    fn from_row(row: &Row) -> Self {
        Reward {
            id: row.get("id"),
            referral_id: row.get("referral_id"),
            user_id: row.get("user_id"),
            side: row.get("side"),
            amount: row.get("amount"),
            currency: row.get::<_, String>("currency").trim().to_owned(),
            status: row.get("status"),
            available_at: row.get("available_at"),
            paid_at: row.get("paid_at"),
            external_ref: row.get("external_ref"),
            voided_at: row.get("voided_at"),
            void_reason: row.get("void_reason"),
            created_at: row.get("created_at"),
        }
    }

    /// The row as a CSV line (RFC 4180 quoting; text a spreadsheet would run as a formula is
    /// prefixed with an apostrophe).
    pub fn csv_line(&self) -> String {
        let text = |v: Option<&str>| csv_field(v.unwrap_or(""));
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            self.id,
            self.referral_id,
            self.user_id,
            self.side,
            self.amount,
            self.currency,
            self.status,
            self.available_at.to_rfc3339(),
            time(self.paid_at),
            text(self.external_ref.as_deref()),
            time(self.voided_at),
            text(self.void_reason.as_deref()),
            self.created_at.to_rfc3339(),
        )
    }
}

pub const CSV_HEADER: &str = "id,referral_id,user_id,side,amount,currency,status,available_at,paid_at,external_ref,\
voided_at,void_reason,created_at\r\n";

fn csv_field(value: &str) -> String {
    let value =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// What a ledger query selects.
#[derive(Clone, Copy, Debug)]
pub struct Filter {
    pub status: Option<RewardStatus>,
    pub bounds: Bounds,
}

/// The filter as SQL over `rewards w`, with $1 the status, $2 and $3 the bounds.
fn filtered() -> String {
    format!(
        "($1::text IS NULL OR {EFFECTIVE_STATUS} = $1) AND ($2::timestamptz IS NULL OR w.created_at >= $2) \
         AND ($3::timestamptz IS NULL OR w.created_at < $3)"
    )
}

/// One page of the ledger, oldest first, and the filter's total count.
#[tracing::instrument(skip_all)]
pub async fn page(conn: &Conn, filter: Filter, limit: i64, offset: i64) -> Result<(Vec<Reward>, i64)> {
    let status = filter.status.map(RewardStatus::as_str);
    let rows = conn
        .query(
            &format!(
                "SELECT {}, count(*) OVER () AS total FROM rewards w WHERE {}
                 ORDER BY w.created_at, w.id LIMIT $4 OFFSET $5",
                columns(),
                filtered()
            ),
            &[&status, &filter.bounds.0, &filter.bounds.1, &limit, &offset],
        )
        .await?;
    let total = rows.first().map_or(0, |r| r.get("total"));
    Ok((rows.iter().map(Reward::from_row).collect(), total))
}

/// The next `limit` rows of the ledger after `after` (created_at, id), for the CSV export.
pub async fn after(
    conn: &Conn,
    filter: Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Reward>> {
    let status = filter.status.map(RewardStatus::as_str);
    let (at, id) = after.unzip();
    let rows = conn
        .query(
            &format!(
                "SELECT {} FROM rewards w WHERE {}
                   AND ($4::timestamptz IS NULL OR (w.created_at, w.id) > ($4, $5::uuid))
                 ORDER BY w.created_at, w.id LIMIT $6",
                columns(),
                filtered()
            ),
            &[&status, &filter.bounds.0, &filter.bounds.1, &at, &id, &limit],
        )
        .await?;
    Ok(rows.iter().map(Reward::from_row).collect())
}

/// The filter's totals per currency, voided rows left out.
pub async fn totals(conn: &Conn, filter: Filter) -> Result<Vec<(String, Decimal)>> {
    let status = filter.status.map(RewardStatus::as_str);
    let rows = conn
        .query(
            &format!(
                "SELECT trim(w.currency) AS currency, sum(w.amount) AS total
                 FROM rewards w WHERE {} AND w.status <> 'voided'
                 GROUP BY 1 ORDER BY 1",
                filtered()
            ),
            &[&status, &filter.bounds.0, &filter.bounds.1],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get("currency"), r.get("total"))).collect())
}

/// Marks up to `limit` rewards that have become available (their hold passed, or none) and
/// were not announced yet as announced, answering them: each is announced once.
pub async fn announce_available(conn: &Conn, limit: i64) -> Result<Vec<Reward>> {
    let rows = conn
        .query(
            &format!(
                "WITH due AS (
                    SELECT w.id FROM rewards w
                    WHERE w.available_announced_at IS NULL AND {EFFECTIVE_STATUS} = 'available'
                    ORDER BY w.available_at LIMIT $1 FOR UPDATE SKIP LOCKED
                 ), marked AS (
                    UPDATE rewards w SET available_announced_at = now() FROM due WHERE w.id = due.id RETURNING w.*
                 )
                 SELECT {} FROM marked w ORDER BY w.available_at",
                columns()
            ),
            &[&limit],
        )
        .await?;
    Ok(rows.iter().map(Reward::from_row).collect())
}

/// One reward, as of now.
pub async fn by_id(conn: &Conn, id: Uuid) -> Result<Option<Reward>> {
    let row = conn.query_opt(&format!("SELECT {} FROM rewards w WHERE w.id = $1", columns()), &[&id]).await?;
    Ok(row.as_ref().map(Reward::from_row))
}

/// A finance decision on one reward.
pub enum Decision<'a> {
    Paid { external_ref: &'a str },
    Voided { reason: &'a str },
}

/// What a decision did: the reward as it now stands, or the status that refused it.
pub enum Decided {
    Done(Box<Reward>),
    Refused(String),
    NotFound,
}

/// Who made a decision: a staff user, or the operator's server with an API key.
#[derive(Clone, Copy, Debug)]
pub enum Actor {
    Staff(Uuid),
    Key(Uuid),
}

/// Marks an available reward paid, or voids a held or available one, and writes the audit
/// row (who, when, before, after): one statement.
#[tracing::instrument(skip_all, fields(reward_id = %id))]
pub async fn decide(conn: &Conn, id: Uuid, actor: Actor, decision: &Decision<'_>) -> Result<Decided> {
    let (staff, key) = match actor {
        Actor::Staff(user) => (Some(user), None),
        Actor::Key(key) => (None, Some(key)),
    };
    let (status, external_ref, reason) = match decision {
        Decision::Paid { external_ref } => ("paid", Some(*external_ref), None),
        Decision::Voided { reason } => ("voided", None, Some(*reason)),
    };
    let row = conn
        .query_one(
            &format!(
                "WITH before AS (
                    SELECT w.id, to_jsonb(w) AS row, {EFFECTIVE_STATUS} AS effective FROM rewards w
                    WHERE w.id = $1 FOR UPDATE
                 ), changed AS (
                    UPDATE rewards w SET status = $2,
                        paid_at = CASE WHEN $2 = 'paid' THEN now() ELSE w.paid_at END,
                        external_ref = COALESCE($3, w.external_ref),
                        voided_at = CASE WHEN $2 = 'voided' THEN now() ELSE w.voided_at END,
                        void_reason = COALESCE($4, w.void_reason),
                        updated_at = now()
                    FROM before b
                    WHERE w.id = b.id AND (($2 = 'paid' AND b.effective = 'available')
                                        OR ($2 = 'voided' AND b.effective IN ('pending', 'available')))
                    RETURNING w.*
                 ), audit AS (
                    INSERT INTO audit_log (id, actor_id, api_key_id, entity, entity_id, action, before, after)
                    SELECT $5, $6, $7, 'reward', c.id, $2, (SELECT row FROM before), to_jsonb(c) FROM changed c
                 )
                 SELECT (SELECT effective FROM before) AS found, {} FROM (SELECT 1) one LEFT JOIN changed w ON true",
                columns()
            ),
            &[&id, &status, &external_ref, &reason, &Uuid::now_v7(), &staff, &key],
        )
        .await?;
    let found: Option<String> = row.get("found");
    let changed: Option<Uuid> = row.get("id");
    Ok(match (found, changed) {
        (None, _) => Decided::NotFound,
        (Some(_), Some(_)) => Decided::Done(Box::new(Reward::from_row(&row))),
        (Some(status), None) => Decided::Refused(status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
