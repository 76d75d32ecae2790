//! The jobs that travel through the queues, and their wire format.
//!
//! On the wire a job is `{"v": 1, "kind": "email", "job": {…}}`. The version lets a new
//! worker refuse (and so dead-letter) a message it does not understand instead of guessing;
//! every job carries an id, made once by the producer, from which the workers derive their
//! idempotency keys, so redelivered and re-sent messages have their effect once.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::macros::text_enum;

pub const JOB_VERSION: u32 = 1;

text_enum!(EmailTemplate {
    Welcome => "welcome",
    VerifyEmail => "verify_email",
    ReferralInvite => "referral_invite",
    ReferralCompleted => "referral_completed",
    RewardGranted => "reward_granted",
    KycReminder => "kyc_reminder",
    InactivityNudge => "inactivity_nudge",
    Notification => "notification",
});

text_enum!(NotificationType {
    KycReminder => "kyc_reminder",
    ReferralReward => "referral_reward",
    Inactivity => "inactivity",
    Welcome => "welcome",
    Custom => "custom",
});

text_enum!(Channel { Email => "email", Sms => "sms", Whatsapp => "whatsapp", Push => "push" });

/// Send one email.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailJob {
    pub id: Uuid,
    pub to: String,
    pub template: EmailTemplate,
    #[serde(default)]
    pub data: Value,
}

/// Store one notification for a user and deliver it on its channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationJob {
    /// Also the notification's id.
    pub id: Uuid,
    pub user: Uuid,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub channel: Channel,
    pub title: String,
    pub content: String,
    #[serde(default)]
    pub template: Option<EmailTemplate>,
    #[serde(default)]
    pub variables: Value,
}

impl NotificationJob {
    /// A new notification for `user`, delivered by email with `template`.
    pub fn by_email(
        user: Uuid,
        kind: NotificationType,
        template: EmailTemplate,
        title: impl Into<String>,
        content: impl Into<String>,
        variables: Value,
    ) -> Self {
        NotificationJob {
            id: Uuid::now_v7(),
            user,
            kind,
            channel: Channel::Email,
            title: title.into(),
            content: content.into(),
            template: Some(template),
            variables,
        }
    }
}

pub trait Job: Serialize + DeserializeOwned {
    const KIND: &'static str;
    fn id(&self) -> Uuid;
}

impl Job for EmailJob {
    const KIND: &'static str = "email";
    fn id(&self) -> Uuid {
        self.id
    }
}

impl Job for NotificationJob {
    const KIND: &'static str = "notification";
    fn id(&self) -> Uuid {
        self.id
    }
}

#[derive(Serialize)]
struct Outgoing<'a, J> {
    v: u32,
    kind: &'static str,
    job: &'a J,
}

#[derive(Deserialize)]
struct Incoming {
    v: u32,
    kind: String,
    job: Value,
}

/// Why a job failed. Both kinds are reported to SQS as failures (a poison message is retried
/// up to maxReceiveCount and then dead-lettered, where an operator can look at it); the
/// distinction is for the logs.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("poison message: {0}")]
    Poison(String),
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
}

/// Database and other service failures inside a job are worth a retry.
impl From<crate::Error> for JobError {
    fn from(e: crate::Error) -> Self {
        JobError::Transient(anyhow::Error::new(e))
    }
}

pub fn encode<J: Job>(job: &J) -> String {
    // Serializing plain structs of strings, ids and JSON values cannot fail.
    serde_json::to_string(&Outgoing { v: JOB_VERSION, kind: J::KIND, job }).unwrap_or_default()
}

pub fn decode<J: Job>(body: &str) -> Result<J, JobError> {
    let incoming: Incoming =
        serde_json::from_str(body).map_err(|e| JobError::Poison(format!("not a job envelope: {e}")))?;
    if incoming.v != JOB_VERSION {
        return Err(JobError::Poison(format!("unknown job version {}", incoming.v)));
    }
    if incoming.kind != J::KIND {
        return Err(JobError::Poison(format!("expected a {} job, got {}", J::KIND, incoming.kind)));
    }
    serde_json::from_value(incoming.job).map_err(|e| JobError::Poison(format!("malformed {} job: {e}", J::KIND)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn email() -> EmailJob {
        EmailJob {
            id: Uuid::now_v7(),
            to: "a@b.io".into(),
            template: EmailTemplate::Welcome,
            data: json!({"firstName": "A"}),
        }
    }

    #[test]
    fn round_trip() {
        let job = email();
        let wire = encode(&job);
        assert!(wire.starts_with(r#"{"v":1,"kind":"email","job":"#), "{wire}");
        assert_eq!(decode::<EmailJob>(&wire).unwrap(), job);
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        let wire = encode(&email());
        for bad in [
            "not json".to_owned(),
            wire.replace(r#""v":1"#, r#""v":2"#),
            wire.replace(r#""template":"welcome""#, r#""template":"shouting""#),
            r#"{"v":1,"kind":"email","job":{"id":"x"}}"#.to_owned(),
        ] {
            assert!(matches!(decode::<EmailJob>(&bad), Err(JobError::Poison(_))), "{bad}");
        }
        assert!(matches!(decode::<NotificationJob>(&wire), Err(JobError::Poison(_))));
    }
}
