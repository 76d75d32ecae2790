//! The user and the values it is made of. Each newtype parses its input once, at the edge,
//! so no raw string reaches the database.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::macros::text_enum;

text_enum!(Role { Admin => "admin", Marketer => "marketer", Analyst => "analyst", User => "user" });
impl Role {
    /// Staff who read analytics, anyone's events and experiment results.
    pub fn reads_analytics(self) -> bool {
        matches!(self, Role::Admin | Role::Analyst | Role::Marketer)
    }
}

text_enum!(Status { Active => "active", Inactive => "inactive", Suspended => "suspended", Deleted => "deleted" });
text_enum!(OnboardingStep { Email => "email", Phone => "phone", Bvn => "bvn", Selfie => "selfie", KycComplete => "kyc_complete" });
text_enum!(KycStatus { Pending => "pending", Failed => "failed", Successful => "successful" });

/// A lower-cased email address of plausible shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self> {
        let email = raw.trim().to_lowercase();
        let bad = || Error::invalid_field("email", "email must be a valid address of at most 254 characters");
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        // The RFC's syntax (a domain with a TLD; no display name, no [address] literal)…
        let options =
            email_address::Options::default().with_required_tld().without_domain_literal().without_display_text();
        email_address::EmailAddress::parse_with_options(&email, options).map_err(|_| bad())?;
        // …and less of it: no quoted local parts (they carry commas, brackets and spaces into
        // our mail and logs), and a domain in ASCII letters, digits and hyphens — an
        // internationalised one in its xn-- form, where a Cyrillic look-alike shows as what
        // it is.
        let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii());
        let domain_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if !local_ok || !domain_ok {
            return Err(bad());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The region a phone number without its country code is read in (`PHONE_DEFAULT_REGION`,
/// an ISO 3166 code; NG by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhoneRegion(rlibphonenumber::enums::Region);

impl PhoneRegion {
    pub fn parse(code: &str) -> anyhow::Result<Self> {
        // Any two letters make a `Region`; only those with metadata are regions.
        rlibphonenumber::enums::Region::from_code(code.trim())
            .ok()
            .filter(|r| rlibphonenumber::PHONE_NUMBER_UTIL.get_country_code_for_region(*r).is_some())
            .map(PhoneRegion)
            .ok_or_else(|| anyhow::anyhow!("not a region libphonenumber knows: {code:?}"))
    }
}

impl Default for PhoneRegion {
    fn default() -> Self {
        PhoneRegion(rlibphonenumber::enums::Region::NG)
    }
}

/// A phone number in E.164 (`+2348012345678`), read with libphonenumber's rules and
/// metadata (the `rlibphonenumber` port): the national form (`0801 234 5678`), the country
/// code without `+` (`2348012345678`) and the international dialling prefix (`009234…`) of
/// the default region all give the same number, so that one number is one number to the
/// unique constraint and the self-referral check. A number the metadata does not know as
/// valid for its country is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str, region: PhoneRegion) -> Result<Self> {
        use rlibphonenumber::{PhoneNumberFormat, PHONE_NUMBER_UTIL};
        let bad = || {
            Error::invalid_field(
                "phone",
                "phone must be a valid phone number: +<country code><number>, or a national number",
            )
        };
        if raw.len() > 32 || raw.chars().any(char::is_control) {
            return Err(bad());
        }
        let number = PHONE_NUMBER_UTIL.parse(raw, Some(region.0)).map_err(|_| bad())?;
        if !number.is_valid() {
            return Err(bad());
        }
        Ok(Phone(number.format_as(PhoneNumberFormat::E164).to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A first or last name: 1 to 100 characters after trimming, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
            return Err(Error::invalid_field(field, format!("{field} must be 1 to 100 characters")));
        }
        Ok(PersonName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An opaque device fingerprint from the client SDK, up to 256 printable characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceFingerprint(String);

impl DeviceFingerprint {
    pub fn parse(raw: &str) -> Result<Self> {
        let fp = raw.trim();
        if fp.is_empty() || fp.len() > 256 || fp.chars().any(char::is_control) {
            return Err(Error::invalid_field("deviceFingerprint", "deviceFingerprint must be 1 to 256 characters"));
        }
        Ok(DeviceFingerprint(fp.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What registration stores about a new user (the password hash travels separately).
#[derive(Debug)]
pub struct NewUser {
    pub email: Email,
    pub phone: Phone,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub device_fingerprint: Option<DeviceFingerprint>,
}

/// A profile change: only the fields given change.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub phone: Option<Phone>,
    pub device_fingerprint: Option<DeviceFingerprint>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub phone: Option<String>,
    #[serde(skip)]
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub status: Status,
    pub onboarding_step: OnboardingStep,
    pub kyc_status: KycStatus,
    pub referral_code: String,
    pub referred_by: Option<Uuid>,
    pub device_fingerprint: Option<String>,
    pub last_active_at: Option<DateTime<Utc>>,
    /// Staff only (see [`StaffView`]): telling a fraud farm its score teaches it what fires.
    #[serde(skip)]
    pub fraud_score: i32,
    pub blocked: bool,
    /// When the user proved the address is theirs; `None` until then.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Stamped into access tokens; bumped to revoke them all.
    #[serde(skip)]
    pub token_version: i32,
    /// Staff only: the account first verified with the identity this one's KYC verified.
    #[serde(skip)]
    pub duplicate_of: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user as staff see them: with the fraud score the user's own answers leave out.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffView<'a> {
    #[serde(flatten)]
    #[schema(value_type = User)]
    pub user: &'a User,
    pub fraud_score: i32,
    /// The account the KYC provider verified the same person on first, when this one is a
    /// second account: its referral failed as `duplicate_identity`.
    pub duplicate_of: Option<Uuid>,
}

impl<'a> From<&'a User> for StaffView<'a> {
    fn from(user: &'a User) -> Self {
        StaffView { user, fraud_score: user.fraud_score, duplicate_of: user.duplicate_of }
    }
}

impl User {
    /// Reads a row selected with `users::COLUMNS`.
    pub fn from_row(row: &Row) -> Result<Self> {
        let text =
            |column: &str| -> Result<String> { Ok(row.try_get::<_, String>(column).map_err(anyhow::Error::new)?) };
        let bad = |column: &str| Error::Internal(anyhow::anyhow!("unexpected value in users.{column}"));
        Ok(User {
            id: row.try_get("id").map_err(anyhow::Error::new)?,
            email: text("email")?,
            phone: row.try_get("phone").map_err(anyhow::Error::new)?,
            password_hash: text("password_hash")?,
            first_name: text("first_name")?,
            last_name: text("last_name")?,
            role: Role::parse(&text("role")?).ok_or_else(|| bad("role"))?,
            status: Status::parse(&text("status")?).ok_or_else(|| bad("status"))?,
            onboarding_step: OnboardingStep::parse(&text("onboarding_step")?).ok_or_else(|| bad("onboarding_step"))?,
            kyc_status: KycStatus::parse(&text("kyc_status")?).ok_or_else(|| bad("kyc_status"))?,
            referral_code: text("referral_code")?,
            referred_by: row.try_get("referred_by").map_err(anyhow::Error::new)?,
            device_fingerprint: row.try_get("device_fingerprint").map_err(anyhow::Error::new)?,
            last_active_at: row.try_get("last_active_at").map_err(anyhow::Error::new)?,
            fraud_score: row.try_get("fraud_score").map_err(anyhow::Error::new)?,
            blocked: row.try_get("blocked").map_err(anyhow::Error::new)?,
            email_verified_at: row.try_get("email_verified_at").map_err(anyhow::Error::new)?,
            token_version: row.try_get("token_version").map_err(anyhow::Error::new)?,
            duplicate_of: row.try_get("duplicate_of").map_err(anyhow::Error::new)?,
            created_at: row.try_get("created_at").map_err(anyhow::Error::new)?,
            updated_at: row.try_get("updated_at").map_err(anyhow::Error::new)?,
        })
    }

    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    /// Inviting and rewards wait until the address is proven to be the user's.
    pub fn ensure_email_verified(&self) -> Result<()> {
        if !self.email_verified() {
            return Err(Error::Forbidden("verify your email address first"));
        }
        Ok(())
    }

    /// Blocked, suspended and deleted users may not sign in or use their account.
    pub fn ensure_may_sign_in(&self) -> Result<()> {
        if self.blocked {
            return Err(Error::Forbidden("account is blocked"));
        }
        if self.status != Status::Active {
            return Err(Error::Forbidden("account is not active"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.io",
            "a b@x.io",
            "ada@x",
            "ada@.x.io",
            "ada@x..io",
            &format!("{}@x.io", "a".repeat(65)),
            "<svg/onload=alert(1)>@example.com",
            "a,b@example.com",
            "\"a b\"@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "ada@exаmple.com", // a Cyrillic а
            "ada@-example.com",
            "ada\u{7}@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        for good in ["ada.lovelace+growth@example.co.uk", "o'brien@example.ng", "ada@xn--exmple-4nf.com"] {
            assert!(Email::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn phones_are_one_number_however_typed() {
        let ng = PhoneRegion::default();
        // The finding: three spellings of one number passed as three.
        for typed in ["+2348006649584", "2348006649584", "08006649584", "+234 800 664 9584", "009 234 800 664 9584"] {
            assert_eq!(Phone::parse(typed, ng).unwrap().as_str(), "+2348006649584", "{typed:?}");
        }
        for typed in ["+234 801-234-5678", "0801 234 5678", "++2348012345678", "(0801) 234.5678"] {
            assert_eq!(Phone::parse(typed, ng).unwrap().as_str(), "+2348012345678", "{typed:?}");
        }
        assert_eq!(Phone::parse("+1 (202) 555-0123", ng).unwrap().as_str(), "+12025550123");
        let gb = PhoneRegion::parse("gb").unwrap();
        assert_eq!(Phone::parse("07911 123456", gb).unwrap().as_str(), "+447911123456");
        assert_eq!(Phone::parse("07911 123456", ng).ok(), None, "a British mobile is not a Nigerian number");
        for bad in [
            "",
            "12345",
            "+1234567890123456",
            "phone-number",
            "002348006649584",
            "+2341000000001",
            "+1234567890",
            "+234801234567\n",
            "<svg/onload=alert(1)>",
        ] {
            assert!(Phone::parse(bad, ng).is_err(), "{bad:?}");
        }
        for unknown in ["XX", "ZZ", "N", "NGA", "001"] {
            assert!(PhoneRegion::parse(unknown).is_err(), "{unknown:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(PersonName::parse("firstName", "  Ada ").unwrap().as_str(), "Ada");
        assert!(PersonName::parse("firstName", "   ").is_err());
        assert!(PersonName::parse("firstName", &"x".repeat(101)).is_err());
        assert!(PersonName::parse("firstName", &"é".repeat(100)).is_ok());
    }

    #[test]
    fn enums_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
        }
        assert_eq!(OnboardingStep::parse("kyc_complete"), Some(OnboardingStep::KycComplete));
        assert_eq!(Status::parse("ACTIVE"), None);
    }
}
