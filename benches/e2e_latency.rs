//! Webhook-in to message-out latency, end to end: the release `spar` binary, a fake Slack on
//! 127.0.0.1, signed GitHub pushes at a fixed rate, and a route that sends every push to Slack.
//! Each push carries a marker in its commit message; the fake notes when the message with that
//! marker arrives. Then a burst measures the outbox's throughput.
//!
//! `cargo bench --bench e2e_latency` (optional: `-- <events/s> <seconds> <burst>`).

// A bench or example fails loudly on broken setup; the server code never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::Value;

const SECRET: &str = "bench-secret";
const CONNECTIONS: usize = 16;

type Arrivals = Arc<Mutex<Vec<(u64, Instant)>>>;

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rate = args.first().copied().unwrap_or(1000);
    let seconds = args.get(1).copied().unwrap_or(10);
    let burst = args.get(2).copied().unwrap_or(5000);

    let arrivals: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let slack = fake_slack(Arc::clone(&arrivals));
    let dir = std::env::temp_dir().join(format!("spar-e2e-{}", std::process::id()));
    let mut spar = start_spar(&dir, slack);
    let addr = wait_addr(&dir, &mut spar);
    request(
        addr,
        "POST",
        "/api/channel-routes",
        &[("x-org-id", "default")],
        br#"{"eventType":"ci.*","channel":"slack","channelId":"C0BENCH"}"#,
    );

    let template = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/github/push.json"))
        .expect("fixture");
    let template: Value = serde_json::from_slice(&template).expect("json");

    // Paced: `rate` events per second for `seconds`.
    let total = rate * seconds;
    let sent = send(addr, &template, 0, total, Some(rate));
    let latencies = collect(&arrivals, &sent, Duration::from_secs(60));
    if latencies.len() < sent.len() {
        let dead = get(addr, "/api/deliveries?status=dead&limit=5");
        let pending = get(addr, "/api/deliveries?status=pending&limit=5");
        panic!(
            "{} messages never arrived\ndead: {dead}\npending: {pending}",
            sent.len() - latencies.len()
        );
    }
    report(&format!("paced {rate}/s for {seconds} s"), &latencies, None);

    // Burst: as fast as 16 connections go; messages per second out of the outbox.
    arrivals.lock().expect("arrivals").clear();
    let started = Instant::now();
    let sent = send(addr, &template, total, burst, None);
    let latencies = collect(&arrivals, &sent, Duration::from_secs(120));
    let last = arrivals.lock().expect("arrivals").iter().map(|(_, t)| *t).max();
    let span = last.map_or(Duration::ZERO, |t| t - started);
    report(&format!("burst of {burst}"), &latencies, Some(burst as f64 / span.as_secs_f64()));

    let _ = spar.kill();
    let _ = spar.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn start_spar(dir: &std::path::Path, slack: SocketAddr) -> Child {
    std::fs::create_dir_all(dir).expect("dir");
    Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--log-format", "json"])
        .args(["--rate-limit-api", "0", "--rate-limit-webhooks", "0", "--data-dir"])
        .arg(dir)
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env("SLACK_API_URL", format!("http://{slack}"))
        .env("SLACK_BOT_TOKEN", "xoxb-bench")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn spar")
}

