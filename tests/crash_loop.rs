//! The crash loop: signed webhook load, SIGKILL, restart, five times over one data dir. After
//! every round, every delivery acknowledged so far is stored exactly once and the audit chains
//! verify offline (`spar verify-audit`) and online.

mod common;

use std::collections::HashSet;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, fixture, post_delivery, stored_deliveries, verify_audit_cli};

const SECRET: &str = "crash-loop-secret";
const ROUNDS: usize = 5;
const WORKERS: usize = 6;

#[test]
fn five_rounds_of_sigkill_under_webhook_load_lose_nothing() {
    let mut s = Server::with(&["--rate-limit-webhooks", "0"], &[("GITHUB_WEBHOOK_SECRET", SECRET)]);
    let body = Arc::new(fixture("github/push.json"));
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..ROUNDS {
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let addr = s.addr;
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (acked, stop, body) =
                    (Arc::clone(&acked), Arc::clone(&stop), Arc::clone(&body));
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let delivery = format!("r{round}-w{w}-n{n}");
                        let Ok(stream) = TcpStream::connect(addr) else { continue };
                        let answer = post_delivery(stream, SECRET, &delivery, &body);
                        if answer.is_some_and(|a| a["processed"] == true) {
                            acked.lock().expect("lock").push(delivery);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(700));
        s.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().expect("worker");
        }
        let acked = acked.lock().expect("lock").clone();
        assert!(!acked.is_empty(), "round {round}: nothing was acknowledged");
        acknowledged.extend(acked);

        let (code, report) = verify_audit_cli(&s);
        assert_eq!(code, Some(0), "round {round}: spar verify-audit: {report}");

        s.start_again();
        let stored = stored_deliveries(&s);
        let unique: HashSet<&String> = stored.iter().collect();
        assert_eq!(unique.len(), stored.len(), "round {round}: a delivery was recorded twice");
        let lost: Vec<&String> = acknowledged.iter().filter(|d| !unique.contains(d)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged deliveries lost: {lost:?}",
            lost.len()
        );
        assert_eq!(s.get("/api/audit/verify").json()["valid"], true, "round {round}");
    }
    eprintln!("{} deliveries acknowledged over {ROUNDS} crashes, all stored", acknowledged.len());
}
