//! The live event stream (docs/API.md §2.12): SSE frames, keepalive, `types` and org filters,
//! `Last-Event-ID` replay, and clients that stop reading.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Server, fixture};

const SECRET: &str = "stream-secret";

fn server() -> Server {
    Server::with(
        &["--rate-limit-api", "0", "--rate-limit-webhooks", "0"],
        &[("GITHUB_WEBHOOK_SECRET", SECRET), ("SPAR_STREAM_KEEPALIVE_MS", "300")],
    )
}

/// A Server-Sent Events client over a raw socket (chunked transfer decoded).
struct Sse {
    reader: BufReader<TcpStream>,
    pending: String,
    pub head: String,
}

impl Sse {
    fn open(s: &Server, path: &str, headers: &[(&str, &str)]) -> Self {
        let mut stream = TcpStream::connect(s.addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: spar\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).expect("send");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line.to_ascii_lowercase());
        }
        Self { reader, pending: String::new(), head }
    }

    /// The next frame (without its blank line).
    fn frame(&mut self) -> String {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let frame = self.pending[..end].to_owned();
                self.pending.drain(..end + 2);
                return frame;
            }
            let mut size = String::new();
            self.reader.read_line(&mut size).expect("chunk size");
            let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
            assert!(size > 0, "the stream ended");
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk).expect("chunk");
            self.pending.push_str(&String::from_utf8_lossy(&chunk[..size]));
        }
    }

    /// The next frame that is an event: (id, event, data).
    fn event(&mut self) -> (u64, String, Value) {
        loop {
            let frame = self.frame();
            if frame.starts_with(':') || frame.contains("event: connected") {
                continue;
            }
            return parse(&frame);
        }
    }
}

fn parse(frame: &str) -> (u64, String, Value) {
    let field = |name: &str| {
        frame
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {frame:?}"))
            .to_owned()
    };
    let data: Value = serde_json::from_str(&field("data")).expect("data is JSON");
    (field("id").parse().expect("numeric id"), field("event"), data)
}

