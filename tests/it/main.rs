//! Every integration test, in one binary: one build and one link for all of them (22
//! binaries took as many links), with one support library (`growstack_tests`, tests/support).
//! Each module is the tests of one area; each test owns its database schema and Redis keys,
//! so they run in parallel.

mod analytics;
mod apikeys;
mod auth;
mod consistency;
mod console;
mod events;
mod experiments;
mod faults;
mod growth;
mod lambda_events;
mod lambda_harness;
mod logging;
mod messaging;
mod metrics;
mod money_and_mail;
mod node_clients;
mod numbers;
mod openapi;
mod privacy;
mod review_fixes;
mod scheduler;
mod secrets;
mod server_process;
mod sessions;
mod tls;
mod users;
mod webhooks;
