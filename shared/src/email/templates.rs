//! Email templates, rendered in our code (SES stored templates are not needed, and this way
//! every template is testable). Each renders a subject, an HTML part and a text part from the
//! job's data; values are HTML-escaped in the HTML part.

use serde_json::Value;

use super::suppressions::Category;
use crate::jobs::{EmailTemplate, JobError};

/// The marketing category a template belongs to (people can opt out of it), or `None` for
/// transactional mail (verification, rewards, notices), which always goes.
pub fn category(template: EmailTemplate) -> Option<Category> {
    match template {
        EmailTemplate::ReferralInvite => Some(Category::Invitations),
        EmailTemplate::KycReminder => Some(Category::KycReminders),
        EmailTemplate::InactivityNudge => Some(Category::Inactivity),
        EmailTemplate::Welcome
        | EmailTemplate::VerifyEmail
        | EmailTemplate::ReferralCompleted
        | EmailTemplate::RewardGranted
        | EmailTemplate::Notification => None,
    }
}

/// The longest inviter's name an invitation shows.
const INVITER_NAME_CHARS: usize = 20;

/// The inviter's name as an invitation shows it: a name of at most 20 letters, spaces,
/// hyphens, apostrophes and initials' dots; anything else — a link, a sales pitch, markup — is
/// "A friend", so that an invitation carries no words of the inviter's choosing to a stranger.
fn inviter_name(name: &str) -> String {
    let plain = name.chars().count() <= INVITER_NAME_CHARS
        && name.chars().any(char::is_alphabetic)
        && name.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’' | '.'))
        // A dot ends an initial ("A. Lovelace"); one inside a word is a domain name.
        && name.split('.').skip(1).all(|after| after.is_empty() || after.starts_with(' '));
    if plain {
        name.to_owned()
    } else {
        "A friend".to_owned()
    }
}

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
    /// `List-Unsubscribe` header value, for the mail people can opt out of.
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

/// Paragraphs of plain text → (HTML, text), with an unsubscribe footer when given.
fn body(
    greeting: &str,
    paragraphs: &[String],
    action: Option<(&str, &str)>,
    unsubscribe: Option<&str>,
) -> (String, String) {
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
    html.push_str("<p>— The GrowStack team</p>");
    text.push_str("— The GrowStack team\n");
    if let Some(url) = unsubscribe {
        html.push_str(&format!(
            "<p style=\"font-size:smaller\">Don't want these emails? <a href=\"{}\">Unsubscribe</a>.</p>",
            escape(url)
        ));
        text.push_str(&format!("\nDon't want these emails? Unsubscribe: {url}\n"));
    }
    html.push_str("</body></html>");
    (html, text)
}