fn push(s: &Server, path: &str, delivery: &str) -> String {
    let r = s.github_webhook(path, "push", delivery, Some(SECRET), &fixture("github/push.json"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["eventId"].as_str().expect("event id").to_owned()
}

#[test]
fn frames_keepalive_and_the_types_filter() {
    let s = server();
    let mut only_pushes = Sse::open(&s, "/api/events/stream?types=ci.push", &[]);
    assert!(only_pushes.head.starts_with("http/1.1 200"), "{}", only_pushes.head);
    assert!(only_pushes.head.contains("content-type: text/event-stream"));
    assert!(only_pushes.head.contains("x-api-version: v1"));
    assert!(only_pushes.head.contains("cache-control: no-cache"));
    let hello = only_pushes.frame();
    assert!(hello.contains("event: connected") && hello.contains(r#"data: {"type":"connected"}"#));
    // Where the stream starts, as an id to resume from (no event yet: 0).
    assert!(hello.contains("\nid: 0\n"), "{hello}");
    let mut everything = Sse::open(&s, "/v1/api/events", &[]);

    let failure = s.github_webhook(
        "/webhooks/github",
        "workflow_run",
        "wf-1",
        Some(SECRET),
        &fixture("github/workflow_run.failure.json"),
    );
    assert_eq!(failure.status, 200);
    let event_id = push(&s, "/webhooks/github", "p-1");

    let (id, event, data) = only_pushes.event();
    assert_eq!(event, "ci.push");
    assert_eq!(format!("evt-{id}"), event_id);
    assert_eq!(data["type"], "ci.push");
    assert_eq!(data["data"]["id"], event_id.as_str());
    assert_eq!(data["data"]["orgId"], "default");
    assert_eq!(data["data"]["source"], "github");
    assert_eq!(data["data"]["details"]["repo"], "acme/api-gateway");
    assert_eq!(data["data"]["details"]["branch"], "main");
    assert!(data["data"]["occurredAt"].as_str().is_some());
    // Nothing else for this client but keepalives.
    let start = Instant::now();
    assert_eq!(only_pushes.frame(), ": keepalive");
    assert!(start.elapsed() < Duration::from_secs(2));

    let (first_id, first, _) = everything.event();
    let (second_id, second, _) = everything.event();
    assert_eq!((first.as_str(), second.as_str()), ("ci.workflow_run.failure", "ci.push"));
    assert!(first_id < second_id);
}

#[test]
fn streams_are_org_scoped() {
    let s = server();
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Beta" })).status, 201);
    let mut beta = Sse::open(&s, "/api/events/stream", &[("x-org-id", "org-beta")]);
    let mut default = Sse::open(&s, "/api/events/stream", &[]);
    let in_default = push(&s, "/webhooks/github", "o-1");
    let in_beta = push(&s, "/webhooks/github?orgId=org-beta", "o-2");
    let (_, _, seen) = beta.event();
    assert_eq!(seen["data"]["id"], in_beta.as_str(), "beta sees only its own event first");
    assert_eq!(seen["data"]["orgId"], "org-beta");
    let (_, _, seen) = default.event();
    assert_eq!(seen["data"]["id"], in_default.as_str());
    assert_eq!(default.frame(), ": keepalive", "default never sees beta's event");
    let bad = s.call("GET", "/api/events", &[("x-org-id", "org-nope")], None);
    bad.expect_error(404, "ORG_NOT_FOUND");
}

#[test]
fn last_event_id_replays_what_a_client_missed() {
    let s = server();
    let mut first = Sse::open(&s, "/api/events/stream", &[]);
    push(&s, "/webhooks/github", "l-1");
    push(&s, "/webhooks/github", "l-2");
    let (_, _, _) = first.event();
    let (last_seen, _, _) = first.event();
    drop(first);
    let missed: Vec<String> =
        (3..=5).map(|n| push(&s, "/webhooks/github", &format!("l-{n}"))).collect();

    let mut again =
        Sse::open(&s, "/api/events/stream", &[("Last-Event-ID", &last_seen.to_string())]);
    let replayed: Vec<String> =
        (0..3).map(|_| again.event().2["data"]["id"].as_str().expect("id").to_owned()).collect();
    assert_eq!(replayed, missed);
    assert_eq!(again.frame(), ": keepalive", "nothing replayed twice");
    // An id from another store (higher than any here) replays what is kept.
    let mut stranger = Sse::open(&s, "/api/events/stream", &[("Last-Event-ID", "999999")]);
    let all: Vec<u64> = (0..5).map(|_| stranger.event().0).collect();
    assert_eq!(all, [1, 2, 3, 4, 5]);
    let bad = s.call("GET", "/api/events/stream", &[("Last-Event-ID", "yesterday")], None);
    bad.expect_error(400, "INVALID_HEADER");
}

#[test]
fn clients_that_stop_reading_never_hold_up_events() {
    let s = server();
    let stalled: Vec<Sse> = (0..4).map(|_| Sse::open(&s, "/api/events/stream", &[])).collect();
    let mut reader = Sse::open(&s, "/api/events/stream", &[]);
    let body = Arc::new(fixture("github/push.json"));
    let started = Instant::now();
    let senders: Vec<_> = (0..4)
        .map(|w| {
            let (addr, body) = (s.addr, Arc::clone(&body));
            std::thread::spawn(move || {
                for n in 0..75 {
                    let stream = TcpStream::connect(addr).expect("connect");
                    let answer =
                        crate::common::post_delivery(stream, SECRET, &format!("s{w}-{n}"), &body);
                    assert!(answer.is_some_and(|a| a["processed"] == true));
                }
            })
        })
        .collect();
    for t in senders {
        t.join().expect("sender");
    }
    let took = started.elapsed();
    let mut ids: Vec<u64> = (0..300).map(|_| reader.event().0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
    ids.dedup();
    assert_eq!(ids.len(), 300);
    eprintln!("300 events acknowledged in {took:?} with 4 stalled clients");
    // A stalled client that resumes gets everything, in order: its stream pulls from the store
    // at its own pace instead of buffering for it.
    let mut late = stalled.into_iter().next().expect("client");
    let resumed: Vec<u64> = (0..300).map(|_| late.event().0).collect();
    assert_eq!(resumed, ids);
}

/// In-process, with the real router and store: a stream nobody reads holds at most its small
/// channel of frames however many events arrive, and still delivers all of them, in order, once
/// its client reads again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_nobody_reads_buffers_a_bounded_number_of_frames() {
    use spar::api::{self, Endpoint, codespar, webhooks};
    use spar::app::App;
    use spar::settings::Settings;

    let dir = tempfile::tempdir().expect("temp dir");
    let app = App::open(dir.path(), Settings::default()).expect("app");
    let state = app.state();
    let stream = Endpoint::CodeSpar(codespar::Endpoint::EventStream);
    let opened = api::handle(&state, api::Request::new(stream, None, "sse".into())).await;
    assert_eq!(opened.status, 200);
    let mut frames = opened.stream.expect("a streamed body");

    let body = fixture("github/push.json");
    let started = Instant::now();
    for n in 0..200 {
        let github = Endpoint::Webhooks(webhooks::Endpoint::Github);
        let mut req = api::Request::new(github, None, format!("r{n}"));
        req.headers = vec![
            ("x-github-event".into(), "push".into()),
            ("x-github-delivery".into(), format!("mem-{n}")),
            ("content-type".into(), "application/json".into()),
        ];
        req.body = crate::common::stamped(&body, &format!("mem-{n}"));
        let answer = api::handle(&state, req).await;
        assert_eq!(answer.status, 200);
        assert!(
            frames.len() <= 8,
            "{} frames buffered for a client that does not read",
            frames.len()
        );
    }
    eprintln!("200 events in {:?} with an unread stream", started.elapsed());
    assert!(frames.len() <= 8);

    let hello = frames.recv().await.expect("hello");
    assert!(String::from_utf8_lossy(&hello).contains("connected"));
    let mut ids = Vec::new();
    while ids.len() < 200 {
        let frame = tokio::time::timeout(Duration::from_secs(10), frames.recv())
            .await
            .expect("frames keep coming")
            .expect("open");
        let text = String::from_utf8_lossy(&frame).into_owned();
        if text.starts_with(':') {
            continue;
        }
        ids.push(parse(text.trim_end()).0);
    }
    assert!(ids.windows(2).all(|w| w[0] + 1 == w[1]), "every event, in order");
    app.shutdown().await;
}

#[test]
fn an_open_stream_does_not_hold_up_shutdown() {
    let mut s = server();
    let mut stream = Sse::open(&s, "/api/events/stream", &[]);
    assert!(stream.frame().contains("connected"));
    let started = Instant::now();
    assert_eq!(s.terminate(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}