fn wait_addr(dir: &std::path::Path, spar: &mut Child) -> SocketAddr {
    for _ in 0..500 {
        if let Ok(text) = std::fs::read_to_string(dir.join("spar.addr"))
            && let Ok(addr) = text.trim().parse()
        {
            return addr;
        }
        assert!(spar.try_wait().ok().flatten().is_none(), "spar exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("spar did not start");
}

/// Sends events `first..first+count` over [`CONNECTIONS`] keep-alive connections, paced at
/// `rate` per second when given; returns each event's send time.
fn send(
    addr: SocketAddr,
    template: &Value,
    first: u64,
    count: u64,
    rate: Option<u64>,
) -> Vec<(u64, Instant)> {
    let start = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS as u64)
        .map(|w| {
            let template = template.clone();
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(addr).expect("connect");
                conn.set_nodelay(true).expect("nodelay");
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut sent = Vec::new();
                for n in (first + w..first + count).step_by(CONNECTIONS) {
                    let mut payload = template.clone();
                    payload["head_commit"]["message"] = Value::from(format!("bench marker m{n}"));
                    let body = serde_json::to_vec(&payload).expect("json");
                    if let Some(rate) = rate {
                        let due = start + Duration::from_secs_f64((n - first) as f64 / rate as f64);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                    let signature = format!("sha256={}", sign(&body));
                    let delivery = format!("bench-{n}");
                    let head = format!(
                        "POST /webhooks/github HTTP/1.1\r\nHost: spar\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {signature}\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let mut request = head.into_bytes();
                    request.extend_from_slice(&body);
                    sent.push((n, Instant::now()));
                    conn.write_all(&request).expect("write");
                    let status = read_response(&mut reader);
                    assert_eq!(status, 200, "webhook {n}");
                }
                sent
            })
        })
        .collect();
    workers.into_iter().flat_map(|w| w.join().expect("sender")).collect()
}

/// Latency of every sent event, waiting up to `patience` for the last messages.
fn collect(arrivals: &Arrivals, sent: &[(u64, Instant)], patience: Duration) -> Vec<Duration> {
    let deadline = Instant::now() + patience;
    let wanted: std::collections::HashSet<u64> = sent.iter().map(|(n, _)| *n).collect();
    let arrived = || -> std::collections::HashMap<u64, Instant> {
        arrivals
            .lock()
            .expect("arrivals")
            .iter()
            .copied()
            .filter(|(n, _)| wanted.contains(n))
            .collect()
    };
    while arrived().len() < wanted.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = arrivals.lock().expect("arrivals").len();
    let got = arrived();
    assert!(all == got.len(), "{} messages arrived more than once", all - got.len());
    let mut out: Vec<Duration> = sent
        .iter()
        .filter_map(|(n, at)| got.get(n).map(|r| r.saturating_duration_since(*at)))
        .collect();
    out.sort();
    out
}

fn report(what: &str, sorted: &[Duration], throughput: Option<f64>) {
    let pct = |p: f64| sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    print!(
        "{what}: {} messages, webhook-in to message-out p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sorted.len(),
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(sorted[sorted.len() - 1])
    );
    match throughput {
        Some(t) => println!(", outbox {t:.0} messages/s"),
        None => println!(),
    }
}

/// A fake Slack Web API: `chat.postMessage` answers `ok` and notes when each marker arrived.
fn fake_slack(arrivals: Arrivals) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let arrivals = Arc::clone(&arrivals);
            std::thread::spawn(move || serve_slack(stream, &arrivals));
        }
    });
    addr
}

fn serve_slack(stream: TcpStream, arrivals: &Arrivals) {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    loop {
        let Some(body) = read_request(&mut reader) else { return };
        let at = Instant::now();
        let text = String::from_utf8_lossy(&body);
        if let Some(n) = text.split("bench marker m").nth(1).and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|d| d.parse().ok())
        }) {
            arrivals.lock().expect("arrivals").push((n, at));
        }
        let answer = br#"{"ok":true,"channel":"C0BENCH","ts":"1795428902.000200"}"#;
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        )
        .into_bytes();
        out.extend_from_slice(answer);
        // One write: a head and body written apart meet Nagle and delayed ACKs (40 ms).
        if writer.write_all(&out).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut len = 0;
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// Reads one response (status and `Content-Length` body); returns the status.
fn read_response(reader: &mut BufReader<TcpStream>) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut len = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).expect("body");
    status
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut conn = TcpStream::connect(addr).expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: spar\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).expect("write");
    conn.write_all(body).expect("write");
    let status = read_response(&mut BufReader::new(conn));
    assert!((200..300).contains(&status), "{method} {path}: {status}");
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut conn = TcpStream::connect(addr).expect("connect");
    let head = format!("GET {path} HTTP/1.1\r\nHost: spar\r\nConnection: close\r\n\r\n");
    conn.write_all(head.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = conn.read_to_string(&mut out);
    out
}

fn sign(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}
