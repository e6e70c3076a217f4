//! `spar backup` and `spar restore` (docs/API.md §7.3): a snapshot taken while the server runs under
//! webhook load restores into a new data dir that starts, verifies, and holds every write
//! acknowledged before the backup began; a stopped store backs up too; bad targets are refused.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::json;

use crate::common::{Server, WebhookLoad, assert_stored_once, fixture};

const SECRET: &str = "backup-secret";

fn spar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spar")).args(args).output().expect("run spar")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `spar backup --data-dir <dir> --out <file>`.
fn backup(dir: &Path, file: &Path) -> Output {
    spar(&[
        "backup",
        "--data-dir",
        &dir.display().to_string(),
        "--out",
        &file.display().to_string(),
    ])
}

/// `spar restore <file> --data-dir <dir>`.
fn restore(file: &Path, dir: &Path) -> Output {
    spar(&["restore", &file.display().to_string(), "--data-dir", &dir.display().to_string()])
}

/// `spar restore <file> --data-dir <dir> --key-file <key>`.
fn restore_with_key(file: &Path, dir: &Path, key: &Path) -> Output {
    spar(&[
        "restore",
        &file.display().to_string(),
        "--data-dir",
        &dir.display().to_string(),
        "--key-file",
        &key.display().to_string(),
    ])
}

fn slack_configured(s: &Server) -> bool {
    let all = s.get("/api/channels").json();
    let channels = all["channels"].as_array().cloned().unwrap_or_default();
    channels.iter().any(|c| c["name"] == "slack" && c["configured"] == true)
}

fn verify_offline(dir: &Path) {
    let out = spar(&["verify-audit", "--data-dir", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "verify-audit: {}", text(&out));
}

#[test]
fn a_backup_under_write_load_restores_everything_acknowledged_before_it() {
    let env = [("GITHUB_WEBHOOK_SECRET", SECRET)];
    let s = Server::with(&["--rate-limit-webhooks", "0", "--rate-limit-api", "0"], &env);
    assert_eq!(
        s.post("/api/agents", &json!({ "name": "kept-agent", "type": "deploy" })).status,
        201
    );
    let slack = json!({ "channel": "slack", "config": { "botToken": "xoxb-kept-in-the-backup" } });
    assert_eq!(s.post("/api/channels/configure", &slack).status, 200);
    let load = WebhookLoad::start(s.addr, SECRET, Arc::new(fixture("github/push.json")), 4, "b-");
    load.wait_for_acknowledged(40);
    let before_backup = load.acknowledged_so_far();

    let work = tempfile::tempdir().expect("temp");
    let file = work.path().join("spar.backup");
    let out = backup(s.data_dir(), &file);
    assert_eq!(out.status.code(), Some(0), "backup: {}", text(&out));
    assert!(text(&out).contains("backed up"), "{}", text(&out));
    assert!(text(&out).contains("secret.key"), "the key is named: {}", text(&out));
    let (acked, _) = load.finish();
    assert!(acked.len() >= before_backup.len());

    // Taking it again onto the same file is refused; the first stays whole.
    let again = backup(s.data_dir(), &file);
    assert_ne!(again.status.code(), Some(0));
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    let restored = tempfile::tempdir().expect("temp");
    let target = restored.path().join("data");
    let key = s.data_dir().join("secret.key");
    let out = restore_with_key(&file, &target, &key);
    assert_eq!(out.status.code(), Some(0), "restore: {}", text(&out));
    verify_offline(&target);
    // Restoring over a store is refused.
    let out = restore(&file, &target);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("already holds a store"), "{}", text(&out));

    let dir = tempfile::TempDir::new_in(restored.path()).expect("temp");
    std::fs::remove_dir(dir.path()).expect("empty");
    std::fs::rename(&target, dir.path()).expect("move");
    let r = Server::on_dir(dir, &["--rate-limit-api", "0"], &env);
    assert_stored_once(&r, &before_backup, "restored backup");
    assert!(slack_configured(&r), "the sealed credential opens with the restored key");
    assert_eq!(r.get("/api/audit/verify").json()["valid"], true);
    let agents = r.get("/api/agents").json();
    assert!(agents.as_array().expect("agents").iter().any(|a| a["name"] == "kept-agent"));
    // The search index was rebuilt from the restored store.
    let found = r.get("/api/audit?q=kept-agent").json();
    assert!(found["total"].as_u64().unwrap_or(0) >= 1, "{found}");
}

#[test]
fn a_stopped_store_backs_up_and_junk_is_not_restored() {
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    assert_eq!(
        s.post("/api/agents", &json!({ "name": "offline-agent", "type": "deploy" })).status,
        201
    );
    s.terminate();
    let work = tempfile::tempdir().expect("temp");
    let file = work.path().join("offline.backup");
    let out = backup(s.data_dir(), &file);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let target = work.path().join("restored");
    let out = restore(&file, &target);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    verify_offline(&target);

    let junk = work.path().join("junk.backup");
    std::fs::write(&junk, b"not a database").expect("write");
    let out = restore(&junk, &work.path().join("x"));
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("not a spar backup"), "{}", text(&out));
    assert!(!work.path().join("x").join("spar.redb").exists());
}
