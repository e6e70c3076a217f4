//! Audit retention (the primitive behind the scheduler's `audit-cleanup`), driven in-process
//! through the real router, store and index on a temp dir.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use spar::api::{self, Method, Path, State, route};
use spar::app::App;
use spar::clock;
use spar::sched::retention::prune_audit_before;
use spar::search::Indexer;
use spar::settings::Settings;
use spar::store::audit;

struct Running {
    app: Arc<State>,
    indexer: Indexer,
}

fn start(dir: &std::path::Path) -> Running {
    let app = App::open(dir, Settings::default()).expect("app").state();
    let indexer = Indexer::start(Arc::clone(&app.search), app.store.clone()).expect("indexer");
    Running { app, indexer }
}

fn stop(r: Running) {
    r.indexer.stop();
    r.app.store.close();
}

async fn call(app: &State, method: Method, raw: &str, body: Value) -> (u16, Value) {
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let endpoint = route(method, &Path::parse(path).expect("path")).expect("route");
    let mut req = api::Request::new(endpoint, Some(query), "test".into());
    if !body.is_null() {
        req.body = serde_json::to_vec(&body).expect("json");
    }
    let res = api::handle(app, req).await;
    (res.status, serde_json::from_slice(&res.body).unwrap_or(Value::Null))
}

async fn wait_indexed(app: &State) {
    for _ in 0..200 {
        let last = audit::last_seq(&app.store.read().expect("read")).expect("last seq");
        if app.search.audit.indexed() == last {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("index did not catch up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_old_entries_and_every_chain_still_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = start(dir.path());
    let app = &r.app;
    assert_eq!(call(app, Method::Post, "/api/orgs", json!({"name": "Old Co"})).await.0, 201);
    let mut ids = Vec::new();
    for i in 0..3 {
        let (status, body) = call(
            app,
            Method::Post,
            "/api/agents",
            json!({"name": format!("old-{i}"), "type": "task"}),
        )
        .await;
        assert_eq!(status, 201);
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let cutoff = clock::now_ms();
    tokio::time::sleep(Duration::from_millis(30)).await;
    for id in &ids[..2] {
        let (status, _) = call(
            app,
            Method::Post,
            &format!("/api/agents/{id}/action"),
            json!({"action": "suspend"}),
        )
        .await;
        assert_eq!(status, 200);
    }
    wait_indexed(app).await;

    let pruned = prune_audit_before(&app.store, &app.search, cutoff).await.expect("prune");
    let by_org: Vec<(String, u64)> = pruned.iter().map(|p| (p.org.clone(), p.removed)).collect();
    assert_eq!(by_org, [("default".to_owned(), 3), ("org-old-co".to_owned(), 1)]);

    let (_, verify) = call(app, Method::Get, "/api/audit/verify", Value::Null).await;
    assert_eq!(verify["valid"], true, "{verify}");
    assert_eq!(verify["entries"], 4, "two suspends and two audit.retention entries: {verify}");
    let (_, list) = call(app, Method::Get, "/api/audit?limit=100", Value::Null).await;
    let actions: Vec<&str> = list["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["audit.retention", "audit.retention", "agent.suspend", "agent.suspend"]);
    assert_eq!(list["entries"][1]["metadata"]["removed"], 3);
    assert_eq!(list["entries"][1]["actorType"], "system");
    // The index forgot them too.
    wait_indexed(app).await;
    let (_, hits) = call(app, Method::Get, "/api/audit?q=*", Value::Null).await;
    assert_eq!(hits["total"], 4, "{hits}");
    let (_, spawns) = call(app, Method::Get, "/api/audit?action=agent_spawn", Value::Null).await;
    assert_eq!(spawns["total"], 0);

    // Nothing left to remove: a second run is a no-op, and a restart keeps it all consistent.
    assert!(prune_audit_before(&app.store, &app.search, cutoff).await.expect("prune").is_empty());
    stop(r);
    let r = start(dir.path());
    let tx = r.app.store.read().expect("read");
    for org in ["default", "org-old-co"] {
        let v = audit::verify(&tx, org).expect("verify");
        assert_eq!(v.broken, None, "{org}");
    }
    let (_, hits) = call(&r.app, Method::Get, "/api/audit?q=*", Value::Null).await;
    assert_eq!(hits["total"], 4, "the index was kept, not rebuilt into something else: {hits}");
    stop(r);
}
