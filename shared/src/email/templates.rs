//! Email templates, rendered in our code (SES stored templates are not needed, and this way
//! every template is testable). Each renders a subject, an HTML part and a text part from the
//! mail's typed fields; values are HTML-escaped in the HTML part.

use super::suppressions::Category;
use crate::jobs::{EmailTemplate, JobError, Mail};

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
        | EmailTemplate::Notification
        | EmailTemplate::DataExport => None,
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

/// An optional text as shown: trimmed, or `default` when absent or blank.
fn or(value: Option<&str>, default: &str) -> String {
    value.map(str::trim).filter(|v| !v.is_empty()).unwrap_or(default).to_owned()
}

/// A text the template cannot do without (a job that has it blank is poison).
fn required(value: &str, name: &str) -> Result<String, JobError> {
    match value.trim() {
        "" => Err(JobError::Poison(format!("email data lacks {name}"))),
        v => Ok(v.to_owned()),
    }
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

/// Renders `mail`. Subjects are fixed texts but for an admin's notification: nothing a user
/// typed reaches a subject line. `unsubscribe` is the opt-out URL for marketing templates.
pub fn render(mail: &Mail, links: &Links, unsubscribe: Option<&str>) -> Result<Rendered, JobError> {
    let greeting = format!("Hi {},", or(mail.first_name(), "there"));
    let base = links.app_base_url.trim_end_matches('/');
    let unsubscribe = unsubscribe.filter(|_| category(mail.template()).is_some());
    let (subject, paragraphs, action) = match mail {
        Mail::Welcome(_) => (
            "Welcome to GrowStack".to_owned(),
            vec!["Your account is ready. Finish verifying your identity to unlock everything.".to_owned()],
            Some(("Open the app".to_owned(), format!("{base}/login"))),
        ),
        Mail::VerifyEmail(m) => (
            "Confirm your email address".to_owned(),
            vec![
                "Confirm that this address is yours to finish setting up your account. The link works once, for 24 hours."
                    .to_owned(),
                "If you did not sign up for GrowStack, ignore this email.".to_owned(),
            ],
            Some(("Confirm your email".to_owned(), required(&m.verify_link, "verifyLink")?)),
        ),
        Mail::ReferralInvite(m) => {
            let inviter = inviter_name(&or(m.inviter_name.as_deref(), ""));
            let link = required(&m.referral_link, "referralLink")?;
            (
                "You're invited to GrowStack".to_owned(),
                vec![format!("{inviter} thinks you'll like GrowStack. Sign up with their link to get started.")],
                Some(("Accept the invitation".to_owned(), link)),
            )
        }
        Mail::ReferralCompleted(m) => {
            let friend = or(m.friend_name.as_deref(), "Your friend");
            (
                "Your referral is complete".to_owned(),
                vec![format!("{friend} finished signing up. Claim your referral reward in the app.")],
                Some(("Claim your reward".to_owned(), format!("{base}/referrals"))),
            )
        }
        Mail::RewardGranted(m) => {
            let currency = or(m.currency.as_deref(), "NGN");
            (
                "You've earned a referral reward".to_owned(),
                vec![format!("We've credited {currency} {} to your account. Thank you for spreading the word.", m.amount)],
                None,
            )
        }
        Mail::KycReminder(_) => (
            "Finish verifying your identity".to_owned(),
            vec!["You're a few steps away from a fully verified account. It takes about two minutes.".to_owned()],
            Some(("Continue verification".to_owned(), format!("{base}/onboarding"))),
        ),
        Mail::InactivityNudge(_) => (
            "We miss you".to_owned(),
            vec!["It's been a while. Here's what's new since your last visit.".to_owned()],
            Some(("Open the app".to_owned(), format!("{base}/login"))),
        ),
        Mail::Notification(m) => (required(&m.title, "title")?, vec![required(&m.content, "content")?], None),
        Mail::DataExport(m) => (
            "Your GrowStack data is ready".to_owned(),
            vec![
                "The copy of your data you asked for is ready: everything GrowStack holds about your account, as one JSON file. The link works for 24 hours.".to_owned(),
                "If you did not ask for it, tell us: someone may have your password.".to_owned(),
            ],
            Some(("Download your data".to_owned(), required(&m.download_link, "downloadLink")?)),
        ),
    };
    let action = action.as_ref().map(|(label, url)| (label.as_str(), url.as_str()));
    let (html, text) = body(&greeting, &paragraphs, action, unsubscribe);
    Ok(Rendered { subject, html, text, list_unsubscribe: unsubscribe.map(|url| format!("<{url}>")) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{DataExport, Greeting, Note, ReferralCompleted, ReferralInvite, RewardGranted, VerifyEmail};
    use rust_decimal::Decimal;

    fn links() -> Links {
        Links { app_base_url: "https://app.example.com/".into() }
    }

    /// One mail of every template, greeting Ada where the template greets anyone.
    fn every_mail() -> Vec<Mail> {
        let ada = || Some("Ada".to_owned());
        let greeting = || Greeting { first_name: ada() };
        vec![
            Mail::Welcome(greeting()),
            Mail::VerifyEmail(VerifyEmail {
                first_name: ada(),
                verify_link: "https://app.example.com/verify-email?token=t".into(),
            }),
            Mail::ReferralInvite(ReferralInvite {
                inviter_name: Some("Grace".into()),
                referral_link: "https://app.example.com/r/ABC123".into(),
            }),
            Mail::ReferralCompleted(ReferralCompleted {
                first_name: ada(),
                friend_name: Some("Alan".into()),
                referral_id: None,
            }),
            Mail::RewardGranted(RewardGranted {
                first_name: ada(),
                amount: Decimal::new(50000, 2),
                currency: Some("NGN".into()),
            }),
            Mail::KycReminder(greeting()),
            Mail::InactivityNudge(greeting()),
            Mail::Notification(Note { first_name: ada(), title: "Hello".into(), content: "Body".into() }),
            Mail::DataExport(DataExport {
                first_name: ada(),
                download_link: "https://api.example.com/api/exports/e?token=t".into(),
            }),
        ]
    }

    #[test]
    fn every_template_renders_html_and_text() {
        let url = "https://api.example.com/api/notifications/unsubscribe?token=t";
        let mails = every_mail();
        assert_eq!(mails.len(), EmailTemplate::ALL.len(), "a mail of every template");
        for mail in &mails {
            let template = mail.template();
            let r = render(mail, &links(), Some(url)).unwrap();
            let hi = if template == EmailTemplate::ReferralInvite { "Hi there," } else { "Hi Ada," };
            assert!(!r.subject.is_empty());
            assert!(r.html.starts_with("<!doctype html>") && r.html.contains(hi), "{template:?}");
            assert!(r.text.contains(hi) && !r.text.contains('<'), "{template:?}");
            let marketing = category(template).is_some();
            assert_eq!(r.list_unsubscribe.is_some(), marketing, "{template:?}");
            assert_eq!(r.text.contains(url), marketing, "{template:?}: the link is in the body too");
        }
        let nudge = render(&Mail::InactivityNudge(Greeting::default()), &links(), Some(url)).unwrap();
        assert_eq!(nudge.list_unsubscribe.unwrap(), format!("<{url}>"));
        let reward = render(&mails[4], &links(), None).unwrap();
        assert!(reward.text.contains("We've credited NGN 500.00"), "{}", reward.text);
    }

    #[test]
    fn invitations_carry_a_name_and_no_other_words_of_the_inviters() {
        let invite = |name: &str| {
            let mail = Mail::ReferralInvite(ReferralInvite {
                inviter_name: Some(name.to_owned()),
                referral_link: "https://app.example.com/r/ABC123".into(),
            });
            render(&mail, &links(), None).unwrap()
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
        let mail = Mail::Welcome(Greeting { first_name: Some("<script>x</script>".into()) });
        let r = render(&mail, &links(), None).unwrap();
        assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>"));
        assert!(r.text.contains("<script>"), "the text part is plain");
    }

    #[test]
    fn blank_required_data_is_poison() {
        let blank_link = Mail::ReferralInvite(ReferralInvite { inviter_name: None, referral_link: "  ".into() });
        assert!(matches!(render(&blank_link, &links(), None), Err(JobError::Poison(_))));
        let blank_title = Mail::Notification(Note { first_name: None, title: "".into(), content: "c".into() });
        assert!(matches!(render(&blank_title, &links(), None), Err(JobError::Poison(_))));
        let nobody = Mail::Welcome(Greeting { first_name: Some("  ".into()) });
        assert_eq!(render(&nobody, &links(), None).unwrap().text.lines().next(), Some("Hi there,"));
    }
}
