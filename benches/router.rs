//! Routing plus a handler: `GET /api/agents` with 10 agents, through the real router and store
//! (no sockets), and the router alone.
//!
//! `cargo bench --bench router`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use spar::api::routes::{Path, route};
use spar::api::{self, App, Method};
use spar::search::Search;
use spar::store::Store;

fn request(method: Method, raw: &str, body: &str) -> api::Request {
    let path = Path::parse(raw).expect("path");
    let mut req = api::Request::new(route(method, &path).expect("route"), None, String::new());
    req.body = body.as_bytes().to_vec();
    req
}

fn router(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let app = Arc::new({
        let store = Store::open(dir.path()).expect("store");
        let search = Search::open(dir.path(), &store).expect("search");
        App::new(store, Arc::new(search))
    });
    rt.block_on(async {
        for i in 0..10 {
            let body = format!(r#"{{"name":"bench-agent-{i}","type":"task"}}"#);
            assert_eq!(
                api::handle(&app, request(Method::Post, "/api/agents", &body)).await.status,
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
                let res = api::handle(&app, request(Method::Get, "/api/agents", "")).await;
                assert_eq!(res.status, 200);
                black_box(res)
            }
        });
    });
}

criterion_group!(benches, router);
criterion_main!(benches);
