//! The crash loop: signed webhook load, SIGKILL, restart, five times over one data dir. After
//! every round, every delivery acknowledged so far is stored exactly once and the audit chains
//! verify offline (`spar verify-audit`) and online.

use std::sync::Arc;

use crate::common::{Server, WebhookLoad, assert_stored_once, fixture, verify_audit_cli};

const SECRET: &str = "crash-loop-secret";
const ROUNDS: usize = 5;
const WORKERS: usize = 6;

#[test]
fn five_rounds_of_sigkill_under_webhook_load_lose_nothing() {
    let mut s = Server::with(&["--rate-limit-webhooks", "0"], &[("GITHUB_WEBHOOK_SECRET", SECRET)]);
    let body = Arc::new(fixture("github/push.json"));
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let load =
            WebhookLoad::start(s.addr, SECRET, Arc::clone(&body), WORKERS, &format!("r{round}-"));
        load.wait_for_acknowledged(30);
        s.kill9();
        let (acked, _) = load.finish();
        assert!(!acked.is_empty(), "round {round}: nothing was acknowledged");
        acknowledged.extend(acked);

        let (code, report) = verify_audit_cli(&s);
        assert_eq!(code, Some(0), "round {round}: spar verify-audit: {report}");

        s.start_again();
        assert_stored_once(&s, &acknowledged, &format!("round {round}"));
        assert_eq!(s.get("/api/audit/verify").json()["valid"], true, "round {round}");
    }
    eprintln!("{} deliveries acknowledged over {ROUNDS} crashes, all stored", acknowledged.len());
}
