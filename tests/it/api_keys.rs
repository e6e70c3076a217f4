//! `spar api-key` (docs/API.md §7.2) on a stopped data dir and through a running server's loopback
//! admin listener; keys checked by the Spike dialect's `GET /integrations/available`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{Resp, Server};

fn cli(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .arg("api-key")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("SPAR_DATA_DIR")
        .output()
        .expect("run spar api-key");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Creates a key; returns it (the last line of stdout).
fn create(dir: &Path, org: &str, name: &str) -> String {
    let (code, stdout, stderr) = cli(dir, &["create", "--org", org, "--name", name]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let key = stdout.lines().last().expect("a last line").to_owned();
    assert!(key.starts_with("spar_") && key.len() == 45, "{key}");
    assert!(key[5..].bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    key
}

fn available(s: &Server, key: Option<&str>, team: Option<&str>) -> Resp {
    let mut headers = Vec::new();
    if let Some(k) = key {
        headers.push(("x-api-key", k));
    }
    if let Some(t) = team {
        headers.push(("x-team-id", t));
    }
    s.call("GET", "/integrations/available", &headers, None)
}

fn spike_error(r: &Resp, status: u16, error: &str) -> Value {
    let body = r.json();
    assert_eq!(r.status, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

#[test]
fn keys_work_on_a_stopped_store_and_through_a_running_server() {
    let mut s = Server::start();
    assert_eq!(s.terminate(), Some(0));
    let dir = s.data_dir().to_owned();
    let dir = &dir;
    // Stopped: the command opens the store itself.
    let first = create(dir, "default", "ci");
    let (code, listed, _) = cli(dir, &["list"]);
    assert_eq!(code, Some(0));
    assert!(
        listed.contains("ci") && listed.contains(&first[..13]) && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&first), "list never shows a key");
    let (code, _, err) = cli(dir, &["create", "--org", "default", "--name", "ci"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("already exists"), "{err}");

    // Only a hash is stored: the key's bytes are nowhere in the store file.
    let store = std::fs::read(dir.join("spar.redb")).expect("store");
    let secret = &first.as_bytes()[5..];
    assert!(!store.windows(secret.len()).any(|w| w == secret), "plaintext key in the store");

    // Running: the same data dir, through the admin listener.
    s.start_again();
    let answer = available(&s, Some(&first), Some("default"));
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let slugs: Vec<String> = answer.json()["integrations"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["slug"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        slugs,
        ["webhook", "sentry", "github-workflows", "pagerduty", "prometheus", "grafana"]
    );
    assert!(answer.json()["integrations"][1]["name"] == "Sentry");

    assert_eq!(s.post("/api/orgs", &json!({ "name": "Acme" })).status, 201);
    let second = create(dir, "org-acme", "acme-bot");
    assert_eq!(available(&s, Some(&second), Some("org-acme")).status, 200, "usable at once");
    spike_error(&available(&s, Some(&second), Some("default")), 401, "unauthorized");
    spike_error(&available(&s, Some(&second), None), 401, "unauthorized");
    spike_error(&available(&s, None, Some("org-acme")), 401, "unauthorized");
    spike_error(
        &available(&s, Some("spar_0000000000000000000000000000000000000000"), Some("default")),
        401,
        "unauthorized",
    );
    let (code, _, err) = cli(dir, &["create", "--org", "org-nope", "--name", "x"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("Organization not found"), "{err}");

    // Revocation takes effect at once, by name or by prefix.
    let (code, out, err) = cli(dir, &["revoke", "ci"]);
    assert_eq!(code, Some(0), "{out}{err}");
    spike_error(&available(&s, Some(&first), Some("default")), 401, "unauthorized");
    let (code, _, _) = cli(dir, &["revoke", &second[..11]]);
    assert_eq!(code, Some(0));
    spike_error(&available(&s, Some(&second), Some("org-acme")), 401, "unauthorized");
    let (code, _, err) = cli(dir, &["revoke", "ci"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("No active API key"), "{err}");
    let (_, listed, _) = cli(dir, &["list"]);
    assert_eq!(listed.matches("revoked").count(), 2, "{listed}");
    let audit = s.get("/api/audit?action=api_key.*").json();
    assert_eq!(audit["total"], 4, "{audit}");
    // The name of a revoked key can be used again.
    create(dir, "default", "ci");
}

#[test]
fn the_admin_listener_is_loopback_only_token_guarded_and_private() {
    let s = Server::start();
    let admin_file = s.data_dir().join("spar.admin");
    let mode = std::fs::metadata(&admin_file).expect("admin file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&admin_file).expect("read");
    let (addr, token) = text.trim().split_once(' ').expect("addr token");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // The public listener does not serve /admin at all.
    s.get("/admin/api-keys").expect_error(404, "NOT_FOUND");
    let admin = |token: Option<&str>, path: &str| -> (u16, Value) {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(addr).expect("connect to the admin listener");
        let header = token.map(|t| format!("X-Spar-Admin-Token: {t}\r\n")).unwrap_or_default();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n");
        conn.write_all(req.as_bytes()).expect("send");
        let mut raw = String::new();
        conn.read_to_string(&mut raw).expect("read");
        let status = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = raw.split("\r\n\r\n").nth(1).unwrap_or("");
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    };
    let (status, body) = admin(None, "/admin/api-keys");
    assert_eq!((status, body["code"].clone()), (401, json!("UNAUTHORIZED")));
    assert_eq!(admin(Some("wrong"), "/admin/api-keys").0, 401);
    assert_eq!(admin(Some(token), "/admin/api-keys"), (200, json!({ "keys": [] })));
    // The admin listener serves nothing else.
    assert_eq!(admin(Some(token), "/api/agents").0, 404);
}
