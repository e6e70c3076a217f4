//! Outbound TLS trust (`SPAR_CA_FILE`, docs/API.md §1.9): a fake Slack over https with a
//! certificate from a CA made here, which only `SPAR_CA_FILE` makes Spar trust.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

use crate::common::Server;
use crate::common::fake::SLACK_TOKEN;

/// A test CA, its PEM written to `ca.pem`, and a certificate it issued for 127.0.0.1 and
/// localhost.
struct TestCa {
    dir: tempfile::TempDir,
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key: Vec<u8>,
}

impl TestCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Spar test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().expect("ca key");
        let ca = params.self_signed(&ca_key).expect("ca cert");
        let issuer = Issuer::new(params, ca_key);
        let server_key = KeyPair::generate().expect("server key");
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server params")
            .signed_by(&server_key, &issuer)
            .expect("server cert");
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write ca.pem");
        Self {
            dir,
            ca_der: ca.der().clone(),
            server_der: server.der().clone(),
            server_key: server_key.serialize_der(),
        }
    }

    fn pem_path(&self) -> String {
        self.dir.path().join("ca.pem").to_str().expect("utf-8").to_owned()
    }
}

/// What the fake saw: requests (`POST /api/auth.test` and its Authorization header) and
/// handshakes that failed.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, Option<String>)>,
    handshake_errors: Vec<String>,
}

