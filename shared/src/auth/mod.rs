//! Authentication: passwords, tokens and sessions, revocation, the extractors handlers use,
//! and the auth routes (register, login, refresh, logout, email verification).

pub(crate) mod cookie;
mod extract;
mod limits;
mod password;
mod revocation;
mod routes;
mod sessions;
mod token;

pub use extract::{ActingAdmin, ActingMarketer, AdminUser, AnalyticsReader, AuthUser};
pub use limits::{admit_password_check, prove_password, IpLimited, Login, PasswordCheck};
pub use password::{Hasher, Password};
pub use revocation::Revocations;
pub use routes::{
    verification_link, Session, LOGIN, LOGOUT, LOGOUT_ALL, REFRESH_TOKEN, REGISTER, RESEND_VERIFICATION, VERIFY_EMAIL,
};
pub use sessions::{purge_expired, start as start_session};
pub use token::{Claims, LinkKeys, Subject, TokenPair, TokenType, Tokens};
