//! The operator commands of the `spar` binary (`status`, `health`, `deliveries`, `tasks`,
//! `audit`, `events`, `completions`, `replay --builtin`), each run as a user would against a
//! running server: found through its data dir's `spar.addr`, tables by default, `--json` on
//! request, and a non-zero exit with the server's message when it refuses.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake::{FakeChat, SLACK_TOKEN};
use crate::common::{Server, audit_row, fixture, set_audit_row};

const SECRET: &str = "cli-secret";
const OPERATOR: &str = "cli-operator-token-0123456789";

struct Ran {
    code: Option<i32>,
    out: String,
    err: String,
}

impl Ran {
    fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "stdout:\n{}\nstderr:\n{}", self.out, self.err);
        self.out
    }

    fn json(self) -> Value {
        let out = self.ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }

    /// A failure: exit 1 and the server's message on stderr.
    fn refused(self, text: &str) {
        assert_eq!(self.code, Some(1), "stdout:\n{}\nstderr:\n{}", self.out, self.err);
        assert!(self.err.contains(text), "stderr has no {text:?}:\n{}", self.err);
    }
}

/// `spar <args>` finding `s` through its data dir, as the operator (`SPAR_TOKEN`).
fn spar(s: &Server, args: &[&str]) -> Ran {
    spar_with(s, args, &[("SPAR_TOKEN", OPERATOR)])
}

