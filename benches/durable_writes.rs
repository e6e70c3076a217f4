//! Durable writes through the real handler and group-commit writer (no HTTP): 32 concurrent
//! clients creating agents, each create committed (fsync'd) before it returns.
//!
//! `cargo bench --bench durable_writes`

// A bench or example fails loudly on broken setup; the server code never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spar::api::{self, Method};

const CLIENTS: usize = 32;

fn durable_creates(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let app = common::app(dir.path());
    let mut round = 0u64;
    let mut group = c.benchmark_group("durable_writes");
    group.throughput(Throughput::Elements(CLIENTS as u64));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("create_agent_32_clients", |b| {
        b.iter_custom(|iters| {
            round += 1;
            let app = Arc::clone(&app);
            let r = round;
            rt.block_on(async move {
                let start = Instant::now();
                let tasks: Vec<_> = (0..CLIENTS)
                    .map(|client| {
                        let app = Arc::clone(&app);
                        tokio::spawn(async move {
                            for i in 0..iters {
                                let res = api::handle(
                                    &app,
                                    common::request(
                                        Method::Post,
                                        "/api/agents",
                                        &format!(
                                            r#"{{"name":"r{r}-c{client}-i{i}","type":"task"}}"#
                                        ),
                                    ),
                                )
                                .await;
                                assert_eq!(res.status, 201);
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("client");
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group!(benches, durable_creates);
criterion_main!(benches);
