//! The jobs that travel through the queues, and their wire format.
//!
//! On the wire a job is `{"v": 1, "kind": "email", "job": {…}}`. The version lets a new
//! worker refuse (and so dead-letter) a message it does not understand instead of guessing;
//! every job carries an id, made once by the producer, from which the workers derive their
//! idempotency keys, so redelivered and re-sent messages have their effect once.

use rust_decimal::Decimal;
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
    DataExport => "data_export",
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
#[serde(rename_all = "camelCase")]
pub struct EmailJob {
    pub id: Uuid,
    pub to: String,
    /// Its `template` and `data`.
    #[serde(flatten)]
    pub mail: Mail,
}

/// What one email says: its template, with the fields that template needs, typed. On the
/// wire `"template": "<name>", "data": {…}` beside the job's id, the shape of the jobs whose
/// `data` was free-form JSON: those still queued (or staged in the outbox) decode the same,
/// and the keys they carry that a template does not use are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "template", content = "data")]
pub enum Mail {
    #[serde(rename = "welcome")]
    Welcome(Greeting),
    #[serde(rename = "verify_email")]
    VerifyEmail(VerifyEmail),
    #[serde(rename = "referral_invite")]
    ReferralInvite(ReferralInvite),
    #[serde(rename = "referral_completed")]
    ReferralCompleted(ReferralCompleted),
    #[serde(rename = "reward_granted")]
    RewardGranted(RewardGranted),
    #[serde(rename = "kyc_reminder")]
    KycReminder(Greeting),
    #[serde(rename = "inactivity_nudge")]
    InactivityNudge(Greeting),
    #[serde(rename = "notification")]
    Notification(Note),
    #[serde(rename = "data_export")]
    DataExport(DataExport),
}

/// A mail that says nothing but its template's text, to someone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Greeting {
    /// Whom it greets ("Hi …,"); "there" when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyEmail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The signed link that verifies the address.
    pub verify_link: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralInvite {
    /// Who invites (the mail goes to an address with no account: it greets nobody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter_name: Option<String>,
    /// The inviter's referral link.
    pub referral_link: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralCompleted {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The referred friend's first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friend_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_id: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardGranted {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    pub amount: Decimal,
    /// NGN when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// An admin's notification as an email: its title is the subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    pub title: String,
    pub content: String,
}

/// A copy of everything held about a person, ready to download (privacy/exports.rs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataExport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// The signed link that downloads it: it works for 24 hours.
    pub download_link: String,
}

impl Mail {
    pub fn template(&self) -> EmailTemplate {
        match self {
            Mail::Welcome(_) => EmailTemplate::Welcome,
            Mail::VerifyEmail(_) => EmailTemplate::VerifyEmail,
            Mail::ReferralInvite(_) => EmailTemplate::ReferralInvite,
            Mail::ReferralCompleted(_) => EmailTemplate::ReferralCompleted,
            Mail::RewardGranted(_) => EmailTemplate::RewardGranted,
            Mail::KycReminder(_) => EmailTemplate::KycReminder,
            Mail::InactivityNudge(_) => EmailTemplate::InactivityNudge,
            Mail::Notification(_) => EmailTemplate::Notification,
            Mail::DataExport(_) => EmailTemplate::DataExport,
        }
    }

    /// The name it greets, when it greets one.
    pub fn first_name(&self) -> Option<&str> {
        match self {
            Mail::Welcome(g) | Mail::KycReminder(g) | Mail::InactivityNudge(g) => g.first_name.as_deref(),
            Mail::VerifyEmail(m) => m.first_name.as_deref(),
            Mail::ReferralCompleted(m) => m.first_name.as_deref(),
            Mail::RewardGranted(m) => m.first_name.as_deref(),
            Mail::Notification(m) => m.first_name.as_deref(),
            Mail::DataExport(m) => m.first_name.as_deref(),
            Mail::ReferralInvite(_) => None,
        }
    }

    /// `template` with `data` (a JSON object), as stored with a notification; the error
    /// names what the template needs and `data` lacks.
    pub fn from_parts(template: EmailTemplate, data: Value) -> Result<Mail, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "template": template.as_str(), "data": data }))
    }

    /// Its fields as the JSON object stored with a notification.
    pub fn data(&self) -> Value {
        serde_json::to_value(self).map(|mut v| v["data"].take()).unwrap_or_default()
    }
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
    /// With `variables`, the email it sends (see [`NotificationJob::mail`]): kept apart as
    /// the notification stores them (`template_id`, `variables`).
    #[serde(default)]
    pub template: Option<EmailTemplate>,
    #[serde(default)]
    pub variables: Value,
}

