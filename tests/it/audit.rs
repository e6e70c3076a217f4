//! The audit trail (docs/API.md §2.4): the hash chain (recomputed here independently), verification by API and CLI,
//! and paging by page and by keyset.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::common::{Server, audit_row, set_audit_row, verify_audit_cli};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The canonical JSON of docs/API.md §2.4, written here from its words alone.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<&str, &Value> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let parts: Vec<String> =
                sorted.iter().map(|(k, v)| format!("{}:{}", quote(k), canonical(v))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(","))
        }
        Value::String(s) => quote(s),
        other => other.to_string(),
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn sha256_hex(input: &str) -> String {
    Sha256::digest(input.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every entry visible to the API, oldest first.
fn all_entries(s: &Server) -> Vec<Value> {
    let mut entries =
        s.get("/api/audit?limit=100").json()["entries"].as_array().cloned().unwrap_or_default();
    entries.reverse();
    entries
}

fn busy_history(s: &Server) {
    for name in ["Ünïcødé \"Quoted\" \\ Corp", "Tab\tand\u{1}control\nCo", "日本語 Org"] {
        assert_eq!(s.post("/api/orgs", &json!({ "name": name })).status, 201, "{name}");
    }
    let a = s
        .post("/api/agents", &json!({"name": "chain-agent", "type": "deploy", "autonomyLevel": 2}))
        .json();
    let id = a["id"].as_str().expect("id");
    for body in [
        json!({"action": "set_autonomy", "params": {"level": 5}}),
        json!({"action": "suspend"}),
        json!({"action": "resume"}),
    ] {
        assert_eq!(s.post(&format!("/api/agents/{id}/action"), &body).status, 200);
    }
    let org = "org-org";
    let b = s.call(
        "POST",
        "/api/agents",
        &[("x-org-id", org), ("X-Actor", "whatsapp:5511999990000")],
        Some(&json!({"name": "other-org-agent", "type": "task"})),
    );
    assert_eq!(b.status, 201, "{}", b.json());
    // Nested objects, arrays, unicode, floats and negative numbers in the metadata.
    let nested = json!({"z": {"b": [1, 2.5, -3, {"y": "ü\u{0007}", "a": null}], "a": true}, "emoji": "🚀", "n": 1e21});
    let m = s.post(
        "/api/memory",
        &json!({"content": "deploy notes", "category": "pattern", "metadata": nested}),
    );
    assert_eq!(m.status, 201, "{}", m.json());
}

#[test]
fn the_chain_matches_the_contract_formula_recomputed_independently() {
    let s = Server::start();
    busy_history(&s);
    let entries = all_entries(&s);
    assert_eq!(entries.len(), 9);
    let mut prev_by_org: BTreeMap<String, String> = BTreeMap::new();
    let mut last_seq = 0;
    for e in &entries {
        let seq = e["seq"].as_u64().expect("seq");
        assert!(seq > last_seq, "seq increases");
        last_seq = seq;
        assert_eq!(e["id"], format!("aud-{seq}"));
        let org = e["orgId"].as_str().expect("orgId").to_owned();
        let prev = prev_by_org.get(&org).cloned().unwrap_or_else(|| "0".repeat(64));
        let input = format!(
            "{prev}{}{}{}{}{}{}",
            e["timestamp"].as_str().expect("timestamp"),
            e["actorType"].as_str().expect("actorType"),
            e["actorId"].as_str().expect("actorId"),
            e["action"].as_str().expect("action"),
            e["result"].as_str().expect("result"),
            canonical(&e["metadata"]),
        );
        let expected = format!("sha256:{}", sha256_hex(&input));
        assert_eq!(e["hash"], expected.as_str(), "entry {}", e["id"]);
        prev_by_org.insert(org, expected.trim_start_matches("sha256:").to_owned());
    }
    // The control characters really went through the \u00xx path.
    assert!(entries.iter().any(|e| canonical(&e["metadata"]).contains("\\u0001")));
    let memory = &entries[8]["metadata"]["metadata"];
    assert_eq!(
        canonical(memory),
        r#"{"emoji":"🚀","n":1e+21,"z":{"a":true,"b":[1,2.5,-3,{"a":null,"y":"ü\u0007"}]}}"#
    );
    assert!(entries.iter().any(|e| e["actorId"] == "whatsapp:5511999990000"));

    let v = s.get("/api/audit/verify").json();
    assert_eq!((v["valid"].as_bool(), v["entries"].as_u64()), (Some(true), Some(9)));
    assert_eq!(v["lastHash"], entries[8]["hash"]);
    assert_eq!(v["orgs"].as_array().map(Vec::len), Some(4));
    let one = s.call("GET", "/api/audit/verify", &[("x-org-id", "org-org")], None).json();
    assert_eq!(one, json!({"valid": true, "entries": 2, "lastHash": entries[7]["hash"]}));
}

#[test]
fn a_tampered_entry_is_named_by_the_api_and_the_cli() {
    let mut s = Server::start();
    busy_history(&s);
    s.terminate();
    let (code, out) = verify_audit_cli(&s);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("audit chains valid: 9 entries in 4 orgs"), "{out}");

    // Change what aud-5 says, keeping its hash: the recomputation must catch it.
    let mut entry = audit_row(&s, "default", 5).expect("aud-5 in default");
    entry["metadata"]["currentLevel"] = json!(1);
    set_audit_row(&s, "default", 5, Some(&entry));
    let (code, out) = verify_audit_cli(&s);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("first broken entry aud-5 (org default)"), "{out}");

    s.start_again();
    let v = s.get("/api/audit/verify").json();
    assert_eq!((v["valid"].as_bool(), v["brokenAt"].as_str()), (Some(false), Some("aud-5")));
    assert!(v["reason"].as_str().is_some_and(|r| r.contains("hash does not match")), "{v}");
    let org = s.call("GET", "/api/audit/verify", &[("x-org-id", "default")], None).json();
    assert_eq!((org["brokenAt"].as_str(), org["entries"].as_u64()), (Some("aud-5"), Some(1)));
    // Another org's chain is untouched.
    let other = s.call("GET", "/api/audit/verify", &[("x-org-id", "org-org")], None).json();
    assert_eq!(other["valid"], true);
}

