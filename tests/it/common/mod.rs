//! Test harness: runs the real `spar` binary on a temp data dir and talks HTTP/1.1 to it over
//! 127.0.0.1 with raw sockets, so tests can send exactly the bytes they mean (odd paths,
//! broken bodies) and see exactly what came back.

#![allow(dead_code)]

pub mod browser;
pub mod fake;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    child: Option<Child>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Server {
    pub fn start() -> Self {
        Self::with(&[], &[])
    }

    /// Starts with extra `serve` flags and environment variables.
    pub fn with(args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::on_dir(tempfile::tempdir().expect("temp dir"), args, envs)
    }

    /// Starts on an existing data dir (a restored backup, say).
    pub fn on_dir(dir: tempfile::TempDir, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut server = Self {
            dir,
            addr: "127.0.0.1:0".parse().expect("addr"),
            child: None,
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            envs: envs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        };
        server.spawn();
        server
    }

    /// Sets an environment variable for the next start (`restart`, `start_again`).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.envs.retain(|(k, _)| k != name);
        self.envs.push((name.to_owned(), value.to_owned()));
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self) {
        let addr_file = self.dir.path().join("spar.addr");
        let _ = std::fs::remove_file(&addr_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spar"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(["--host", "127.0.0.1", "--port", "0", "--log-format", "json"])
            .args(&self.args)
            .env_remove("ENGINE_API_TOKEN")
            .env_remove("CORS_ORIGIN")
            .env_remove("RATE_LIMIT_API")
            .env_remove("RATE_LIMIT_WEBHOOKS")
            .env_remove("TRUST_PROXY")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_API_URL")
            .env_remove("WEBHOOK_BASE_URL")
            .env_remove("WEBHOOK_STRICT_MODE")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // Nothing from the developer's environment configures a service under test.
        let inherited =
            ["GITHUB_WEBHOOK_SECRET", "SLACK_", "DISCORD_", "TELEGRAM_", "EVOLUTION_", "SPAR_"];
        for (k, _) in std::env::vars().filter(|(k, _)| inherited.iter().any(|p| k.starts_with(p))) {
            cmd.env_remove(k);
        }
        // The fakes listen on 127.0.0.1: let user-supplied URLs reach them (the egress tests
        // set their own list).
        cmd.env("SPAR_EGRESS_ALLOW", "127.0.0.1");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("spawn spar"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&addr_file)
                && let Ok(addr) = text.trim().parse()
            {
                self.addr = addr;
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("spar exited early with {status}: {}", self.log());
            }
            assert!(Instant::now() < deadline, "spar did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("wait");
        }
    }

    /// SIGTERM, then waits for a clean exit and returns its code.
    pub fn terminate(&mut self) -> Option<i32> {
        self.stop_with("TERM")
    }

    /// Sends `SIG<signal>` (`TERM`, `INT`), then waits for the exit and returns its code.
    pub fn stop_with(&mut self, signal: &str) -> Option<i32> {
        let mut child = self.child.take()?;
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        child.wait().expect("wait").code()
    }

    pub fn restart(&mut self) {
        self.terminate();
        self.spawn();
    }

    /// Starts again after a kill (the process must be gone).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.call("POST", path, &[], Some(body))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, &[], None)
    }

    /// A request with JSON body (when given) and extra headers.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let body = body.map(|b| serde_json::to_vec(b).expect("json"));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            all.push(("Content-Type", "application/json"));
        }
        self.raw_request(method, path, &all, body.as_deref().unwrap_or_default())
    }

    /// Sends exactly these bytes as the body, with `Content-Length`.
    pub fn raw_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes)
    }

    /// Writes raw bytes and reads the whole answer (the server closes after it).
    pub fn raw(&self, bytes: &[u8]) -> Resp {
        let mut stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        // The server may answer (413) and close before reading everything we send.
        let _ = stream.write_all(bytes);
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        Resp::parse(&out)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    fn parse(raw: &[u8]) -> Self {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
            panic!("no HTTP response head in {:?}", String::from_utf8_lossy(raw))
        });
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
            body = dechunk(&body);
        }
        Self { status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body))
        })
    }

    /// Asserts the CodeSpar API's error shape (docs/API.md §1.3) and returns the body.
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "status for {code}: {body}");
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(body["error"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert_eq!(self.header("x-api-version"), Some("v1"));
        assert!(self.header("x-request-id").is_some_and(|v| !v.is_empty()));
        body
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[pos + 2..pos + 2 + size]);
        body = &body[pos + 4 + size..];
    }
    out
}

/// `hex(HMAC-SHA256(secret, body))`, computed here independently of Spar's own signing code.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fixture's bytes, exactly as stored in `fixtures/`.
pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(path))
        .expect("fixture")
}

