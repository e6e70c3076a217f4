//! `spar replay` (docs/API.md §3.4) against a running server: every fixture is posted with the right
//! headers and a valid signature, and processed.

use std::path::Path;
use std::process::Command;

use crate::common::{Server, replay_answers};
use serde_json::json;

const SECRET: &str = "replay-secret";

fn replay(s: &Server, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .arg("replay")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/github"))
        .args(["--url", &format!("http://{}", s.addr)])
        .args(args)
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .output()
        .expect("run spar replay");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn replay_posts_every_github_fixture_signed_and_each_is_processed() {
    let s = Server::with(&[], &[("GITHUB_WEBHOOK_SECRET", SECRET)]);
    assert_eq!(s.post("/api/projects", &json!({"repo": "acme/api-gateway"})).status, 201);
    let fixtures = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/github"))
        .expect("fixtures")
        .count();
    assert!(fixtures >= 7, "ping, push, two pull requests, two workflow runs, a check run");

    let (code, stdout) = replay(&s, &["--secret", SECRET]);
    assert_eq!(code, Some(0), "{stdout}");
    let lines = replay_answers(&stdout);
    assert_eq!(lines.len(), fixtures, "{stdout}");
    for (file, status, answer) in &lines {
        assert_eq!(*status, 200, "{file}: {answer}");
        assert_eq!(answer["processed"], true, "{file}: {answer}");
    }
    assert!(stdout.contains(&format!("{fixtures} sent, 0 failed")), "{stdout}");
    let ci = s.get("/api/audit?action=ci_event").json();
    assert_eq!(ci["total"], fixtures - 1, "every fixture but the ping is a CI event");
    assert_eq!(s.get("/api/audit?action=webhook.ping").json()["total"], 1);
    let on_project = ci["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .all(|e| e["metadata"]["projectId"] == "proj-001");
    assert!(on_project);

    // Replays are new deliveries (fresh delivery ids), not duplicates.
    let (code, stdout) = replay(&s, &["--secret", SECRET]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(s.get("/api/audit?action=ci_event").json()["total"], 2 * (fixtures - 1));

    // A wrong secret: every delivery refused, and the exit code says so.
    let (code, stdout) = replay(&s, &["--secret", "wrong"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        replay_answers(&stdout)
            .iter()
            .all(|(_, status, a)| *status == 401 && a["code"] == "INVALID_SIGNATURE"),
        "{stdout}"
    );
}
