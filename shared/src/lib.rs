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
//! - [`auth`]: passwords under a CPU budget, tokens, rotating sessions, revocation, the
//!   `AuthUser` extractors, the auth routes and their rate limits.
//! - [`users`]: users, their profile and the admin user routes.
//! - [`referrals`]: codes and links, invitations, fraud checks, claims, stats, the tree.
//! - [`rewards`]: the reward ledger, its holds, payouts, voids, audit and export.
//! - [`onboarding`]: the KYC funnel, its stats and timing.
//! - [`kyc`]: the KYC provider's signed callback, the only source of a verified identity.
//! - [`events`]: product events (ingestion, lifecycle events, partitions, rollups, the
//!   archive export).
//! - [`analytics`]: growth analytics counted by Postgres, cached a minute.
//! - [`experiments`]: A/B experiments: seeded-hash assignment, exposures, results and their
//!   statistics.
//! - [`notifications`]: the inbox, admin sends, and the notification worker.
//! - [`email`]: email templates and the worker that sends them through SES.
//! - [`jobs`]: the typed, versioned jobs on the queues; [`outbox`] keeps the ones a change
//!   promises in its transaction, [`queue`] sends them, [`worker`] consumes them (Lambda
//!   batches, or long polling on the server).
//! - [`idempotency`]: DynamoDB records that make redelivered jobs take effect once.
//! - [`scheduler`]: due scheduled notifications, the daily nudges, the events' upkeep and the
//!   outbox relay.
//! - [`aws`]: the AWS SDK clients; [`local`]: creating the queues, table and sender on moto.
//! - [`health`]: the public health check.
//! - [`app`]: shared state, the endpoint registry and the router built from it.
//! - [`uses`]: what AWS each function uses, declared beside its route and recorded at run
//!   time, so that its IAM policy is checked against the code.
//! - [`lambda`]: running one endpoint (or the migration) as a Lambda function.
//! - [`server`]: the always-on `growstack` binary's commands.
//! - [`telemetry`]: JSON logs; [`xray`]: spans to X-Ray; [`metrics`]: CloudWatch EMF lines and
//!   Prometheus text.
//! - [`tls`]: verified TLS to Postgres and Redis.
//! - [`secrets`]: secrets read from Secrets Manager at run time, cached.
//! - [`signing`]: HMAC-SHA256 for mailed links, stored token hashes and webhook signatures.

mod macros;

/// Every binary linking GrowStack allocates with mimalloc: a request makes many small,
/// short-lived allocations, which glibc's malloc serves markedly slower (see bench/).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod analytics;
pub mod apikeys;
pub mod app;
pub mod auth;
pub mod aws;
pub mod cache;
pub mod config;
pub mod console;
pub mod db;
pub mod email;
pub mod endpoint;
pub mod error;
pub mod events;
pub mod experiments;
pub mod generate;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod kyc;
pub mod lambda;
pub mod local;
pub mod metrics;
pub mod migrate;
pub mod notifications;
pub mod onboarding;
pub mod openapi;
pub mod outbox;
pub mod privacy;
pub mod queue;
pub mod referrals;
pub mod rewards;
pub mod scheduler;
pub mod secrets;
pub mod server;
pub mod signing;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod users;
pub mod uses;
pub mod webhooks;
pub mod worker;
pub mod xray;

pub use config::Config;
pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use state::AppState;
