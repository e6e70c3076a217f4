//! `GET /health` (docs/API.md §2.1: never rate limited, never authenticated) and `GET /api/session` (§1.4).

use serde_json::json;

use crate::api::{Caller, Response, State};
use crate::store::{agents, outbox};

pub fn get(state: &State) -> Response {
    let read = state.store.read().ok();
    let agents = read.as_ref().and_then(|tx| agents::count(tx).ok());
    let (pending, dead) = read.as_ref().and_then(|tx| outbox::counts(tx).ok()).unwrap_or((0, 0));
    let ok = agents.is_some();
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime": state.started.elapsed().as_secs(),
        "agents": agents.unwrap_or(0),
        "storage": { "ok": ok, "sizeBytes": state.store.size_bytes() },
        "index": { "lagSeconds": state.search.lag_seconds(&state.store) },
        "deliveries": { "pending": pending, "dead": dead },
    });
    // A load balancer needs a non-2xx to take a broken instance out.
    Response::json(if ok { 200 } else { 503 }, &body)
}

/// `GET /api/session` (docs/API.md §1.4): who the request's credential makes it, so a client
/// (the console) can tell whether it must ask for a token without provoking a 401.
pub fn session(caller: &Caller) -> Response {
    let (name, org) = match caller {
        Caller::Operator => ("operator", None),
        Caller::Org(org) => ("org", Some(org.as_str())),
        Caller::Anonymous => ("anonymous", None),
        Caller::Unauthenticated => ("none", None),
    };
    Response::ok(&json!({ "caller": name, "orgId": org }))
}
