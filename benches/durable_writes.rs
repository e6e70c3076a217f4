//! Durable writes through the real handler and group-commit writer (no HTTP): 32 concurrent
//! clients creating agents, each create committed (fsync'd) before it returns.
//!
//! `cargo bench --bench durable_writes`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spar::api::routes::{Path, route};
use spar::api::{self, App, Method};
use spar::search::Search;
use spar::store::Store;

const CLIENTS: usize = 32;

fn create_request(name: &str) -> api::Request {
    let path = Path::parse("/api/agents").expect("path");
    let endpoint = route(Method::Post, &path).expect("route");
    let mut req = api::Request::new(endpoint, None, String::new());
    req.body = format!(r#"{{"name":"{name}","type":"task"}}"#).into_bytes();
    req
}

fn durable_creates(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let app = Arc::new({
        let store = Store::open(dir.path()).expect("store");
        let search = Search::open(dir.path(), &store).expect("search");
        App::new(store, Arc::new(search))
    });
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
                                    create_request(&format!("r{r}-c{client}-i{i}")),
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