impl NotificationJob {
    /// A new notification for `user`, delivered by email as `mail`.
    pub fn by_email(
        user: Uuid,
        kind: NotificationType,
        title: impl Into<String>,
        content: impl Into<String>,
        mail: &Mail,
    ) -> Self {
        NotificationJob {
            id: Uuid::now_v7(),
            user,
            kind,
            channel: Channel::Email,
            title: title.into(),
            content: content.into(),
            template: Some(mail.template()),
            variables: mail.data(),
        }
    }

    /// The email this notification sends to `first_name`: its template (the plain
    /// notification when it names none) with its variables, the recipient's name, and the
    /// notification's title and content where the template shows them.
    pub fn mail(&self, first_name: &str) -> Result<Mail, serde_json::Error> {
        let mut data = match &self.variables {
            Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        data.entry("firstName").or_insert_with(|| first_name.into());
        data.entry("title").or_insert_with(|| self.title.clone().into());
        data.entry("content").or_insert_with(|| self.content.clone().into());
        Mail::from_parts(self.template.unwrap_or(EmailTemplate::Notification), Value::Object(data))
    }
}

/// A try at one webhook delivery (`webhooks::worker`). Each job has an id of its own, so a
/// retry or a redelivery of the same delivery is a new outbox row and message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookJob {
    pub id: Uuid,
    pub delivery: Uuid,
}

impl WebhookJob {
    pub fn new(delivery: Uuid) -> Self {
        WebhookJob { id: Uuid::now_v7(), delivery }
    }
}

impl Job for WebhookJob {
    const KIND: &'static str = "webhook";
    fn id(&self) -> Uuid {
        self.id
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
            mail: Mail::Welcome(Greeting { first_name: Some("A".into()) }),
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
        let lacking = wire.replace(r#""template":"welcome""#, r#""template":"verify_email""#);
        assert!(matches!(decode::<EmailJob>(&lacking), Err(JobError::Poison(_))), "no verifyLink");
    }

    /// Jobs written when `data` was free-form JSON (queued, or staged in the outbox, before
    /// a deploy) decode into the typed mail, their extra keys ignored.
    #[test]
    fn jobs_of_the_untyped_shape_still_decode() {
        let id = Uuid::now_v7();
        let old = |template: &str, data: Value| {
            format!(
                r#"{{"v":1,"kind":"email","job":{{"id":"{id}","to":"a@b.io","template":"{template}","data":{data}}}}}"#
            )
        };
        let reward = old(
            "reward_granted",
            json!({"amount": "500.00", "currency": "NGN", "firstName": "Ada", "title": "t", "content": "c", "email": "a@b.io"}),
        );
        let job = decode::<EmailJob>(&reward).unwrap();
        assert_eq!(
            job.mail,
            Mail::RewardGranted(RewardGranted {
                first_name: Some("Ada".into()),
                amount: Decimal::new(50000, 2),
                currency: Some("NGN".into())
            })
        );
        let numeric = old("reward_granted", json!({"amount": 500}));
        assert!(
            matches!(decode::<EmailJob>(&numeric).unwrap().mail, Mail::RewardGranted(r) if r.amount == Decimal::from(500))
        );
        let invite = old("referral_invite", json!({"inviterName": "Bo", "referralLink": "https://x/r/AB12CD"}));
        assert!(matches!(decode::<EmailJob>(&invite).unwrap().mail, Mail::ReferralInvite(_)));
        // And what is written now has that shape.
        let wire = encode(&job);
        assert!(wire.contains(r#""template":"reward_granted","data":{"#), "{wire}");
    }

    #[test]
    fn a_notification_mails_its_template_with_its_variables() {
        let job = NotificationJob::by_email(
            Uuid::now_v7(),
            NotificationType::ReferralReward,
            "You've earned a referral reward",
            "We've credited NGN 500.00",
            &Mail::RewardGranted(RewardGranted {
                first_name: None,
                amount: Decimal::new(50000, 2),
                currency: Some("NGN".into()),
            }),
        );
        assert_eq!(job.variables, json!({"amount": "500.00", "currency": "NGN"}));
        let mail = job.mail("Ada").unwrap();
        assert_eq!(mail.first_name(), Some("Ada"));
        let plain = NotificationJob { template: None, variables: Value::Null, ..job.clone() };
        assert!(matches!(plain.mail("Ada").unwrap(), Mail::Notification(n) if n.title == job.title));
        let lacking = NotificationJob { variables: json!({}), ..job };
        assert!(lacking.mail("Ada").is_err(), "a reward mail needs its amount");
    }
}
