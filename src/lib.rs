//! Spar: the CodeSpar control plane as one self-contained binary.
//!
//! Layout (see ARCHITECTURE.md):
//! - [`cli`]: the `spar` command and its subcommands;
//! - [`http`]: hyper, connections, CORS, auth, rate limiting, body limits;
//! - [`api`]: the router and one module per resource, free of hyper types;
//! - [`store`]: redb, the only source of truth, with group commit and the audit hash chain;
//! - [`search`]: tantivy indexes derived from the store (audit filters and full-text `q`);
//! - [`clock`], [`ids`]: timestamps and identifiers.

pub mod api;
pub mod cli;
pub mod clock;
pub mod http;
pub mod ids;
pub mod search;
pub mod store;
