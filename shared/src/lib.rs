//! GrowStack: the library every Lambda function and the always-on server share.
//!
//! Requests flow through the layers in this order, and only one layer touches each concern:
//! HTTP (API Gateway event or a socket) → [`app`] router and [`http`] middleware →
//! an entity's routes → that entity's repository (its SQL, its cache keys) → [`db`] / [`cache`].
//!
//! - [`config`]: one typed configuration, read from the environment once.
//! - [`error`]: the one error type and its mapping to status codes and the JSON envelope.
//! - [`http`]: the envelope, the JSON body extractor, client IP, request ids, request logs.
//! - [`db`]: the writer and reader Postgres pools and the embedded migrations.
//! - [`cache`]: Redis for cache-aside reads and rate limits; it fails open.
//! - [`auth`]: passwords, tokens, the `AuthUser` extractors, the auth routes and rate limit.
//! - [`users`]: users, their profile and the admin user routes.
//! - [`referrals`]: referral codes and the referral rows created at sign-up.
//! - [`health`]: the public health check.
//! - [`app`]: shared state, the endpoint registry and the router built from it.
//! - [`lambda`]: running one endpoint (or the migration) as a Lambda function.
//! - [`server`]: the always-on `growstack` binary's commands.
//! - [`telemetry`]: JSON logs.

pub mod app;
pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod http;
pub mod lambda;
pub mod referrals;
pub mod server;
pub mod telemetry;
pub mod users;

pub use app::{AppState, Endpoint};
pub use config::Config;
pub use error::{Error, Result};
