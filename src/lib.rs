//! Spar: the CodeSpar control plane as one self-contained binary.
//!
//! Layout (see ARCHITECTURE.md):
//! - [`cli`]: the `spar` command and its subcommands;
//! - [`app`]: the composition root, which builds the parts below and stops them in order;
//! - [`http`]: hyper, connections, CORS, auth, rate limiting, body limits;
//! - [`api`]: the five API families (routers, errors, handlers), free of hyper types;
//! - [`engine`]: inbound webhooks into normalized events, signatures;
//! - [`upstream`]: outbound calls to GitHub and the other services (ureq);
//! - [`sched`]: the scheduler's runtime and task actions (tokio-cron-scheduler);
//! - [`metrics`]: request counters for `/metrics`;
//! - [`store`]: redb, the only source of truth, with group commit and the audit hash chain;
//! - [`search`]: tantivy indexes derived from the store (audit filters and full-text `q`);
//! - [`settings`]: what the server reads from its environment;
//! - [`clock`], [`ids`]: timestamps and identifiers.

pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod engine;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod sched;
pub mod search;
pub mod settings;
pub mod store;
pub mod upstream;
