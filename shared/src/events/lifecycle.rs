//! Where events come from, and what counts as a user's activity: the one definition that
//! retention, distinct and active users, cohorts, `last_active_at` and the inactivity nudge
//! all read (through the `activity` column written from it).
//!
//! GrowStack records its own events — what a user did, and what we did to them — by the
//! statement that made the change (as a CTE of it, so a change that rolls back leaves no
//! event), under the reserved names below. A client may not send them.

use serde_json::Value;
use uuid::Uuid;

use crate::db::Conn;
use crate::error::Result;

/// Who sent an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A signed-in user's app, with the user's token.
    Client,
    /// The operator's backend.
    Server,
    /// GrowStack itself: one of [`SYSTEM_EVENTS`].
    System,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Server => "server",
            Source::System => "system",
        }
    }
}

/// An event GrowStack records itself.
#[derive(Clone, Copy, Debug)]
pub struct SystemEvent {
    pub name: &'static str,
    /// Whether the user's own action causes it (they signed in, claimed, invited), as opposed
    /// to something done to them or by someone else (a mail we sent, a nudge, a staff block,
    /// the referrer's `referral_created` when a friend signs up with their code).
    pub activity: bool,
}

/// Whether an event is the user's own activity: everything a client or the operator's
/// backend sends, and those of our own events that the user's action causes.
pub fn is_activity(source: Source, system: Option<SystemEvent>) -> bool {
    match source {
        Source::Client | Source::Server => true,
        Source::System => system.is_some_and(|e| e.activity),
    }
}

macro_rules! system_events {
    ($($(#[$doc:meta])* $constant:ident = $name:literal, activity: $activity:literal;)+) => {
        $(
            $(#[$doc])*
            pub const $constant: SystemEvent = SystemEvent { name: $name, activity: $activity };
        )+
        /// Every event GrowStack records, in one list: their names are reserved.
        pub const SYSTEM_EVENTS: &[SystemEvent] = &[$($constant),+];
    };
}

system_events! {
    USER_REGISTERED = "user_registered", activity: true;
    USER_LOGGED_IN = "user_logged_in", activity: true;
    /// An app refreshes its tokens without its user doing anything.
    TOKEN_REFRESHED = "token_refreshed", activity: false;
    PROFILE_UPDATED = "profile_updated", activity: true;
    /// Staff's doing.
    USER_BLOCKED = "user_blocked", activity: false;
    USER_UNBLOCKED = "user_unblocked", activity: false;
    /// A step the user took, or their identity verified on the provider's callback.
    ONBOARDING_STEP_COMPLETED = "onboarding_step_completed", activity: true;
    /// The referrer invited someone.
    REFERRAL_INVITED = "referral_created", activity: true;
    /// Recorded for the referrer when somebody else signs up with their code.
    REFERRAL_CREATED = "referral_created", activity: false;
    /// Recorded for the referred user when the provider's callback completes the referral; the
    /// verification itself is their `onboarding_step_completed`.
    REFERRAL_COMPLETED = "referral_completed", activity: false;
    REFERRAL_REWARD_CLAIMED = "referral_reward_claimed", activity: true;
    NOTIFICATION_READ = "notification_read", activity: true;
    EMAIL_SENT = "email_sent", activity: false;
    INACTIVITY_NUDGE_SENT = "inactivity_nudge_sent", activity: false;
    KYC_REMINDER_SENT = "kyc_reminder_sent", activity: false;
    EXPERIMENT_EXPOSURE = "experiment_exposure", activity: false;
}

/// Whether `name` is one GrowStack records itself, which nobody else may send.
pub fn is_reserved(name: &str) -> bool {
    SYSTEM_EVENTS.iter().any(|e| e.name == name)
}

/// The reserved names, each once, in the order of [`SYSTEM_EVENTS`].
pub fn reserved_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::with_capacity(SYSTEM_EVENTS.len());
    for e in SYSTEM_EVENTS {
        if !names.contains(&e.name) {
            names.push(e.name);
        }
    }
    names
}

/// A CTE that records a system event for each row a statement's earlier part produced. The
/// SQL fragments are the statement's own text, never input; the events' ids are made by
/// Postgres, as the rows are.
pub struct Record<'a> {
    /// The CTE's name, for the statement to refer to (or not).
    pub name: &'a str,
    /// One of the constants above.
    pub event: SystemEvent,
    /// The rows: an earlier CTE, with a `WHERE` if only some of them count.
    pub from: &'a str,
    /// SQL over each row: the user's id.
    pub user: &'a str,
    /// SQL over each row: the event's properties, a jsonb ([`NO_PROPERTIES`] for none).
    pub properties: &'a str,
}

/// The properties of an event that has none.
pub const NO_PROPERTIES: &str = "'{}'::jsonb";

impl Record<'_> {
    pub fn cte(&self) -> String {
        let Record { name, event, from, user, properties } = self;
        format!(
            "{name} AS (
            INSERT INTO events (id, user_id, event_name, properties, occurred_at, source, activity)
            SELECT gen_random_uuid(), {user}, '{event}', {properties}, now(), 'system', {activity} FROM {from}
         )",
            event = event.name,
            activity = is_activity(Source::System, Some(*event)),
        )
    }
}

/// Records `event` for the user with address `email`, if there is one: for what happens
/// outside any other statement (an email SES accepted).
pub async fn record_for_email(conn: &Conn, email: &str, event: SystemEvent, properties: &Value) -> Result<()> {
    conn.execute(
        "INSERT INTO events (id, user_id, event_name, properties, occurred_at, source, activity)
         SELECT $1, id, $3, $4, now(), 'system', $5 FROM users WHERE email = $2",
        &[&Uuid::now_v7(), &email, &event.name, properties, &is_activity(Source::System, Some(event))],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_we_do_to_users_is_not_their_activity() {
        for e in [EMAIL_SENT, INACTIVITY_NUDGE_SENT, KYC_REMINDER_SENT, EXPERIMENT_EXPOSURE, REFERRAL_CREATED] {
            assert!(!is_activity(Source::System, Some(e)), "{}", e.name);
        }
        for e in [USER_REGISTERED, USER_LOGGED_IN, ONBOARDING_STEP_COMPLETED, REFERRAL_INVITED, REFERRAL_REWARD_CLAIMED]
        {
            assert!(is_activity(Source::System, Some(e)), "{}", e.name);
        }
        assert!(is_activity(Source::Client, None) && is_activity(Source::Server, None));
        assert!(!is_activity(Source::System, None));
    }

    #[test]
    fn every_name_we_record_is_reserved() {
        assert!(SYSTEM_EVENTS.iter().all(|e| is_reserved(e.name)));
        assert!(!is_reserved("screen_viewed"));
        let names = reserved_names();
        assert_eq!(names.len(), SYSTEM_EVENTS.len() - 1, "referral_created is listed twice, for its two causes");
    }
}
