//! The writer's time per job while one incident receives 100,000 repeats (docs/SECURITY.md,
//! "Bounded work"): a repeat must cost the same at the 100,000th as at the first, since an
//! incident keeps a count and its last 50 events.
//!
//! `cargo bench --bench incident_repeats`
//!
//! Each repeat is a Sentry `issue` delivery of the same issue through the real handler and
//! group-commit writer (no HTTP, no signature). What is measured is the writer's own time
//! running the jobs (`WriterStats::run_micros`), not the fsync of their commits, which is the
//! disk's and the same for every job.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use spar::api::{self, Method, State};

/// Concurrent senders: enough for group commit to keep the run short.
const SENDERS: u64 = 16;
const CHECKPOINTS: [u64; 3] = [1, 10_000, 100_000];

/// The `n`th repeat: the same issue, its bytes its own (as every real delivery's are: an
/// identical body is a replay, and a duplicate).
fn repeat_request(fixture: &str, n: u64) -> api::Request {
    let mut req = common::request(Method::Post, "/webhooks/sentry", "");
    req.body = fixture.replacen('{', &format!("{{\"_repeat\":{n},"), 1).into_bytes();
    req.headers = vec![("sentry-hook-resource".into(), "issue".into())];
    req
}

/// Sends repeats `from..from + n` from [`SENDERS`] tasks.
async fn send(state: &Arc<State>, fixture: &Arc<String>, from: u64, n: u64) {
    let tasks: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (state, fixture) = (Arc::clone(state), Arc::clone(fixture));
            tokio::spawn(async move {
                for i in (s..n).step_by(SENDERS as usize) {
                    let res = api::handle(&state, repeat_request(&fixture, from + i)).await;
                    assert_eq!(res.status, 200);
                    assert!(!String::from_utf8_lossy(&res.body).contains("duplicate"));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("sender");
    }
}

/// The writer's run time so far, and the jobs it ran.
fn writer_totals(state: &State) -> (u64, u64) {
    let stats = state.store.writer_stats();
    (stats.run_micros.load(Ordering::Relaxed), stats.writes.load(Ordering::Relaxed))
}

fn incident_repeats(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = common::app(dir.path());
    let fixture = Arc::new(
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/sentry/issue.created.json"
        ))
        .expect("fixture"),
    );
    let mut group = c.benchmark_group("incident_repeats");
    // Criterion sizes its runs by the durations returned (the writer's µs, far less than the
    // wall time of a durable write): short windows keep the wall time of a run to about a minute.
    group.sample_size(10).warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_millis(400));
    let mut sent = 0;
    for checkpoint in CHECKPOINTS {
        rt.block_on(send(&state, &fixture, sent, checkpoint.saturating_sub(sent)));
        sent = sent.max(checkpoint);
        group.bench_with_input(
            BenchmarkId::new("writer_time_per_repeat", checkpoint),
            &checkpoint,
            |b, _| {
                b.iter_custom(|iters| {
                    let (run_before, _) = writer_totals(&state);
                    rt.block_on(send(&state, &fixture, sent, iters));
                    sent += iters;
                    let (run_after, _) = writer_totals(&state);
                    Duration::from_micros(run_after - run_before)
                });
            },
        );
        let (run, writes) = writer_totals(&state);
        println!(
            "after {sent} repeats: {writes} jobs, writer {:.1} µs per job overall",
            run as f64 / writes as f64
        );
    }
    group.finish();
}

criterion_group!(benches, incident_repeats);
criterion_main!(benches);