impl Server {
    /// Posts a GitHub delivery: event and delivery headers, signed with `secret` when given.
    /// A GitHub delivery of `body` as GitHub would send it: stamped with its delivery id (two
    /// deliveries never carry the same bytes; Spar takes the same bytes again as a replay) and
    /// signed with `secret`.
    pub fn github_webhook(
        &self,
        path: &str,
        event: &str,
        delivery: &str,
        secret: Option<&str>,
        body: &[u8],
    ) -> Resp {
        let body = stamped(body, delivery);
        let signature = secret.map(|s| format!("sha256={}", sign(s, &body)));
        self.github_delivery(path, event, Some(delivery), signature.as_deref(), &body)
    }

    /// A JSON GitHub delivery with exactly this `X-Hub-Signature-256` (or none).
    pub fn github_delivery(
        &self,
        path: &str,
        event: &str,
        delivery: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Resp {
        let mut headers = vec![("Content-Type", "application/json"), ("X-GitHub-Event", event)];
        if let Some(delivery) = delivery {
            headers.push(("X-GitHub-Delivery", delivery));
        }
        if let Some(sig) = signature {
            headers.push(("X-Hub-Signature-256", sig));
        }
        self.raw_request("POST", path, &headers, body)
    }

    /// Audit entries of the whole server with this action, newest first.
    pub fn audit_entries(&self, action: &str) -> Vec<Value> {
        let page = self.get(&format!("/api/audit?action={action}&limit=100")).json();
        page["entries"].as_array().cloned().unwrap_or_default()
    }
}

/// One signed push over `stream`: the answer's JSON when the server answered 200.
/// A JSON body with a field naming its delivery, as every real delivery's bytes differ (a push
/// carries its commits, a workflow run its id and times). Parsers skip the field; the body's
/// digest is then the delivery's own.
pub fn stamped(body: &[u8], delivery: &str) -> Vec<u8> {
    match body.iter().position(|b| *b == b'{') {
        Some(at) => {
            let mut out = body[..=at].to_vec();
            out.extend_from_slice(format!("\"_delivery\":{delivery:?},").as_bytes());
            out.extend_from_slice(&body[at + 1..]);
            out
        }
        None => body.to_vec(),
    }
}

pub fn post_delivery(
    mut stream: TcpStream,
    secret: &str,
    delivery: &str,
    body: &[u8],
) -> Option<Value> {
    let body = &stamped(body, delivery)[..];
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let head = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: sha256={}\r\nContent-Length: {}\r\n\r\n",
        sign(secret, body),
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out);
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    serde_json::from_str(text.split("\r\n\r\n").nth(1)?).ok()
}

/// Signed push deliveries from several threads, each over its own connection, until stopped.
/// Delivery ids are `<prefix>w<thread>-n<count>`, unique per load.
pub struct WebhookLoad {
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
    acknowledged: Arc<Mutex<Vec<String>>>,
    attempted: Arc<Mutex<Vec<String>>>,
}

impl WebhookLoad {
    pub fn start(
        addr: SocketAddr,
        secret: &'static str,
        body: Arc<Vec<u8>>,
        threads: usize,
        prefix: &str,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let attempted = Arc::new(Mutex::new(Vec::new()));
        let workers = (0..threads)
            .map(|w| {
                let (stop, acknowledged, attempted, body, prefix) = (
                    Arc::clone(&stop),
                    Arc::clone(&acknowledged),
                    Arc::clone(&attempted),
                    Arc::clone(&body),
                    prefix.to_owned(),
                );
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let delivery = format!("{prefix}w{w}-n{n}");
                        // Only a delivery that reached the server counts as attempted.
                        let Ok(stream) = TcpStream::connect(addr) else { continue };
                        attempted.lock().expect("lock").push(delivery.clone());
                        let answer = post_delivery(stream, secret, &delivery, &body);
                        if answer.is_some_and(|a| a["processed"] == true) {
                            acknowledged.lock().expect("lock").push(delivery);
                        }
                    }
                })
            })
            .collect();
        Self { stop, workers, acknowledged, attempted }
    }

    /// Waits until at least `n` deliveries were acknowledged, so a crash test kills the server
    /// mid-load however slow the machine is (a fixed sleep is not enough on a busy CI runner).
    pub fn wait_for_acknowledged(&self, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.acknowledged.lock().expect("lock").len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "fewer than {n} deliveries acknowledged in 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The deliveries acknowledged so far (the load goes on).
    pub fn acknowledged_so_far(&self) -> Vec<String> {
        self.acknowledged.lock().expect("lock").clone()
    }

    /// Stops the threads: (acknowledged, attempted) delivery ids.
    pub fn finish(self) -> (Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.join().expect("load thread");
        }
        let take = |list: &Mutex<Vec<String>>| std::mem::take(&mut *list.lock().expect("lock"));
        (take(&self.acknowledged), take(&self.attempted))
    }
}