#[test]
fn a_removed_newest_entry_is_caught_by_the_chain_head() {
    let mut s = Server::start();
    busy_history(&s);
    s.terminate();
    set_audit_row(&s, "default", 9, None);
    let (code, out) = verify_audit_cli(&s);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("BROKEN at aud-7"), "{out}");
    assert!(out.contains("ends here"), "{out}");
}

#[test]
fn paging_by_page_and_by_before_give_the_same_sequence() {
    let s = Server::with(&["--rate-limit-api", "0"], &[]);
    assert_eq!(s.post("/api/orgs", &json!({"name": "Paged"})).status, 201);
    for i in 0..23 {
        let org = if i % 3 == 0 { "org-paged" } else { "default" };
        let r = s.call(
            "POST",
            "/api/agents",
            &[("x-org-id", org)],
            Some(&json!({"name": format!("pg-{i}"), "type": "task"})),
        );
        assert_eq!(r.status, 201);
    }
    for org in [None, Some("org-paged")] {
        let headers: Vec<(&str, &str)> = org.map(|o| vec![("x-org-id", o)]).unwrap_or_default();
        let mut by_page = Vec::new();
        for page in 1..=10 {
            let r =
                s.call("GET", &format!("/api/audit?limit=5&page={page}"), &headers, None).json();
            by_page
                .extend(r["entries"].as_array().expect("entries").iter().map(|e| e["seq"].clone()));
            if r["hasMore"] == false {
                break;
            }
        }
        let mut by_key = Vec::new();
        let mut url = "/api/audit?limit=5".to_owned();
        loop {
            let r = s.call("GET", &url, &headers, None).json();
            by_key
                .extend(r["entries"].as_array().expect("entries").iter().map(|e| e["seq"].clone()));
            match r["nextBefore"].as_u64() {
                Some(next) => url = format!("/api/audit?limit=5&before={next}"),
                None => break,
            }
        }
        let expected = if org.is_some() { 9 } else { 24 };
        assert_eq!(by_page.len(), expected, "{org:?}");
        assert_eq!(by_page, by_key, "{org:?}");
        let seqs: Vec<u64> = by_key.iter().filter_map(Value::as_u64).collect();
        assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
    }
    let r = s.get("/api/audit?before=3&limit=100").json();
    let seqs: Vec<u64> = r["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [2, 1]);
    assert_eq!((r["hasMore"].as_bool(), r["total"].as_u64()), (Some(false), Some(24)));
    assert_eq!(s.get("/api/audit?before=0").json()["entries"], json!([]));
    s.get("/api/audit?before=abc").expect_error(400, "INVALID_PARAMETER");
    s.get("/api/audit?before=1e3").expect_error(400, "INVALID_PARAMETER");
}
