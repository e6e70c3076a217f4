//! The integration tests: one binary, a module per theme, so the harness (`common`) is compiled
//! and linked once. Every test starts the real `spar` binary (or the real router and store
//! in-process) on a temp data dir; third-party services are fakes on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod a2a;
mod agents;
mod api_keys;
mod audit;
mod audit_search;
mod backup;
mod channels;
mod codespar_forms;
mod conformance;
mod console;
mod crash_loop;
mod deploy_webhooks;
mod durability;
mod engine;
mod event_stream;
mod github_webhooks;
mod hostile;
mod http_rules;
mod import;
mod integrations;
mod lifecycle;
mod memory_identity;
mod metrics;
mod openapi;
mod operating;
mod operator_cli;
mod orgs;
mod outbox;
mod potpie;
mod projects;
mod rate_limit;
mod replay;
mod retention;
mod scheduler;
mod sentry_webhooks;
mod spike;
mod stored_state;
mod tls;