/// Slack's Web API over TLS on 127.0.0.1, answering `auth.test` as Slack does.
struct TlsSlack {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

impl TlsSlack {
    fn start(ca: &TestCa) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca.server_key.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![ca.server_der.clone(), ca.ca_der.clone()], key)
            .expect("server config");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("https://{}/api", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let recorded = Arc::clone(&seen);
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, seen) = (Arc::clone(&config), Arc::clone(&recorded));
                std::thread::spawn(move || {
                    let conn = rustls::ServerConnection::new(config).expect("connection");
                    serve(rustls::StreamOwned::new(conn, tcp), &seen);
                });
            }
        });
        Self { url, seen }
    }

    fn requests(&self) -> Vec<(String, Option<String>)> {
        self.seen.lock().expect("seen").requests.clone()
    }

    /// The failed handshakes, once there are `n` (the fake records one on its own thread, after
    /// the client has already hung up), or what there is after 5 s.
    fn handshake_errors(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let seen = self.seen.lock().expect("seen").handshake_errors.clone();
            if seen.len() >= n || std::time::Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// One request per connection; a failed handshake is recorded, not answered.
fn serve(
    mut tls: rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>,
    seen: &Mutex<Seen>,
) {
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            seen.lock().expect("seen").handshake_errors.push(e.to_string());
            return;
        }
    }
    let mut reader = BufReader::new(tls);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let (mut authorization, mut len) = (None, 0);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(v.trim().to_owned()),
                "content-length" => len = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = line.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let answer = if request == "POST /api/auth.test"
        && authorization.as_deref() == Some(&format!("Bearer {SLACK_TOKEN}"))
    {
        json!({"ok": true, "team": "Acme", "user": "spar", "team_id": "T1", "user_id": "U1"})
    } else {
        json!({"ok": false, "error": "invalid_auth"})
    };
    seen.lock().expect("seen").requests.push((request, authorization));
    let payload = answer.to_string();
    let mut tls = reader.into_inner();
    let _ = write!(
        tls,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// Spar with Slack at the fake, its bot token from the environment (the operator's agent).
fn spar(slack: &TlsSlack, ca_file: Option<&str>) -> Server {
    let mut env = vec![("SLACK_API_URL", slack.url.as_str()), ("SLACK_BOT_TOKEN", SLACK_TOKEN)];
    env.extend(ca_file.map(|path| ("SPAR_CA_FILE", path)));
    Server::with(&["--rate-limit-api", "0"], &env)
}

fn reconnect_slack(s: &Server) -> Value {
    let r = s.post("/api/channels/slack/reconnect", &json!({}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn slack_channel(s: &Server) -> Value {
    let all = s.get("/api/channels").json();
    all["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["name"] == "slack")
        .cloned()
        .expect("slack")
}

#[test]
fn a_ca_file_makes_a_private_ca_trusted_on_both_agents() {
    let ca = TestCa::new();
    let slack = TlsSlack::start(&ca);
    let s = spar(&slack, Some(&ca.pem_path()));
    let connected = json!({ "success": true, "channel": "slack", "connected": true });
    // The operator's agent: the token comes from the environment.
    assert_eq!(reconnect_slack(&s), connected);
    // The checked agent (egress policy): a token stored through the API is a user's config.
    let r = s.post(
        "/api/channels/configure",
        &json!({ "channel": "slack", "config": { "botToken": SLACK_TOKEN } }),
    );
    assert_eq!(r.status, 200);
    assert_eq!(reconnect_slack(&s), connected);
    let bearer = Some(format!("Bearer {SLACK_TOKEN}"));
    let auth_test = ("POST /api/auth.test".to_owned(), bearer);
    assert_eq!(slack.requests(), [auth_test.clone(), auth_test]);
    assert_eq!(slack.handshake_errors(0), Vec::<String>::new());
    assert!(s.log().contains("trusting the CAs of SPAR_CA_FILE too"), "{}", s.log());
}

#[test]
fn with_no_platform_store_the_ca_file_still_adds_to_the_bundled_roots() {
    let ca = TestCa::new();
    let slack = TlsSlack::start(&ca);
    let pem = ca.pem_path();
    // An empty container image: no CA store where rustls-native-certs looks.
    let nowhere = ca.dir.path().join("no-store.pem");
    let empty_dir = tempfile::tempdir().expect("dir");
    let env = [
        ("SLACK_API_URL", slack.url.as_str()),
        ("SLACK_BOT_TOKEN", SLACK_TOKEN),
        ("SPAR_CA_FILE", pem.as_str()),
        ("SSL_CERT_FILE", nowhere.to_str().expect("utf-8")),
        ("SSL_CERT_DIR", empty_dir.path().to_str().expect("utf-8")),
    ];
    let s = Server::with(&["--rate-limit-api", "0"], &env);
    assert_eq!(reconnect_slack(&s)["connected"], true);
    assert_eq!(slack.requests().len(), 1);
    assert!(s.log().contains("trusting the bundled Mozilla roots"), "{}", s.log());
}

#[test]
fn without_the_ca_file_the_certificate_is_refused_as_an_upstream_failure() {
    let ca = TestCa::new();
    let slack = TlsSlack::start(&ca);
    let s = spar(&slack, None);
    assert_eq!(
        reconnect_slack(&s),
        json!({ "success": true, "channel": "slack", "connected": false })
    );
    let refused = |channel: Value| {
        let error = channel["lastError"].as_str().unwrap_or_default().to_owned();
        assert!(
            error.starts_with("Slack is unreachable")
                && error.contains("invalid peer certificate: UnknownIssuer"),
            "{channel}"
        );
    };
    refused(slack_channel(&s));
    // The checked agent refuses it the same way.
    s.post(
        "/api/channels/configure",
        &json!({ "channel": "slack", "config": { "botToken": SLACK_TOKEN } }),
    );
    assert_eq!(reconnect_slack(&s)["connected"], false);
    refused(slack_channel(&s));
    assert!(slack.requests().is_empty(), "{:?}", slack.requests());
    // Both agents reached the fake and hung up in the handshake.
    let failed = slack.handshake_errors(2);
    assert_eq!(failed.len(), 2, "{failed:?}");
    // The server is still up and answering.
    assert_eq!(s.get("/health").status, 200);
}

/// `spar serve` with `SPAR_CA_FILE=path`: its exit code and what it wrote to stderr.
fn serve_with_ca_file(data_dir: &Path, path: &Path) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spar"));
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env("SPAR_CA_FILE", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SPAR_") && k != "SPAR_CA_FILE") {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("spawn spar");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("spar kept running with SPAR_CA_FILE={}", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    (status.code(), stderr)
}

#[test]
fn a_missing_or_certificate_less_ca_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "# no certificates\n").expect("write");
    let missing: PathBuf = dir.path().join("missing.pem");
    for (path, why) in [(&missing, "cannot read the file"), (&empty, "no PEM certificate")] {
        let data = tempfile::tempdir().expect("data dir");
        let (code, stderr) = serve_with_ca_file(data.path(), path);
        assert!(code.is_some_and(|c| c != 0), "exit {code:?}: {stderr}");
        let named = format!("SPAR_CA_FILE={:?}", path.to_str().expect("utf-8"));
        assert!(stderr.contains(&named) && stderr.contains(why), "{stderr}");
    }
}
