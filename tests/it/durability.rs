//! Nothing acknowledged is lost: restarts, SIGKILL under concurrent writes, schema checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::Server;
use serde_json::json;

#[test]
fn restart_keeps_agents_orgs_states_levels_and_audit() {
    let mut s = Server::start();
    assert_eq!(s.post("/api/orgs", &json!({"name": "Keep Co"})).status, 201);
    let a = s
        .post("/api/agents", &json!({"name": "keeper", "type": "task", "autonomyLevel": 2}))
        .json();
    let id = a["id"].as_str().expect("id").to_owned();
    let b = s
        .call(
            "POST",
            "/api/agents",
            &[("x-org-id", "org-keep-co")],
            Some(&json!({"name": "kept", "type": "coordinator"})),
        )
        .json();
    let b_id = b["id"].as_str().expect("id").to_owned();
    assert_eq!(
        s.post(&format!("/api/agents/{id}/action"), &json!({"action": "suspend"})).status,
        200
    );
    assert_eq!(
        s.post(
            &format!("/api/agents/{b_id}/action"),
            &json!({"action": "set_autonomy", "params": {"level": 5}})
        )
        .status,
        200
    );
    let audit_before = s.get("/api/audit?limit=100").json();

    s.restart();
    let got = s.get(&format!("/api/agents/{id}")).json();
    assert_eq!(
        (got["status"].as_str(), got["autonomyLevel"].as_u64()),
        (Some("SUSPENDED"), Some(2))
    );
    assert_eq!(got["uptime"], 0);
    let got = s.get(&format!("/api/agents/{b_id}")).json();
    assert_eq!(
        (got["status"].as_str(), got["autonomyLevel"].as_u64(), got["orgId"].as_str()),
        (Some("ACTIVE"), Some(5), Some("org-keep-co"))
    );
    assert_eq!(s.get("/api/orgs/org-keep-co").status, 200);
    assert_eq!(s.get("/api/audit?limit=100").json(), audit_before);
    // The chain goes on where it stopped: the next seq follows the last one.
    let last_seq = audit_before["entries"][0]["seq"].as_u64().expect("seq");
    assert_eq!(
        s.post(&format!("/api/agents/{id}/action"), &json!({"action": "resume"})).status,
        200
    );
    assert_eq!(s.get("/api/audit?limit=1").json()["entries"][0]["seq"], last_seq + 1);
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let mut s = Server::start();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = s.addr;
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (acknowledged, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = format!(r#"{{"name":"w{w}-n{n}","type":"task"}}"#);
                    if let Some(id) = post_agent(addr, &body) {
                        acknowledged.lock().expect("lock").push(id);
                    }
                }
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().expect("lock").len() < 100 {
        assert!(std::time::Instant::now() < deadline, "fewer than 100 writes acknowledged in 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() > 50, "only {} writes were acknowledged", acknowledged.len());
    eprintln!("{} writes acknowledged before SIGKILL", acknowledged.len());

    s.start_again();
    let stored = s.get("/api/agents").json();
    let stored: std::collections::HashSet<&str> =
        stored.as_array().expect("array").iter().filter_map(|a| a["id"].as_str()).collect();
    let missing: Vec<&String> =
        acknowledged.iter().filter(|id| !stored.contains(id.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged agents lost: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    // Every stored agent has its audit entry (same transaction).
    let audit = s.get("/api/audit").json();
    assert_eq!(audit["total"].as_u64(), Some(stored.len() as u64));
}

/// One create over its own connection; the id if the server answered 201.
fn post_agent(addr: std::net::SocketAddr, body: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!(
        "POST /api/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    if !text.starts_with("HTTP/1.1 201") {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(text.split("\r\n\r\n").nth(1)?).ok()?;
    json["id"].as_str().map(str::to_owned)
}

#[test]
fn a_data_dir_from_a_newer_schema_is_refused() {
    let mut s = Server::start();
    s.terminate();
    {
        let db = redb::Database::create(s.data_dir().join("spar.redb")).expect("open store");
        let txn = db.begin_write().expect("write");
        {
            let mut meta =
                txn.open_table(redb::TableDefinition::<&str, u64>::new("meta")).expect("meta");
            meta.insert("schema_version", 99).expect("insert");
        }
        txn.commit().expect("commit");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["serve", "--port", "0", "--host", "127.0.0.1", "--data-dir"])
        .arg(s.data_dir())
        .output()
        .expect("run spar");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("newer spar (schema version 99)"), "{stderr}");
}

#[test]
fn audit_pages_and_clamps() {
    let s = Server::with(&["--rate-limit-api", "0"], &[]);
    for i in 0..25 {
        assert_eq!(
            s.post("/api/agents", &json!({"name": format!("page-agent-{i}"), "type": "task"}))
                .status,
            201
        );
    }
    let first = s.get("/api/audit").json();
    assert_eq!(
        (first["total"].as_u64(), first["page"].as_u64(), first["pageSize"].as_u64()),
        (Some(25), Some(1), Some(20))
    );
    assert_eq!((first["totalPages"].as_u64(), first["hasMore"].as_bool()), (Some(2), Some(true)));
    let seqs: Vec<u64> = first["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(seqs, (6..=25).rev().collect::<Vec<_>>());
    let second = s.get("/api/audit?page=2").json();
    assert_eq!(second["entries"].as_array().map(Vec::len), Some(5));
    assert_eq!(second["hasMore"], false);
    assert_eq!(second["entries"][4]["id"], "aud-1");
    assert_eq!(s.get("/api/audit?limit=500").json()["pageSize"], 100);
    assert_eq!(s.get("/api/audit?limit=0").json()["pageSize"], 1);
    assert_eq!(s.get("/api/audit?page=-3").json()["page"], 1);
    assert_eq!(s.get("/api/audit?page=99").json()["entries"], json!([]));
    s.get("/api/audit?limit=ten").expect_error(400, "INVALID_PARAMETER");
    s.get("/api/audit?page=1.5").expect_error(400, "INVALID_PARAMETER");
}