fn spar_with(s: &Server, args: &[&str], envs: &[(&str, &str)]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spar"));
    cmd.args(args).env("SPAR_DATA_DIR", s.data_dir());
    for var in ["SPAR_URL", "SPAR_TOKEN", "SPAR_ORG", "STATE_DIRECTORY"] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    let out = cmd.output().expect("run spar");
    Ran {
        code: out.status.code(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn server(chat: &FakeChat) -> Server {
    let mut env: Vec<(String, String)> = chat.env();
    env.push(("GITHUB_WEBHOOK_SECRET".into(), SECRET.into()));
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "100".into()));
    env.push(("ENGINE_API_TOKEN".into(), OPERATOR.into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env)
}

fn op(s: &Server, method: &str, path: &str, body: Option<&Value>) -> Value {
    let auth = format!("Bearer {OPERATOR}");
    let r = s.call(method, path, &[("Authorization", &auth), ("x-org-id", "default")], body);
    assert!(
        (200..300).contains(&r.status),
        "{method} {path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

fn route_ci_to_slack(s: &Server) {
    let config = json!({ "channel": "slack", "config": { "botToken": SLACK_TOKEN } });
    op(s, "POST", "/api/channels/configure", Some(&config));
    let route = json!({ "eventType": "ci.*", "channel": "slack", "channelId": "C0ALERTS" });
    op(s, "POST", "/api/channel-routes", Some(&route));
}

fn push(s: &Server, delivery: &str) -> String {
    let body = fixture("github/push.json");
    let r = s.github_webhook("/webhooks/github", "push", delivery, Some(SECRET), &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["eventId"].as_str().expect("event id").to_owned()
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The first column of a table's rows (its heading line skipped).
fn first_column(table: &str) -> Vec<String> {
    let rows = table.lines().skip(1).filter(|l| *l != "(none)");
    rows.filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect()
}

#[test]
fn status_and_health_report_the_server_and_health_fails_when_nothing_answers() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let status = spar(&s, &["status"]).ok();
    assert!(status.lines().any(|l| l.starts_with("status") && l.ends_with("ok")), "{status}");
    assert!(status.contains("0 pending, 0 dead"), "{status}");
    assert!(
        status.lines().any(|l| l.starts_with("next run") && l.contains("audit-cleanup")),
        "{status}"
    );
    let json = spar(&s, &["status", "--json"]).json();
    assert_eq!(json["health"]["status"], "ok");
    assert_eq!(json["openIncidents"], 0);

    assert_eq!(spar(&s, &["health"]).ok().trim(), "ok");
    assert_eq!(spar(&s, &["health", "--json"]).json()["status"], "ok");
    // A probe without a token still works: /health is public.
    assert_eq!(spar_with(&s, &["health"], &[]).ok().trim(), "ok");
    // A status needs the token like any /api call.
    spar_with(&s, &["status"], &[("SPAR_TOKEN", "wrong")]).refused("401 UNAUTHORIZED");

    // Nothing listening: a non-zero exit that says where it looked.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    spar(&s, &["health", "--url", &url]).refused("cannot reach the server");
    let mut s = s;
    s.terminate();
    spar(&s, &["health"]).refused("does not exist");
}

#[test]
fn deliveries_are_listed_shown_and_retried() {
    let chat = FakeChat::start();
    let s = server(&chat);
    route_ci_to_slack(&s);
    chat.fail_with(&[(200, json!({ "ok": false, "error": "channel_not_found" }))]);
    push(&s, "cli-dead");
    wait_until("a dead delivery", || {
        spar(&s, &["deliveries", "list", "--status", "dead", "--json"]).json()["total"] == 1
    });

    let table = spar(&s, &["deliveries", "list", "--status", "dead"]).ok();
    assert!(table.starts_with("ID"), "{table}");
    let ids = first_column(&table);
    assert_eq!(ids.len(), 1, "{table}");
    let id = ids[0].clone();
    assert!(table.contains("dead") && table.contains("slack C0ALERTS"), "{table}");
    assert!(table.contains("channel_not_found"), "{table}");
    assert_eq!(
        spar(&s, &["deliveries", "list", "--channel", "discord", "--json"]).json()["total"],
        0
    );

    let shown = spar(&s, &["deliveries", "show", &id]).ok();
    assert!(shown.contains("STARTED") && shown.contains("rejected"), "{shown}");
    assert_eq!(
        spar(&s, &["deliveries", "show", &id, "--json"]).json()["attemptLog"][0]["outcome"],
        "dead"
    );

    let retried = spar(&s, &["deliveries", "retry", &id]).ok();
    assert!(retried.contains(&format!("{id} queued again")), "{retried}");
    chat.wait_for(1);
    wait_until("delivered", || {
        spar(&s, &["deliveries", "show", &id, "--json"]).json()["status"] == "delivered"
    });
    // Only a dead delivery is re-queued: the server says why not.
    spar(&s, &["deliveries", "retry", &id, "--json"]).refused("409 INVALID_STATE");
    spar(&s, &["deliveries", "retry", "dlv-999"]).refused("404 DELIVERY_NOT_FOUND");
    spar(&s, &["deliveries", "list", "--status", "lost"]).refused("400 INVALID_PARAMETER");
}

#[test]
fn tasks_are_listed_paused_resumed_and_run() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let task = json!({ "name": "nightly-digest", "intervalMs": 3_600_000, "action": { "type": "digest" } });
    op(&s, "POST", "/api/scheduler", Some(&task));

    let table = spar(&s, &["tasks", "list"]).ok();
    assert!(first_column(&table).contains(&"nightly-digest".to_owned()), "{table}");
    assert!(table.contains("every 3600 s"), "{table}");

    let paused = spar(&s, &["tasks", "pause", "nightly-digest"]).ok();
    assert!(paused.starts_with("nightly-digest: "), "{paused}");
    let listed = spar(&s, &["tasks", "list", "--json"]).json();
    let ours =
        listed.as_array().expect("tasks").iter().find(|t| t["name"] == "nightly-digest").cloned();
    assert_eq!(ours.expect("task")["enabled"], false);
    assert!(
        spar(&s, &["tasks", "list"])
            .ok()
            .lines()
            .any(|l| l.starts_with("nightly-digest") && l.contains("paused"))
    );

    assert_eq!(spar(&s, &["tasks", "run", "nightly-digest"]).ok().trim(), "nightly-digest ran");
    assert_eq!(
        spar(&s, &["tasks", "run", "nightly-digest", "--json"]).json()["task"]["runCount"],
        2
    );
    let resumed = spar(&s, &["tasks", "resume", "nightly-digest", "--json"]).json();
    assert_eq!(resumed["enabled"], true);
    assert_eq!(spar(&s, &["tasks", "pause", "nightly-digest", "--json"]).json()["enabled"], false);
    spar(&s, &["tasks", "run", "no-such-task"]).refused("404 TASK_NOT_FOUND");
}

#[test]
fn the_audit_trail_is_tailed_searched_and_verified() {
    let chat = FakeChat::start();
    let mut s = server(&chat);
    let agent = json!({ "name": "giraffe-bot", "type": "task" });
    op(&s, "POST", "/api/agents", Some(&agent));
    op(&s, "POST", "/api/orgs", Some(&json!({ "name": "Acme" })));

    let tail = spar(&s, &["audit", "tail", "-n", "5"]).ok();
    assert!(tail.starts_with("SEQ"), "{tail}");
    let seqs: Vec<u64> = first_column(&tail).iter().map(|c| c.parse().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "oldest first: {tail}");
    assert!(tail.lines().last().is_some_and(|l| l.contains("org.create")), "{tail}");
    let page = spar(&s, &["audit", "tail", "--json"]).json();
    assert!(page["entries"].as_array().is_some_and(|e| !e.is_empty()));

    let found = spar(&s, &["audit", "search", "giraffe"]).ok();
    assert_eq!(first_column(&found).len(), 1, "{found}");
    assert!(found.contains("giraffe-bot"), "{found}");
    spar(&s, &["audit", "search", "AND AND"]).refused("400 INVALID_PARAMETER");
    let searched = spar(&s, &["audit", "search", "giraffe", "--json"]).json();
    assert_eq!(searched["total"], 1);
    assert_eq!(spar(&s, &["audit", "verify", "--json"]).json()["valid"], true);

    let verified = spar(&s, &["audit", "verify"]).ok();
    assert!(
        verified.lines().any(|l| l.starts_with("default") && l.contains("valid")),
        "{verified}"
    );

    // An edited entry: verify says where and exits 1.
    s.terminate();
    let mut entry = audit_row(&s, "default", 1).expect("entry 1");
    entry["actorId"] = json!("someone-else");
    set_audit_row(&s, "default", 1, Some(&entry));
    s.start_again();
    let broken = spar(&s, &["audit", "verify"]);
    assert_eq!(broken.code, Some(1), "{}", broken.err);
    assert!(broken.out.contains("BROKEN") && broken.out.contains("aud-1"), "{}", broken.out);
}

/// `spar events tail <args>` running, and the lines it prints.
fn follow(s: &Server, args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["events", "tail"])
        .args(args)
        .env("SPAR_DATA_DIR", s.data_dir())
        .env("SPAR_TOKEN", OPERATOR)
        .env_remove("SPAR_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("events tail");
    let (lines, got) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    (child, got)
}

/// The stream starts at the newest event: pushes until the follower has printed a line.
fn first_line(s: &Server, got: &mpsc::Receiver<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    for n in 0.. {
        push(s, &format!("tail-{n}"));
        if let Ok(line) = got.recv_timeout(Duration::from_millis(300)) {
            return line;
        }
        assert!(Instant::now() < deadline, "events tail printed nothing");
    }
    unreachable!()
}

#[test]
fn events_tail_prints_a_line_per_event() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let (mut child, got) = follow(&s, &["--count", "1", "--types", "ci.*"]);
    let line = first_line(&s, &got);
    let fields: Vec<&str> = line.split("  ").collect();
    assert_eq!(fields.len(), 5, "time, id, type, severity, title: {line}");
    assert!(fields[1].starts_with("evt-") && fields[2] == "ci.push", "{line}");
    assert!(child.wait().expect("wait").success());
    // A refusal ends the command with the server's message, without retrying.
    spar_with(&s, &["events", "tail"], &[("SPAR_TOKEN", "wrong")]).refused("401 UNAUTHORIZED");
}

#[test]
fn events_tail_follows_the_stream_across_a_server_restart() {
    let chat = FakeChat::start();
    let mut s = server(&chat);
    let (mut child, got) = follow(&s, &["--json", "--count", "2"]);
    let first: Value = serde_json::from_str(&first_line(&s, &got)).expect("a JSON line");
    assert_eq!(first["type"], "ci.push");

    // The server restarts on a new port; an event recorded before the follower is back is
    // still printed, once, in order.
    s.restart();
    let after = push(&s, "tail-after-restart");
    let second = got.recv_timeout(Duration::from_secs(20)).expect("the event after the restart");
    let second: Value = serde_json::from_str(&second).expect("JSON");
    assert_eq!(second["id"], after.as_str());
    let status = child.wait().expect("wait");
    assert!(status.success(), "exits after --count events: {status}");
}

#[test]
fn help_version_and_completions_behave_everywhere() {
    let chat = FakeChat::start();
    let s = server(&chat);
    for args in [&["-h"][..], &["--help"], &["deliveries", "-h"], &["tasks", "run", "--help"]] {
        let out = spar(&s, args).ok();
        assert!(out.starts_with("Usage:"), "{args:?}: {out}");
    }
    let version = format!("spar {}", env!("CARGO_PKG_VERSION"));
    for args in
        [&["--version"][..], &["-V"], &["serve", "--version"], &["audit", "tail", "--version"]]
    {
        assert_eq!(spar(&s, args).ok().trim(), version, "{args:?}");
    }

    let script = spar(&s, &["completions", "bash"]).ok();
    let complete = |words: &str, cword: usize| -> String {
        let run = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD={cword}; _spar; echo \"${{COMPREPLY[*]}}\""
        );
        let out = Command::new("bash").arg("-c").arg(run).output().expect("bash");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(complete("spar deli", 1), "deliveries");
    assert_eq!(complete("spar deliveries l", 2), "list");
    assert_eq!(complete("spar deliveries list --st", 3), "--status");
    assert_eq!(complete("spar deliveries list --status dead --ch", 5), "--channel");
    assert!(complete("spar serve --rate", 2).contains("--rate-limit-webhooks"));
    assert!(spar(&s, &["completions", "zsh"]).ok().contains("bashcompinit"));
    let fish = spar(&s, &["completions", "fish"]).ok();
    assert!(
        fish.contains("complete -c spar -n '__fish_seen_subcommand_from deliveries' -a list"),
        "{fish}"
    );
    let unknown = spar(&s, &["completions", "tcsh"]);
    assert_eq!(unknown.code, Some(1));
}

#[test]
fn replay_sends_the_built_in_fixtures_to_the_server_it_finds() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let out = spar_with(&s, &["replay", "--builtin", "github", "--secret", SECRET], &[]).ok();
    assert!(out.contains("7 sent, 0 failed"), "{out}");
    assert!(out.contains("builtin/github/push.json  200"), "{out}");
    let nothing = spar_with(&s, &["replay", "--builtin", "gitlab"], &[]);
    assert_eq!(nothing.code, Some(2));
    assert!(nothing.err.contains("spike/prometheus"), "names the sets: {}", nothing.err);
}

#[test]
fn progress_is_plain_lines_when_stderr_is_not_a_terminal() {
    let chat = FakeChat::start();
    let mut s = server(&chat);
    op(&s, "POST", "/api/agents", Some(&json!({ "name": "progress-bot", "type": "task" })));
    s.terminate();
    let ran = spar(&s, &["reindex", "--data-dir", &s.data_dir().display().to_string()]);
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    assert!(!ran.err.contains('\r'), "no redraws in a log: {:?}", ran.err);
    assert!(ran.err.lines().any(|l| l.starts_with("audit: 100% (")), "{}", ran.err);
}

#[test]
fn events_tail_misses_nothing_when_the_stream_breaks_before_its_first_event() {
    let chat = FakeChat::start();
    let mut s = server(&chat);
    let (mut child, got) = follow(&s, &["--json", "--count", "1"]);
    // Connected (its hello seen), then the server goes away before any event.
    std::thread::sleep(Duration::from_millis(700));
    s.restart();
    // Recorded at once, most likely before the follower is back.
    let id = push(&s, "while-away");
    let line = got.recv_timeout(Duration::from_secs(20)).expect("the event recorded meanwhile");
    let event: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(event["id"], id.as_str());
    assert!(child.wait().expect("wait").success());
}
