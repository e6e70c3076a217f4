//! Seeds a data dir with N audit entries in one org, through the store's real write path
//! (5,000 appends per transaction), then builds the search index as the server's indexer
//! would, so that a server started on the dir has nothing to catch up.
//!
//! `cargo run --release --example seed_audit -- /tmp/spar-1m 1000000`

// A bench or example fails loudly on broken setup; the server code never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use spar::search::Search;
use spar::store::audit::{self, ActorType, AuditDraft, AuditResult};
use spar::store::{Store, StoreError};

const PER_TXN: u64 = 5_000;
const WORDS: [&str; 8] =
    ["deploy", "rollback", "review", "build", "incident", "cache", "queue", "schema"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: seed_audit <data-dir> [entries]")?;
    let total: u64 = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let store = Store::open(std::path::Path::new(&dir))?;
    let rt = tokio::runtime::Runtime::new()?;
    let started = Instant::now();
    let mut written = 0;
    while written < total {
        let batch = PER_TXN.min(total - written);
        let from = written;
        rt.block_on(store.write(move |tx| {
            for i in from..from + batch {
                audit::append(tx, "default", entry(i))?;
            }
            Ok::<_, StoreError>(())
        }))?;
        written += batch;
        if written.is_multiple_of(100_000) {
            eprintln!("{written} entries written ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    let index_started = Instant::now();
    let search = Arc::new(Search::open(std::path::Path::new(&dir), &store)?);
    let indexed = search.catch_up(&store)?;
    eprintln!(
        "{written} entries written in {:.1} s; {indexed} indexed in {:.1} s",
        (index_started - started).as_secs_f64(),
        index_started.elapsed().as_secs_f64()
    );
    store.close();
    Ok(())
}

/// Varied, realistic entries; "kafka" appears in 1 % of them (a selective single term).
fn entry(i: u64) -> AuditDraft {
    let word = WORDS[(i % 8) as usize];
    let detail = if i % 100 == 7 {
        format!("kafka consumer lag during {word} #{i}")
    } else {
        format!("{word} #{i} finished on branch main")
    };
    let mut d =
        AuditDraft::new(ActorType::Agent, &format!("agent-task-{:06}", i % 5000), "ci_event")
            .meta("repo", format!("acme/svc-{}", i % 40))
            .meta("branch", "main")
            .meta("detail", detail)
            .meta("build", json!({"number": i, "durationMs": i % 9000}));
    if i.is_multiple_of(10) {
        d = d.meta("risk", "high");
        d.result = AuditResult::Failed;
    }
    d
}
