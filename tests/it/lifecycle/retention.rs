//! Retention for everything that grows (docs/API.md §2.15): one `audit-cleanup` run removes each
//! kind of record past its age and keeps the younger ones, audits what it removed, leaves the
//! audit chain verifiable, and keeps receipts for the dedupe window, so a redelivery inside it
//! is still refused.

use redb::{ReadableDatabase, ReadableTable};
use serde_json::{Value, json};

use crate::common::{Server, fixture, get_row, put_row, sign, stamped};

const SECRET: &str = "retention-secret";
const DAY: i64 = 86_400_000;

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.expect("clock").as_millis()).expect("ms")
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The stopped server's store, opened by the test.
fn db(s: &Server) -> redb::Database {
    redb::Database::create(s.data_dir().join("spar.redb")).expect("open store")
}

/// Rewrites every JSON row of an `(org, $key)` table that `pick` chooses, with `edit`; how
/// many it rewrote.
macro_rules! edit_rows {
    ($s:expr, $table:expr, $key:ty, $pick:expr, $edit:expr) => {{
        let db = db($s);
        let txn = db.begin_write().expect("write");
        let mut edited = 0;
        {
            let def = redb::TableDefinition::<(&str, $key), &[u8]>::new($table);
            let mut t = txn.open_table(def).expect("table");
            let rows: Vec<(String, Value)> = t
                .iter()
                .expect("iter")
                .map(|r| {
                    let (k, v) = r.expect("row");
                    (k.value().0.to_owned(), serde_json::from_slice(v.value()).expect("json"))
                })
                .collect();
            let keys: Vec<_> =
                t.iter().expect("iter").map(|r| r.expect("row").0.value().1.to_owned()).collect();
            for ((org, mut value), id) in rows.into_iter().zip(keys) {
                if ($pick)(&value) {
                    ($edit)(&mut value);
                    let bytes = serde_json::to_vec(&value).expect("json");
                    t.insert((org.as_str(), id.borrow_key()), bytes.as_slice()).expect("insert");
                    edited += 1;
                }
            }
        }
        txn.commit().expect("commit");
        edited
    }};
}

/// How a key owned by the test is lent back to redb.
trait BorrowKey {
    type Key<'a>
    where
        Self: 'a;
    fn borrow_key(&self) -> Self::Key<'_>;
}

impl BorrowKey for String {
    type Key<'a> = &'a str;
    fn borrow_key(&self) -> &str {
        self
    }
}

impl BorrowKey for u64 {
    type Key<'a> = u64;
    fn borrow_key(&self) -> u64 {
        *self
    }
}

fn count_rows(s: &Server, table: &str) -> usize {
    let db = db(s);
    let txn = db.begin_read().expect("read");
    let def = redb::TableDefinition::<(&str, u64), &[u8]>::new(table);
    let t = txn.open_table(def).expect("table");
    t.iter().expect("iter").count()
}

/// Sets every receipt of the deliveries named in `deliveries` (their id and their body digest)
/// to `at_ms`.
fn age_receipts(s: &Server, keys: &[String], at_ms: i64) {
    let db = db(s);
    let txn = db.begin_write().expect("write");
    {
        let def = redb::TableDefinition::<(&str, &str), u64>::new("webhook_receipts");
        let mut t = txn.open_table(def).expect("table");
        for key in keys {
            assert!(t.get(("default", key.as_str())).expect("get").is_some(), "{key}");
            t.insert(("default", key.as_str()), u64::try_from(at_ms).expect("ms")).expect("insert");
        }
    }
    txn.commit().expect("commit");
}

fn push(s: &Server, delivery: &str) -> (Vec<u8>, crate::common::Resp) {
    let body = stamped(&fixture("github/push.json"), delivery);
    let signature = format!("sha256={}", sign(SECRET, &body));
    let r = s.github_delivery("/webhooks/github", "push", Some(delivery), Some(&signature), &body);
    (body, r)
}

