//! Secrets at rest (docs/SECURITY.md, "At rest"): the data dir and everything in it is its
//! owner's only, no credential is in plain text in any file Spar writes (store, indexes, log,
//! backup), a store from before sealing is sealed on start, a wrong key is refused, and
//! `/metrics` names orgs and tasks only for the operator.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use super::spar_created;
use crate::common::{Server, put_row};

const SLACK_TOKEN: &str = "xoxb-CANARY-slack-0001";
const DISCORD_PATH: &str = "CANARY-discord-hook-0002";
const POTPIE_TOKEN: &str = "CANARY-potpie-access-0003";
const TASK_PATH: &str = "CANARY-task-path-0004";
const LEGACY_TOKEN: &str = "CANARY-legacy-telegram-0005";

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        }
        out.push(path);
    }
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// Every file under `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
        .collect()
}

fn configure_every_kind_of_credential(s: &Server) {
    let slack = json!({ "channel": "slack", "config": { "botToken": SLACK_TOKEN } });
    assert_eq!(s.post("/api/channels/configure", &slack).status, 200);
    let discord = json!({ "channel": "discord", "config": {
        "webhookUrl": format!("http://127.0.0.1:9/api/webhooks/1/{DISCORD_PATH}") } });
    assert_eq!(s.post("/api/channels/configure", &discord).status, 200);
    let key = spar_created(s, &["api-key", "create", "--org", "default"]);
    let potpie = json!({ "name": "Sentry", "integration_type": "sentry", "status": "active",
        "auth_data": { "access_token": POTPIE_TOKEN, "token_type": "Bearer" },
        "scope_data": { "org_slug": "acme" }, "metadata": { "instance_name": "Sentry" } });
    let r = s.call("POST", "/api/v2/integrations/save", &[("x-api-key", &key)], Some(&potpie));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let task = json!({ "name": "nightly", "intervalMs": 3_600_000,
        "action": { "type": "webhook", "url": format!("http://127.0.0.1:9/{TASK_PATH}") } });
    assert_eq!(s.post("/api/scheduler", &task).status, 201);
}

#[test]
fn no_credential_is_in_plain_text_in_any_file_and_every_file_is_private() {
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    configure_every_kind_of_credential(&s);
    // Give the indexer time to write what it derives.
    std::thread::sleep(Duration::from_millis(300));
    s.terminate();
    let dir = s.data_dir();
    assert_eq!(mode(dir), 0o700, "the data dir");
    for path in files_under(dir).iter().filter(|p| !p.ends_with("server.log")) {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(path), want, "{}", path.display());
    }
    assert!(dir.join("secret.key").is_file());
    for canary in [SLACK_TOKEN, DISCORD_PATH, POTPIE_TOKEN, TASK_PATH] {
        assert_eq!(files_holding(dir, canary), Vec::<PathBuf>::new(), "{canary}");
    }

    // A backup is private too and holds the credentials sealed.
    let work = tempfile::tempdir().expect("temp");
    let file = work.path().join("spar.backup");
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["backup", "--data-dir"])
        .arg(dir)
        .arg("--out")
        .arg(&file)
        .output()
        .expect("spar backup");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&file), 0o600);
    for canary in [SLACK_TOKEN, DISCORD_PATH, POTPIE_TOKEN, TASK_PATH] {
        assert_eq!(files_holding(work.path(), canary), Vec::<PathBuf>::new(), "{canary}");
    }

    // The credentials still work: read back (unsealed) where they are used.
    s.start_again();
    let channels = s.get("/api/channels").json();
    let slack = channels["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["name"] == "slack")
        .cloned();
    assert_eq!(slack.map(|c| c["configured"].clone()), Some(json!(true)));
}

#[test]
fn a_store_from_before_sealing_is_sealed_when_it_starts() {
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    s.terminate();
    let plain = json!({ "channel": "telegram", "config": { "botToken": LEGACY_TOKEN },
        "configuredAtMs": 0, "configuredBy": "api" });
    put_row(
        &s,
        "channel_configs",
        "default",
        "telegram",
        &serde_json::to_vec(&plain).expect("json"),
    );
    assert_eq!(files_holding(s.data_dir(), LEGACY_TOKEN).len(), 1, "planted in plain text");
    s.start_again();
    let channels = s.get("/api/channels").json();
    let telegram = channels["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["name"] == "telegram")
        .cloned();
    assert_eq!(telegram.map(|c| c["configured"].clone()), Some(json!(true)), "{channels}");
    s.terminate();
    assert_eq!(
        files_holding(s.data_dir(), LEGACY_TOKEN),
        Vec::<PathBuf>::new(),
        "sealed, old pages gone"
    );
}

/// `spar serve` on `dir` with `env`: how it exited within 20 s, and its stderr.
fn serve_exit(dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(dir)
        .env_remove("SPAR_SECRET_KEY")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err).ok();
            return (status.code(), err);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("spar serve kept running with the wrong key");
}

#[test]
fn a_store_refuses_to_start_with_another_key() {
    let mut s = Server::with(&[], &[]);
    configure_every_kind_of_credential(&s);
    s.terminate();
    let other = "ab".repeat(32);
    let (code, err) = serve_exit(s.data_dir(), &[("SPAR_SECRET_KEY", &other)]);
    assert_ne!(code, Some(0));
    assert!(err.contains("another key"), "{err}");
    // Without its key file (a stolen copy of the store alone) it does not start either, and
    // leaves no new key behind.
    let key = s.data_dir().join("secret.key");
    std::fs::rename(&key, s.data_dir().join("kept.key")).expect("move key");
    let (code, err) = serve_exit(s.data_dir(), &[]);
    assert_ne!(code, Some(0));
    assert!(err.contains("another key"), "{err}");
    assert!(!key.exists(), "the key made for the attempt was removed");
    std::fs::rename(s.data_dir().join("kept.key"), &key).expect("restore key");
    s.start_again();
    assert_eq!(s.get("/health").status, 200);
}

#[test]
fn metrics_name_orgs_and_tasks_only_for_the_operator() {
    let operator = "metrics-operator-token";
    let s = Server::with(&[], &[("ENGINE_API_TOKEN", operator)]);
    let auth = format!("Bearer {operator}");
    let org = s.call(
        "POST",
        "/api/orgs",
        &[("Authorization", &auth)],
        Some(&json!({ "name": "Secretive" })),
    );
    assert_eq!(org.status, 201);
    let task = json!({ "name": "tenant-task-name", "intervalMs": 3_600_000,
        "action": { "type": "webhook", "url": "http://127.0.0.1:9/x" } });
    let headers = [("Authorization", auth.as_str()), ("x-org-id", "org-secretive")];
    assert_eq!(s.call("POST", "/api/scheduler", &headers, Some(&task)).status, 201);

    let public = String::from_utf8_lossy(&s.get("/metrics").body).into_owned();
    assert!(public.contains("spar_scheduler_runs_total{outcome=\"ok\"}"), "{public}");
    for hidden in ["org-secretive", "tenant-task-name", "org=\""] {
        assert!(!public.contains(hidden), "{hidden} in the public scrape");
    }
    let private = s.call("GET", "/metrics", &[("Authorization", &auth)], None);
    let private = String::from_utf8_lossy(&private.body).into_owned();
    assert!(private.contains("org=\"org-secretive\",task=\"tenant-task-name\""), "{private}");

    let flagged = Server::with(&["--metrics-org-labels"], &[]);
    let shown = String::from_utf8_lossy(&flagged.get("/metrics").body).into_owned();
    assert!(shown.contains("task=\"health-check\""), "{shown}");
}
