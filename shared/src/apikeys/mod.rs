//! API keys: how the operator's servers call GrowStack. An admin makes a key with scopes; its
//! secret is shown once and kept only as a hash. A key is accepted only on the routes whose
//! declaration names a scope (`Endpoint::key_scope`), by one gate every route runs
//! (`endpoint.rs`), within a rate of its own; every write made with it is audited.

mod gate;
mod repo;
mod routes;

pub use gate::{authenticate, presented, KeyCaller, OrKey, Secret};
pub use repo::{audit, Scope};
pub use routes::{CREATE, LIST, REVOKE};
