//! Routing plus a handler: `GET /api/agents` with 10 agents, through the real router and store
//! (no sockets), and the router alone.
//!
//! `cargo bench --bench router`

// A bench or example fails loudly on broken setup; the server code never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use spar::api::{self, Method, Path, route};

fn router(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let app = common::app(dir.path());
    rt.block_on(async {
        for i in 0..10 {
            let body = format!(r#"{{"name":"bench-agent-{i}","type":"task"}}"#);
            assert_eq!(
                api::handle(&app, common::request(Method::Post, "/api/agents", &body)).await.status,
                201
            );
        }
    });
    c.bench_function("route_only", |b| {
        b.iter(|| {
            let path =
                Path::parse(black_box("/v1/api/agents/agent-task-abc123/action")).expect("path");
            black_box(route(Method::Post, &path).expect("route"))
        });
    });
    c.bench_function("get_agents_10", |b| {
        b.to_async(&rt).iter(|| {
            let app = Arc::clone(&app);
            async move {
                let res = api::handle(&app, common::request(Method::Get, "/api/agents", "")).await;
                assert_eq!(res.status, 200);
                black_box(res)
            }
        });
    });
}

criterion_group!(benches, router);
criterion_main!(benches);
