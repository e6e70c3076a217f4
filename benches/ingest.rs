//! The ingest path of a signed GitHub push below HTTP, piece by piece, so a regression shows
//! without wrk: parsing the 9 KB payload, verifying its signature, the body's digest (dedup),
//! the write job alone (inside one batch, no commit), and the whole handler with group commit
//! from 64 concurrent senders (each delivery fsync'd before its answer).
//!
//! `cargo bench --bench ingest`

// A bench or example fails loudly on broken setup; the server code never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // this bench opens its app with a webhook secret
mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use spar::api::{self, Method};
use spar::app::App;
use spar::engine::{self, github, signature};
use spar::settings::{Secret, Settings};
use spar::store::StoreError;

const SECRET: &str = "bench-secret";
const SENDERS: usize = 64;

/// A 9 KB pretty-printed push (the fixture with more commits), made distinct by `nonce`.
fn push(nonce: &str) -> String {
    let mut push: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/github/push.json")).expect("fixture");
    let base = push["commits"][0].clone();
    while serde_json::to_string_pretty(&push).expect("json").len() < 9_000 {
        let n = push["commits"].as_array().expect("commits").len();
        let mut c = base.clone();
        c["message"] = format!("chore: commit {n}").into();
        push["commits"].as_array_mut().expect("commits").push(c);
    }
    push["loadNonce"] = nonce.into();
    serde_json::to_string_pretty(&push).expect("json")
}

/// The appliance on `dir`, with the project the pushes' repository belongs to.
fn app(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> Arc<api::State> {
    let settings =
        Settings { github_webhook_secret: Some(Secret::new(SECRET)), ..Settings::default() };
    let state = App::open(dir, settings).expect("app").state();
    rt.block_on(api::handle(
        &state,
        common::request(Method::Post, "/api/projects", r#"{"repo":"acme/api-gateway"}"#),
    ));
    state
}

fn delivery(n: u64) -> api::Request {
    let body = push(&format!("n{n}"));
    let sig = signature::sign_hex(SECRET.as_bytes(), body.as_bytes());
    let mut req = common::request(Method::Post, "/webhooks/github", &body);
    req.headers = vec![
        ("content-type".into(), "application/json".into()),
        ("x-github-event".into(), "push".into()),
        ("x-github-delivery".into(), format!("bench-{n}")),
        ("x-hub-signature-256".into(), format!("sha256={sig}")),
    ];
    req
}

fn pieces(c: &mut Criterion) {
    let body = push("pieces");
    let sig = signature::sign_hex(SECRET.as_bytes(), body.as_bytes());
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_push_9k", |b| {
        b.iter(|| github::parse("push", body.as_bytes()).expect("parse"))
    });
    group.bench_function("verify_signature_9k", |b| {
        b.iter(|| assert!(signature::verify_hex(SECRET.as_bytes(), body.as_bytes(), &sig)))
    });
    group.bench_function("digest_9k", |b| b.iter(|| signature::digest_hex(body.as_bytes())));
    group.finish();
}

/// The writer's own time per job (`WriterStats::run_micros`), committing as the server does.
fn write_job(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = app(&rt, dir.path());
    let parsed = github::parse("push", push("job").as_bytes()).expect("parse");
    let mut n = 0u64;
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(1));
    group.bench_function("write_job_run", |b| {
        b.iter_custom(|iters| {
            let stats = state.store.writer_stats();
            let before = stats.run_micros.load(std::sync::atomic::Ordering::Relaxed);
            rt.block_on(async {
                let jobs: Vec<_> = (0..iters)
                    .map(|_| {
                        n += 1;
                        let (parsed, state2) = (parsed.clone(), Arc::clone(&state));
                        let (id, digest) = (format!("job-{n}"), format!("{n:064x}"));
                        tokio::spawn(async move {
                            let policy = state2.policy;
                            state2
                                .store
                                .write(move |tx| {
                                    let receipt = engine::Receipt {
                                        source: "github",
                                        delivery: Some(&id),
                                        digest: &digest,
                                    };
                                    engine::ingest(tx, "default", &parsed, receipt, policy)
                                })
                                .await
                                .map_err(|e: StoreError| e)
                        })
                    })
                    .collect();
                for j in jobs {
                    j.await.expect("task").expect("ingest");
                }
            });
            let after = stats.run_micros.load(std::sync::atomic::Ordering::Relaxed);
            Duration::from_micros(after - before)
        })
    });
    group.finish();
}

/// The whole handler (org, signature, parse, dedup, write with group commit) from 64 senders.
fn handler(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = app(&rt, dir.path());
    let mut n = 0u64;
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(SENDERS as u64));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("handler_64_senders", |b| {
        b.iter_batched(
            || {
                (0..SENDERS)
                    .map(|_| {
                        n += 1;
                        delivery(n)
                    })
                    .collect::<Vec<_>>()
            },
            |reqs| {
                rt.block_on(async {
                    let tasks: Vec<_> = reqs
                        .into_iter()
                        .map(|req| {
                            let state = Arc::clone(&state);
                            tokio::spawn(async move { api::handle(&state, req).await.status })
                        })
                        .collect();
                    for t in tasks {
                        assert_eq!(t.await.expect("task"), 200);
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, pieces, write_job, handler);
criterion_main!(benches);
