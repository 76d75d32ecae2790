//! Email templates, rendered in our code (SES stored templates are not needed, and this way
//! every template is testable). Each renders a subject, an HTML part and a text part from the
//! job's data; values are HTML-escaped in the HTML part.

use serde_json::Value;

use crate::jobs::{EmailTemplate, JobError};

/// Links the templates point to, from config.
#[derive(Clone, Debug)]
pub struct Links {
    /// The app's web address: referral links, the login page, the unsubscribe page.
    pub app_base_url: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// `List-Unsubscribe` header value, for the nudges people can opt out of.
    pub list_unsubscribe: Option<String>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A string field of the data, or `default` when absent or empty.
fn field<'a>(data: &'a Value, key: &str, default: &'a str) -> String {
    match data.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => default.to_owned(),
    }
}

/// A field the template cannot do without.
fn required(data: &Value, key: &str) -> Result<String, JobError> {
    let value = field(data, key, "");
    if value.is_empty() {
        return Err(JobError::Poison(format!("email data lacks {key}")));
    }
    Ok(value)
}

/// Paragraphs of plain text → (HTML, text).
fn body(greeting: &str, paragraphs: &[String], action: Option<(&str, &str)>) -> (String, String) {
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\"><p>{}</p>",
        escape(greeting)
    );
    let mut text = format!("{greeting}\n\n");
    for p in paragraphs {
        html.push_str(&format!("<p>{}</p>", escape(p)));
        text.push_str(p);
        text.push_str("\n\n");
    }
    if let Some((label, url)) = action {
        html.push_str(&format!("<p><a href=\"{}\">{}</a></p>", escape(url), escape(label)));
        text.push_str(&format!("{label}: {url}\n\n"));
    }
    html.push_str("<p>— The GrowStack team</p></body></html>");
    text.push_str("— The GrowStack team\n");
    (html, text)
}

pub fn render(template: EmailTemplate, data: &Value, links: &Links) -> Result<Rendered, JobError> {
    let name = field(data, "firstName", "there");
    let greeting = format!("Hi {name},");
    let base = links.app_base_url.trim_end_matches('/');
    let unsubscribe = || Some(format!("<{base}/unsubscribe?email={}>", urlencode(&field(data, "email", ""))));
    let (subject, paragraphs, action, list_unsubscribe) = match template {
        EmailTemplate::Welcome => (
            "Welcome to GrowStack".to_owned(),
            vec!["Your account is ready. Finish verifying your identity to unlock everything.".to_owned()],
            Some(("Open the app".to_owned(), format!("{base}/login"))),
            None,
        ),
        EmailTemplate::VerifyEmail => (
            "Confirm your email address".to_owned(),
            vec![
                "Confirm that this address is yours to finish setting up your account. The link works once, for 24 hours."
                    .to_owned(),
                "If you did not sign up for GrowStack, ignore this email.".to_owned(),
            ],
            Some(("Confirm your email".to_owned(), required(data, "verifyLink")?)),
            None,
        ),
        EmailTemplate::ReferralInvite => {
            let inviter = field(data, "inviterName", "A friend");
            let link = required(data, "referralLink")?;
            (
                format!("{inviter} invited you to GrowStack"),
                vec![format!("{inviter} thinks you'll like GrowStack. Sign up with their link to get started.")],
                Some(("Accept the invitation".to_owned(), link)),
                None,
            )
        }
        EmailTemplate::ReferralCompleted => {
            let friend = field(data, "friendName", "Your friend");
            (
                "Your referral is complete".to_owned(),
                vec![format!("{friend} finished signing up. Claim your referral reward in the app.")],
                Some(("Claim your reward".to_owned(), format!("{base}/referrals"))),
                None,
            )
        }
        EmailTemplate::RewardGranted => {
            let amount = required(data, "amount")?;
            let currency = field(data, "currency", "NGN");
            (
                "You've earned a referral reward".to_owned(),
                vec![format!("We've credited {currency} {amount} to your account. Thank you for spreading the word.")],
                None,
                None,
            )
        }
        EmailTemplate::KycReminder => (
            "Finish verifying your identity".to_owned(),
            vec!["You're a few steps away from a fully verified account. It takes about two minutes.".to_owned()],
            Some(("Continue verification".to_owned(), format!("{base}/onboarding"))),
            unsubscribe(),
        ),
        EmailTemplate::InactivityNudge => (
            "We miss you".to_owned(),
            vec!["It's been a while. Here's what's new since your last visit.".to_owned()],
            Some(("Open the app".to_owned(), format!("{base}/login"))),
            unsubscribe(),
        ),
        EmailTemplate::Notification => {
            let title = required(data, "title")?;
            (title, vec![required(data, "content")?], None, None)
        }
    };
    let action = action.as_ref().map(|(label, url)| (label.as_str(), url.as_str()));
    let (html, text) = body(&greeting, &paragraphs, action);
    Ok(Rendered { subject, html, text, list_unsubscribe })
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn links() -> Links {
        Links { app_base_url: "https://app.example.com/".into() }
    }

    #[test]
    fn every_template_renders_html_and_text() {
        let data = json!({
            "firstName": "Ada", "email": "ada+x@example.com", "inviterName": "Grace",
            "referralLink": "https://app.example.com/r/ABC123", "friendName": "Alan",
            "amount": "500.00", "currency": "NGN", "title": "Hello", "content": "Body",
            "verifyLink": "https://app.example.com/verify-email?token=t",
        });
        for template in EmailTemplate::ALL {
            let r = render(*template, &data, &links()).unwrap();
            assert!(!r.subject.is_empty());
            assert!(r.html.starts_with("<!doctype html>") && r.html.contains("Hi Ada,"), "{template:?}");
            assert!(r.text.contains("Hi Ada,") && !r.text.contains('<'), "{template:?}");
            let nudge = matches!(template, EmailTemplate::KycReminder | EmailTemplate::InactivityNudge);
            assert_eq!(r.list_unsubscribe.is_some(), nudge, "{template:?}");
        }
        let nudge = render(EmailTemplate::InactivityNudge, &data, &links()).unwrap();
        assert_eq!(
            nudge.list_unsubscribe.unwrap(),
            "<https://app.example.com/unsubscribe?email=ada%2Bx%40example.com>"
        );
    }

    #[test]
    fn user_values_are_escaped_in_html() {
        let r = render(EmailTemplate::Welcome, &json!({"firstName": "<script>x</script>"}), &links()).unwrap();
        assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>"));
        assert!(r.text.contains("<script>"), "the text part is plain");
    }

    #[test]
    fn missing_required_data_is_poison() {
        assert!(matches!(render(EmailTemplate::ReferralInvite, &json!({}), &links()), Err(JobError::Poison(_))));
        assert!(matches!(render(EmailTemplate::RewardGranted, &json!({}), &links()), Err(JobError::Poison(_))));
        assert_eq!(
            render(EmailTemplate::Welcome, &json!({}), &links()).unwrap().text.lines().next(),
            Some("Hi there,")
        );
    }
}
