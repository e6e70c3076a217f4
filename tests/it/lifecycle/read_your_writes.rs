//! Searches read their writes (docs/API.md §2.4, §2.5): a `q` search made right after a write
//! was acknowledged finds it, every time.

use serde_json::json;

use crate::common::Server;

#[test]
fn a_search_right_after_a_write_finds_it_every_time() {
    let s = Server::with(&["--rate-limit-api", "0"], &[]);
    for i in 0..100 {
        let word = format!("zebra{i}quartz");
        let r = s.post("/api/memory", &json!({ "content": format!("remember the {word}") }));
        assert_eq!(r.status, 201);
        let found = s.get(&format!("/api/memory/search?q={word}")).json();
        assert_eq!(found["total"], 1, "memory write {i} not found: {found}");

        let name = format!("agent-{i}-walrus");
        let r = s.post("/api/agents", &json!({ "name": name, "type": "task" }));
        assert_eq!(r.status, 201);
        let audited = s.get(&format!("/api/audit?q={name}")).json();
        assert!(audited["total"].as_u64() >= Some(1), "audited change {i} not found: {audited}");
    }
}