fn digest_key(body: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(body);
    format!("github-body:{}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn sentry_issue(s: &Server, file: &str, issue: &str) {
    let text = String::from_utf8(fixture(&format!("sentry/{file}"))).expect("utf8");
    let body = text.replace("4209801234", issue).into_bytes();
    let headers = [("Content-Type", "application/json"), ("Sentry-Hook-Resource", "issue")];
    let r = s.raw_request("POST", "/webhooks/sentry", &headers, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn one_cleanup_removes_every_kind_past_its_age_and_keeps_the_rest() {
    let mut s = Server::with(
        &["--rate-limit-api", "0", "--rate-limit-webhooks", "0"],
        &[("GITHUB_WEBHOOK_SECRET", SECRET)],
    );
    // Deliveries to a channel that is not configured end `dead` at once.
    let route = json!({ "eventType": "ci.*", "channel": "telegram", "channelId": "42" });
    let r = s.call("POST", "/api/channel-routes", &[("x-org-id", "default")], Some(&route));
    assert_eq!(r.status, 201);
    let (old_body, r) = push(&s, "d-old");
    assert_eq!(r.status, 200);
    let (new_body, r) = push(&s, "d-new");
    assert_eq!(r.status, 200);
    for name in ["worker-old", "worker-new"] {
        let r = s.post("/api/agents", &json!({ "name": name, "type": "task" }));
        assert_eq!(r.status, 201);
    }
    for issue in ["111", "222"] {
        sentry_issue(&s, "issue.created.json", issue);
        sentry_issue(&s, "issue.resolved.json", issue);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    s.terminate();

    // Age one of each kind past its default (and the audit trail's 365 days not at all).
    let (now, old) = (now_ms(), now_ms() - 400 * DAY);
    let aged = |v: &Value, field: &str| v[field].as_str().is_some_and(|t| t.contains("old"));
    let first_incident = |i: &Value| i["seq"] == 1;
    let first = |d: &Value| d["seq"] == 1;
    assert_eq!(
        edit_rows!(&s, "agents", &str, |a: &Value| aged(a, "name"), |a: &mut Value| {
            a["status"] = json!("TERMINATED");
            for at in ["createdAtMs", "startedAtMs", "lastActivityMs"] {
                a[at] = json!(old);
            }
        }),
        1
    );
    edit_rows!(&s, "agents", &str, |a: &Value| a["name"] == "worker-new", |a: &mut Value| {
        a["status"] = json!("TERMINATED");
    });
    assert_eq!(
        edit_rows!(&s, "incidents", u64, first_incident, |i: &mut Value| i["resolvedAtMs"] =
            json!(old)),
        1
    );
    assert_eq!(
        edit_rows!(&s, "deliveries", u64, first, |d: &mut Value| d["createdAtMs"] = json!(old)),
        1
    );
    assert_eq!(
        edit_rows!(&s, "events", u64, first, |e: &mut Value| e["occurredAt"] = json!(rfc3339(old))),
        1
    );
    for (token, status, created) in [("sg-old001", "approved", old), ("sg-new001", "pending", now)]
    {
        let approval = json!({ "token": token, "orgId": "default", "eventSeq": 1, "eventId": "evt-1",
            "agentId": "agent-x", "description": "deploy", "status": status, "createdAtMs": created,
            "expiresAtMs": created + 1_800_000, "votedBy": null, "votedAtMs": null, "spawnedAgentId": null });
        put_row(&s, "approvals", "default", token, &serde_json::to_vec(&approval).expect("json"));
    }
    age_receipts(&s, &["github:d-old".to_owned(), digest_key(&old_body)], now - 10 * DAY);
    age_receipts(&s, &["github:d-new".to_owned(), digest_key(&new_body)], now - 2 * DAY);
    let (incidents, deliveries, events) =
        (count_rows(&s, "incidents"), count_rows(&s, "deliveries"), count_rows(&s, "events"));
    assert!(incidents >= 2 && deliveries >= 2 && events >= 2, "{incidents} {deliveries} {events}");

    s.start_again();
    let run = s.post("/api/scheduler/audit-cleanup/run", &json!({}));
    assert_eq!(run.json()["success"], true, "{}", run.json());
    let pruned = s.audit_entries("retention.prune");
    let mut kinds: Vec<&str> =
        pruned.iter().filter_map(|e| e["metadata"]["kind"].as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["agents", "approvals", "deliveries", "events", "incidents", "receipts"],
        "{pruned:?}"
    );
    assert!(pruned.iter().all(|e| e["metadata"]["removed"].as_u64() >= Some(1)));
    assert_eq!(s.get("/api/audit/verify").json()["valid"], true);

    // Inside the dedupe window a redelivery is still refused; past it, it is news again.
    let (_, again) = push_same(&s, &new_body, "d-new");
    assert_eq!(again.json()["duplicate"], true, "{}", again.json());
    let (_, late) = push_same(&s, &old_body, "d-old");
    assert_eq!(late.json()["processed"], true, "{}", late.json());

    let agents = s.get("/api/agents").json();
    let names: Vec<&str> =
        agents.as_array().into_iter().flatten().filter_map(|a| a["name"].as_str()).collect();
    assert!(!names.contains(&"worker-old") && names.contains(&"worker-new"), "{names:?}");
    s.terminate();
    assert!(get_row(&s, "approvals", "default", "sg-old001").is_none());
    assert!(get_row(&s, "approvals", "default", "sg-new001").is_some());
    assert_eq!(count_rows(&s, "incidents"), incidents - 1);
    assert_eq!(count_rows(&s, "deliveries"), deliveries, "one removed, one added by the late push");
    assert_eq!(count_rows(&s, "events"), events, "one removed, one added by the late push");
}

fn push_same(s: &Server, body: &[u8], delivery: &str) -> (Vec<u8>, crate::common::Resp) {
    let signature = format!("sha256={}", sign(SECRET, body));
    let r = s.github_delivery("/webhooks/github", "push", Some(delivery), Some(&signature), body);
    (body.to_vec(), r)
}

#[test]
fn retention_settings_are_checked() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["serve", "--port", "0", "--retention", "receipts=1", "--data-dir"])
        .arg(tempfile::tempdir().expect("temp").path())
        .output()
        .expect("spar");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dedupe window"), "{err}");
}
