//! The server's own events: what a user did, recorded by the statement that did it (as a
//! CTE of it, so a change that rolls back leaves no event), with the names below.

use serde_json::Value;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;

pub const USER_REGISTERED: &str = "user_registered";
pub const USER_LOGGED_IN: &str = "user_logged_in";
pub const TOKEN_REFRESHED: &str = "token_refreshed";
pub const PROFILE_UPDATED: &str = "profile_updated";
pub const USER_BLOCKED: &str = "user_blocked";
pub const USER_UNBLOCKED: &str = "user_unblocked";
pub const ONBOARDING_STEP_COMPLETED: &str = "onboarding_step_completed";
pub const REFERRAL_CREATED: &str = "referral_created";
pub const REFERRAL_COMPLETED: &str = "referral_completed";
pub const REFERRAL_REWARD_CLAIMED: &str = "referral_reward_claimed";
pub const NOTIFICATION_READ: &str = "notification_read";
pub const EMAIL_SENT: &str = "email_sent";
pub const INACTIVITY_NUDGE_SENT: &str = "inactivity_nudge_sent";
pub const KYC_REMINDER_SENT: &str = "kyc_reminder_sent";

/// A CTE named `name` that records `event` for each row of `from`: the SQL expressions
/// `user` (the user's id) and `properties` (a jsonb) are evaluated over that row. Its ids
/// are made by Postgres, as the rows are. `event` is one of the constants above, never
/// input.
pub fn cte(name: &str, event: &'static str, from: &str, user: &str, properties: &str) -> String {
    format!(
        "{name} AS (
            INSERT INTO events (id, user_id, event_name, properties, occurred_at)
            SELECT gen_random_uuid(), {user}, '{event}', {properties}, now() FROM {from}
         )"
    )
}

/// Records `event` for the user with address `email`, if there is one: for what happens
/// outside any other statement (an email SES accepted).
pub async fn record_for_email(conn: &Conn, email: &str, event: &'static str, properties: &Value) -> Result<()> {
    conn.execute(
        "INSERT INTO events (id, user_id, event_name, properties, occurred_at)
         SELECT $1, id, $3, $4, now() FROM users WHERE email = $2",
        &[&Uuid::now_v7(), &email, &event, properties],
    )
    .await?;
    Ok(())
}
