//! Authentication: passwords, tokens, the extractors handlers use, and the public
//! register / login / refresh-token routes.

mod extract;
mod password;
mod routes;
mod token;

pub use extract::{AdminUser, AuthRateLimit, AuthUser};
pub use password::{verify as verify_password, Password};
pub use routes::{LOGIN, REFRESH_TOKEN, REGISTER};
pub use token::{Claims, TokenPair, TokenType, Tokens};