/// Reads every stored delivery after a crash and asserts none is stored twice and no
/// acknowledged one is missing; returns the stored ids.
pub fn assert_stored_once(s: &Server, acknowledged: &[String], context: &str) -> HashSet<String> {
    let stored = stored_deliveries(s);
    let unique: HashSet<String> = stored.iter().cloned().collect();
    assert_eq!(unique.len(), stored.len(), "{context}: a delivery was recorded twice");
    let lost: Vec<&String> = acknowledged.iter().filter(|d| !unique.contains(*d)).collect();
    assert!(
        lost.is_empty(),
        "{context}: {} of {} acknowledged deliveries lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    unique
}

/// The delivery ids of every stored `ci_event`, paging the whole trail.
pub fn stored_deliveries(s: &Server) -> Vec<String> {
    let mut ids = Vec::new();
    let mut before = String::new();
    loop {
        let page = s.get(&format!("/api/audit?action=ci_event&limit=100{before}")).json();
        assert!(page["entries"].is_array(), "{page}");
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        ids.extend(
            entries.iter().filter_map(|e| e["metadata"]["deliveryId"].as_str().map(str::to_owned)),
        );
        match page["nextBefore"].as_u64() {
            Some(next) if !entries.is_empty() => before = format!("&before={next}"),
            _ => return ids,
        }
    }
}

/// Test-only store helper: edits one `(org, id) -> JSON` row of the stopped server's redb file,
/// standing in for what later features (projects) or damage (corruption) would leave there.
pub fn put_row(server: &Server, table: &str, org: &str, id: &str, value: &[u8]) {
    let db = redb::Database::create(server.data_dir().join("spar.redb")).expect("open store");
    let txn = db.begin_write().expect("write");
    {
        let def = redb::TableDefinition::<(&str, &str), &[u8]>::new(table);
        let mut t = txn.open_table(def).expect("table");
        t.insert((org, id), value).expect("insert");
    }
    txn.commit().expect("commit");
}

/// Reads one `(org, id) -> JSON` row of the stopped server's store.
pub fn get_row(server: &Server, table: &str, org: &str, id: &str) -> Option<serde_json::Value> {
    use redb::ReadableDatabase;
    let db = redb::Database::create(server.data_dir().join("spar.redb")).expect("open store");
    let txn = db.begin_read().expect("read");
    let t =
        txn.open_table(redb::TableDefinition::<(&str, &str), &[u8]>::new(table)).expect("table");
    let row = t.get((org, id)).expect("get");
    row.map(|v| serde_json::from_slice(v.value()).expect("json row"))
}

/// Test-only store helper: the stored JSON of audit entry `seq` of `org` (server stopped).
pub fn audit_row(server: &Server, org: &str, seq: u64) -> Option<serde_json::Value> {
    use redb::ReadableDatabase;
    let db = redb::Database::create(server.data_dir().join("spar.redb")).expect("open store");
    let txn = db.begin_read().expect("read");
    let t =
        txn.open_table(redb::TableDefinition::<(&str, u64), &[u8]>::new("audit")).expect("table");
    let row = t.get((org, seq)).expect("get");
    row.map(|v| serde_json::from_slice(v.value()).expect("json row"))
}

/// Test-only store helper: replaces (`Some`) or deletes (`None`) a stored audit entry.
pub fn set_audit_row(server: &Server, org: &str, seq: u64, value: Option<&serde_json::Value>) {
    let db = redb::Database::create(server.data_dir().join("spar.redb")).expect("open store");
    let txn = db.begin_write().expect("write");
    {
        let def = redb::TableDefinition::<(&str, u64), &[u8]>::new("audit");
        let mut t = txn.open_table(def).expect("table");
        match value {
            Some(v) => {
                t.insert((org, seq), serde_json::to_vec(v).expect("json").as_slice())
                    .expect("insert");
            }
            None => {
                t.remove((org, seq)).expect("remove");
            }
        }
    }
    txn.commit().expect("commit");
}

/// Runs `spar verify-audit` on the server's data dir: (exit code, stdout).
pub fn verify_audit_cli(server: &Server) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .arg("verify-audit")
        .arg("--data-dir")
        .arg(server.data_dir())
        .output()
        .expect("run spar verify-audit");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What `spar replay` printed for each fixture: its line's (`<file>  <status>  <answer>`).
pub fn replay_answers(stdout: &str) -> Vec<(String, u16, Value)> {
    stdout
        .lines()
        .filter(|l| l.contains(".json"))
        .map(|l| {
            let mut parts = l.splitn(3, "  ");
            let file = parts.next().unwrap_or("").to_owned();
            let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let answer = serde_json::from_str(parts.next().unwrap_or("")).unwrap_or(Value::Null);
            (file, status, answer)
        })
        .collect()
}