/// Renders `template` with `data`. Subjects are fixed texts: nothing a user typed reaches a
/// subject line. `unsubscribe` is the opt-out URL for marketing templates.
pub fn render(
    template: EmailTemplate,
    data: &Value,
    links: &Links,
    unsubscribe: Option<&str>,
) -> Result<Rendered, JobError> {
    let name = field(data, "firstName", "there");
    let greeting = format!("Hi {name},");
    let base = links.app_base_url.trim_end_matches('/');
    let unsubscribe = unsubscribe.filter(|_| category(template).is_some());
    let (subject, paragraphs, action) = match template {
        EmailTemplate::Welcome => (
            "Welcome to GrowStack".to_owned(),
            vec!["Your account is ready. Finish verifying your identity to unlock everything.".to_owned()],
            Some(("Open the app".to_owned(), format!("{base}/login"))),
        ),
        EmailTemplate::VerifyEmail => (
            "Confirm your email address".to_owned(),
            vec![
                "Confirm that this address is yours to finish setting up your account. The link works once, for 24 hours."
                    .to_owned(),
                "If you did not sign up for GrowStack, ignore this email.".to_owned(),
            ],
            Some(("Confirm your email".to_owned(), required(data, "verifyLink")?)),
        ),
        EmailTemplate::ReferralInvite => {
            let inviter = inviter_name(&field(data, "inviterName", ""));
            let link = required(data, "referralLink")?;
            (
                "You're invited to GrowStack".to_owned(),
                vec![format!("{inviter} thinks you'll like GrowStack. Sign up with their link to get started.")],
                Some(("Accept the invitation".to_owned(), link)),
            )
        }
        EmailTemplate::ReferralCompleted => {
            let friend = field(data, "friendName", "Your friend");
            (
                "Your referral is complete".to_owned(),
                vec![format!("{friend} finished signing up. Claim your referral reward in the app.")],
                Some(("Claim your reward".to_owned(), format!("{base}/referrals"))),
            )
        }
        EmailTemplate::RewardGranted => {
            let amount = required(data, "amount")?;
            let currency = field(data, "currency", "NGN");
            (
                "You've earned a referral reward".to_owned(),
                vec![format!("We've credited {currency} {amount} to your account. Thank you for spreading the word.")],
                None,
            )
        }
        EmailTemplate::KycReminder => (
            "Finish verifying your identity".to_owned(),
            vec!["You're a few steps away from a fully verified account. It takes about two minutes.".to_owned()],
            Some(("Continue verification".to_owned(), format!("{base}/onboarding"))),
        ),
        EmailTemplate::InactivityNudge => (
            "We miss you".to_owned(),
            vec!["It's been a while. Here's what's new since your last visit.".to_owned()],
            Some(("Open the app".to_owned(), format!("{base}/login"))),
        ),
        EmailTemplate::Notification => {
            let title = required(data, "title")?;
            (title, vec![required(data, "content")?], None)
        }
    };
    let action = action.as_ref().map(|(label, url)| (label.as_str(), url.as_str()));
    let (html, text) = body(&greeting, &paragraphs, action, unsubscribe);
    Ok(Rendered { subject, html, text, list_unsubscribe: unsubscribe.map(|url| format!("<{url}>")) })
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
        let url = "https://api.example.com/api/notifications/unsubscribe?token=t";
        for template in EmailTemplate::ALL {
            let r = render(*template, &data, &links(), Some(url)).unwrap();
            assert!(!r.subject.is_empty());
            assert!(r.html.starts_with("<!doctype html>") && r.html.contains("Hi Ada,"), "{template:?}");
            assert!(r.text.contains("Hi Ada,") && !r.text.contains('<'), "{template:?}");
            let marketing = category(*template).is_some();
            assert_eq!(r.list_unsubscribe.is_some(), marketing, "{template:?}");
            assert_eq!(r.text.contains(url), marketing, "{template:?}: the link is in the body too");
        }
        let nudge = render(EmailTemplate::InactivityNudge, &data, &links(), Some(url)).unwrap();
        assert_eq!(nudge.list_unsubscribe.unwrap(), format!("<{url}>"));
    }

    #[test]
    fn invitations_carry_a_name_and_no_other_words_of_the_inviters() {
        let invite = |name: &str| {
            let data = json!({ "inviterName": name, "referralLink": "https://app.example.com/r/ABC123" });
            render(EmailTemplate::ReferralInvite, &data, &links(), None).unwrap()
        };
        let r = invite("Ada Lovelace-O’Brien");
        assert_eq!(r.subject, "You're invited to GrowStack");
        assert!(r.text.contains("Ada Lovelace-O’Brien thinks"), "{}", r.text);
        assert!(invite("Adébáyọ").text.contains("Adébáyọ thinks"));
        assert!(invite("A. Lovelace Jr.").text.contains("A. Lovelace Jr. thinks"));
        for pitch in [
            "<b>FREE MONEY</b>",
            "Click http://evil.example now",
            "win.example.com",
            "Claim $500 today",
            "Aaaaaaaaaaaaaaaaaaaaa",
            "",
        ] {
            let r = invite(pitch);
            assert!(r.text.contains("A friend thinks"), "{pitch}: {}", r.text);
            assert!(pitch.is_empty() || !r.text.contains(pitch), "{pitch}");
        }
    }

    #[test]
    fn user_values_are_escaped_in_html() {
        let r = render(EmailTemplate::Welcome, &json!({"firstName": "<script>x</script>"}), &links(), None).unwrap();
        assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>"));
        assert!(r.text.contains("<script>"), "the text part is plain");
    }

    #[test]
    fn missing_required_data_is_poison() {
        assert!(matches!(render(EmailTemplate::ReferralInvite, &json!({}), &links(), None), Err(JobError::Poison(_))));
        assert!(matches!(render(EmailTemplate::RewardGranted, &json!({}), &links(), None), Err(JobError::Poison(_))));
        assert_eq!(
            render(EmailTemplate::Welcome, &json!({}), &links(), None).unwrap().text.lines().next(),
            Some("Hi there,")
        );
    }
}
