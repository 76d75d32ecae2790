//! SES feedback: the configuration set publishes bounce and complaint events to an SNS
//! topic, which invokes the `ses-feedback` function. Hard bounces and complaints put the
//! address on the suppression list for all mail; soft bounces are SES's to retry.

use aws_lambda_events::event::sns::SnsEvent;
use serde::Deserialize;

use super::suppressions::{suppress, Category, Reason};
use crate::db::Db;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Feedback {
    /// Configuration set event destinations say `eventType`; identity notifications say
    /// `notificationType`.
    event_type: Option<String>,
    notification_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

/// The addresses one SES message tells us to stop mailing, and why.
fn suppressions_in(message: &str) -> Vec<(String, Reason)> {
    let Ok(feedback) = serde_json::from_str::<Feedback>(message) else {
        tracing::warn!("SES feedback that is not an SES event; ignored");
        return Vec::new();
    };
    let kind = feedback.event_type.or(feedback.notification_type).unwrap_or_default();
    match (kind.as_str(), feedback.bounce, feedback.complaint) {
        ("Bounce", Some(bounce), _) if bounce.bounce_type == "Permanent" => {
            bounce.bounced_recipients.into_iter().map(|r| (r.email_address, Reason::Bounce)).collect()
        }
        ("Complaint", _, Some(complaint)) => {
            complaint.complained_recipients.into_iter().map(|r| (r.email_address, Reason::Complaint)).collect()
        }
        _ => Vec::new(),
    }
}

#[derive(Clone)]
pub struct FeedbackHandler {
    pub db: Db,
}

impl FeedbackHandler {
    /// Suppresses every address the event's messages name. A database failure fails the
    /// invocation, so that Lambda retries it (suppressing twice changes nothing).
    pub async fn handle(&self, event: SnsEvent) -> anyhow::Result<usize> {
        let mut suppressed = 0;
        for record in event.records {
            for (email, reason) in suppressions_in(&record.sns.message) {
                suppress(&self.db.writer().await?, email.trim(), Category::All, reason).await?;
                tracing::info!(reason = reason.as_str(), "address suppressed after SES feedback");
                suppressed += 1;
            }
        }
        Ok(suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_bounces_and_complaints_suppress_soft_bounces_do_not() {
        let hard = r#"{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@x.io"}]}}"#;
        let soft = r#"{"eventType":"Bounce","bounce":{"bounceType":"Transient","bouncedRecipients":[{"emailAddress":"b@x.io"}]}}"#;
        let complaint =
            r#"{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"c@x.io"}]}}"#;
        assert_eq!(suppressions_in(hard), vec![("a@x.io".to_owned(), Reason::Bounce)]);
        assert!(suppressions_in(soft).is_empty());
        assert_eq!(suppressions_in(complaint), vec![("c@x.io".to_owned(), Reason::Complaint)]);
        assert!(suppressions_in(r#"{"eventType":"Delivery"}"#).is_empty());
        assert!(suppressions_in("not json").is_empty());
    }
}
