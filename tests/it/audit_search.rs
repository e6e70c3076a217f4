//! docs/API.md §2.4: audit filters, full-text `q`, org isolation in search, and the index's recovery.

use std::time::{Duration, Instant};

use crate::common::Server;
use serde_json::{Value, json};

fn seqs(r: &Value) -> Vec<u64> {
    r["entries"].as_array().expect("entries").iter().filter_map(|e| e["seq"].as_u64()).collect()
}

/// Waits until the index holds every entry (q=* counts the index alone).
fn wait_indexed(s: &Server, headers: &[(&str, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = s.call("GET", "/api/audit?limit=1", headers, None).json()["total"].clone();
        let indexed =
            s.call("GET", "/api/audit?limit=1&q=*", headers, None).json()["total"].clone();
        if all == indexed {
            return;
        }
        assert!(Instant::now() < deadline, "index never caught up: {indexed} of {all}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn history(s: &Server) -> (String, String) {
    assert_eq!(s.post("/api/orgs", &json!({"name": "Filter Org"})).status, 201);
    let a = s
        .call(
            "POST",
            "/api/agents",
            &[("X-Actor", "slack:U1")],
            Some(&json!({"name": "alpha-one", "type": "task"})),
        )
        .json();
    let a = a["id"].as_str().expect("id").to_owned();
    let b = s.post("/api/agents", &json!({"name": "beta-two", "type": "review"})).json();
    let b = b["id"].as_str().expect("id").to_owned();
    assert_eq!(
        s.post(&format!("/api/agents/{a}/action"), &json!({"action": "suspend"})).status,
        200
    );
    assert_eq!(
        s.post(&format!("/api/agents/{b}/action"), &json!({"action": "set_autonomy", "level": 4}))
            .status,
        200
    );
    assert_eq!(
        s.call("DELETE", &format!("/api/agents/{b}"), &[("X-Actor", "slack:U1")], None).status,
        200
    );
    (a, b)
}

#[test]
fn every_filter_gives_the_same_answer_before_and_after_indexing() {
    let s = Server::start();
    let (a, b) = history(&s);
    let all = s.get("/api/audit").json();
    assert_eq!(seqs(&all), [6, 5, 4, 3, 2, 1]);
    let ts =
        |seq: u64| all["entries"][6 - seq as usize]["timestamp"].as_str().expect("ts").to_owned();
    let cases: Vec<(String, Vec<u64>)> = vec![
        ("risk=medium".into(), vec![6, 5]),
        ("risk=low".into(), vec![4, 3, 2, 1]),
        ("risk=all".into(), vec![6, 5, 4, 3, 2, 1]),
        ("actorType=user".into(), vec![6, 5, 4, 3, 2, 1]),
        ("actorType=system".into(), vec![]),
        ("actorId=slack:U1".into(), vec![6, 2]),
        ("action=agent.suspend".into(), vec![4]),
        ("action=agent.*".into(), vec![4]),
        ("action=agent*".into(), vec![6, 4, 3, 2]),
        ("action=org.create".into(), vec![1]),
        ("result=completed".into(), vec![6, 5, 4, 3, 2, 1]),
        ("result=failed".into(), vec![]),
        (format!("agentId={a}"), vec![4, 2]),
        (format!("agentId={b}"), vec![6, 5, 3]),
        (format!("since={}", ts(4)), vec![6, 5, 4]),
        (format!("until={}", ts(2)), vec![2, 1]),
        (format!("since={}&until={}", ts(3), ts(5)), vec![5, 4, 3]),
        (format!("agentId={b}&risk=medium"), vec![6, 5]),
        ("project=proj-none".into(), vec![]),
    ];
    let run = |cases: &[(String, Vec<u64>)]| {
        for (query, expected) in cases {
            let r = s.get(&format!("/api/audit?{}", query.replace(':', "%3A").replace('+', "%2B")));
            assert_eq!(r.status, 200, "{query}: {}", r.json());
            let r = r.json();
            assert_eq!(&seqs(&r), expected, "{query}");
            assert_eq!(r["total"].as_u64(), Some(expected.len() as u64), "{query}");
        }
    };
    run(&cases);
    wait_indexed(&s, &[]);
    run(&cases);
    // Paging a filtered listing, by page and by keyset.
    let p1 = s.get("/api/audit?action=agent*&limit=3").json();
    assert_eq!(
        (seqs(&p1), p1["totalPages"].as_u64(), p1["nextBefore"].as_u64()),
        (vec![6, 4, 3], Some(2), Some(3))
    );
    assert_eq!(seqs(&s.get("/api/audit?action=agent*&limit=3&page=2").json()), [2]);
    let k = s.get("/api/audit?action=agent*&limit=3&before=3").json();
    assert_eq!((seqs(&k), k["hasMore"].as_bool()), (vec![2], Some(false)));
}

#[test]
fn parameter_errors_are_400() {
    let s = Server::start();
    for query in [
        "risk=extreme",
        "actorType=robot",
        "result=maybe",
        "since=yesterday",
        "until=2026-13-01",
        "q=a%20AND%20(",
        "limit=x",
        "before=-",
    ] {
        s.get(&format!("/api/audit?{query}")).expect_error(400, "INVALID_PARAMETER");
    }
}

#[test]
fn q_finds_an_entry_within_a_second_and_never_across_orgs() {
    let s = Server::start();
    for name in ["Aardvark Shared", "Zebra Shared"] {
        assert_eq!(s.post("/api/orgs", &json!({ "name": name })).status, 201);
    }
    let written = Instant::now();
    let r = s.call(
        "POST",
        "/api/agents",
        &[("x-org-id", "org-aardvark-shared")],
        Some(&json!({"name": "pangolin-agent", "type": "task"})),
    );
    assert_eq!(r.status, 201);
    loop {
        let hits = s.get("/api/audit?q=pangolin").json();
        if hits["total"] == 1 {
            assert_eq!(hits["entries"][0]["action"], "agent_spawn");
            break;
        }
        assert!(written.elapsed() < Duration::from_secs(1), "not searchable after 1 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_indexed(&s, &[]);
    // "shared" is in both orgs' entries; each org sees only its own.
    assert_eq!(s.get("/api/audit?q=shared").json()["total"], 2);
    for (org, other) in
        [("org-aardvark-shared", "org-zebra-shared"), ("org-zebra-shared", "org-aardvark-shared")]
    {
        let h = [("x-org-id", org)];
        let hits = s.call("GET", "/api/audit?q=shared", &h, None).json();
        assert_eq!(hits["total"], 1, "{org}: {hits}");
        assert_eq!(hits["entries"][0]["orgId"], org);
        // Naming the other org in the query does not get past the org filter.
        let sneaky = s.call("GET", &format!("/api/audit?q=org:{other}"), &h, None).json();
        assert_eq!(sneaky["total"], 0, "{org}: {sneaky}");
        let filtered = s.call("GET", "/api/audit?actorType=user", &h, None).json();
        assert!(filtered["entries"].as_array().expect("entries").iter().all(|e| e["orgId"] == org));
    }
    let pangolin =
        s.call("GET", "/api/audit?q=pangolin", &[("x-org-id", "org-zebra-shared")], None).json();
    assert_eq!(pangolin["total"], 0);
}

#[test]
fn a_deleted_index_is_rebuilt_on_start() {
    let mut s = Server::start();
    history(&s);
    wait_indexed(&s, &[]);
    s.terminate();
    std::fs::remove_dir_all(s.data_dir().join("index")).expect("remove index");
    s.start_again();
    wait_indexed(&s, &[]);
    assert_eq!(s.get("/api/audit?q=*").json()["total"], 6);
    assert_eq!(seqs(&s.get("/api/audit?q=beta").json()), [3]);
    assert!(s.log().contains("creating search index"), "{}", s.log());
}

#[test]
fn a_corrupt_index_is_rebuilt_with_a_log_line() {
    let mut s = Server::start();
    history(&s);
    wait_indexed(&s, &[]);
    s.terminate();
    std::fs::write(s.data_dir().join("index").join("audit").join("meta.json"), b"{garbage")
        .expect("corrupt");
    s.start_again();
    wait_indexed(&s, &[]);
    assert_eq!(s.get("/api/audit?q=*").json()["total"], 6);
    assert!(s.log().contains("unreadable; rebuilding"), "{}", s.log());
}

#[test]
fn after_sigkill_while_indexing_the_index_holds_exactly_the_store() {
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    let addr = s.addr;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            std::thread::spawn(move || {
                for n in 0..60 {
                    let body = format!(r#"{{"name":"k{w}-n{n}","type":"task"}}"#);
                    let req = format!(
                        "POST /api/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    use std::io::{Read, Write};
                    let Ok(mut c) = std::net::TcpStream::connect(addr) else { return };
                    let _ = c.write_all(req.as_bytes());
                    let _ = c.read_to_end(&mut Vec::new());
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    s.kill9();
    for w in writers {
        let _ = w.join();
    }
    s.start_again();
    wait_indexed(&s, &[]);
    let total = s.get("/api/audit?limit=1").json()["total"].as_u64().expect("total");
    assert!(total > 0);
    // Stays exact (no duplicates appear later) and every entry is findable.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.get("/api/audit?limit=1&q=*").json()["total"].as_u64(), Some(total));
    assert_eq!(s.get("/api/audit?limit=1&q=agent_spawn").json()["total"].as_u64(), Some(total));
}

#[test]
fn reindex_rebuilds_the_index_from_the_store() {
    let run = |s: &Server| {
        std::process::Command::new(env!("CARGO_BIN_EXE_spar"))
            .arg("reindex")
            .arg("--data-dir")
            .arg(s.data_dir())
            .output()
            .expect("run spar reindex")
    };
    let mut s = Server::start();
    history(&s);
    let busy = run(&s);
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stop the server first"));

    s.terminate();
    std::fs::remove_dir_all(s.data_dir().join("index")).expect("remove index");
    let out = run(&s);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("reindexed 6 audit entries and 0 memory entries")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit: 100% (6 of 6)"));
    s.start_again();
    assert_eq!(s.get("/api/audit?q=*").json()["total"], 6);
    // Only the first start created indexes (audit and memory); the reindexed ones were used.
    assert_eq!(s.log().matches("creating search index").count(), 2);
    assert!(!s.log().contains("rebuilding"), "{}", s.log());
}

#[test]
fn absurdly_deep_search_pages_are_400_not_a_crash() {
    let s = Server::start();
    history(&s);
    wait_indexed(&s, &[]);
    let huge = "1000000000000000";
    for url in [
        format!("/api/audit?q=*&page={huge}"),
        format!("/api/audit?risk=low&page={huge}"),
        format!("/api/audit?q=*&limit=100&page={}", 100_000 / 100 + 1),
        format!("/api/memory/search?q=x&page={huge}"),
    ] {
        let body = s.get(&url).expect_error(400, "INVALID_PARAMETER");
        assert!(body["error"].as_str().is_some_and(|m| m.contains("page")), "{url}: {body}");
    }
    // The deepest page inside the window still answers, and the server is fine.
    let deepest = s.get(&format!("/api/audit?q=*&limit=100&page={}", 100_000 / 100)).json();
    assert_eq!(deepest["entries"], json!([]));
    assert_eq!(deepest["total"], 6);
    // Unfiltered listings have the same bound (a page costs its offset): deeper, `before=`.
    let deep = s.get(&format!("/api/audit?page={huge}")).expect_error(400, "INVALID_PARAMETER");
    assert!(deep["error"].as_str().is_some_and(|m| m.contains("before=")), "{deep}");
    assert_eq!(s.get("/api/audit?before=2").json()["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(s.get("/health").status, 200);
}
