//! `spar events tail`: follows the org's event stream (docs/API.md §2.12) like `tail -F`: after
//! a break, a server restart included, it reconnects and resumes with `Last-Event-ID`, so no
//! event in between is missed or printed twice.

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use serde_json::Value;

use super::remote::{finish, text};
use crate::upstream::path_segment;

/// Follow the live event stream.
#[derive(FromArgs)]
#[argh(subcommand, name = "events")]
pub struct EventsArgs {
    #[argh(subcommand)]
    command: EventsCommand,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum EventsCommand {
    Tail(TailArgs),
}

remote_command! {
    /// Print events as they are recorded; reconnects and resumes after a break.
    TailArgs "tail" {
        /// only these event types: a comma list, `*` as in routes (ci.*,incident.*)
        #[argh(option)]
        types: Option<String>,
        /// stop after this many events
        #[argh(option)]
        count: Option<u64>,
    }
}

/// How long a stream may stay silent before it is taken for dead: three keepalives.
const SILENCE: Duration = Duration::from_secs(90);

/// The stream's lines, read on a thread of their own so a silent connection can be given up
/// on (`None` once it ends). A given-up reader ends with the process.
fn lines_of(
    response: ureq::http::Response<ureq::Body>,
) -> std::sync::mpsc::Receiver<Option<String>> {
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let reader = std::io::BufReader::new(response.into_body().into_reader());
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if send.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = send.send(None);
    });
    lines
}

/// Wait before reconnecting (the stream's own `retry:` hint is 3 s; a restarting server is
/// usually back sooner).
const RECONNECT: Duration = Duration::from_secs(1);

pub fn run(args: EventsArgs) -> ExitCode {
    let EventsCommand::Tail(args) = args.command;
    finish("events tail", tail(&args))
}

fn tail(args: &TailArgs) -> Result<bool, String> {
    let remote = args.remote()?;
    let path = match &args.types {
        Some(types) => format!("/api/events/stream?types={}", path_segment(types)),
        None => "/api/events/stream".to_owned(),
    };
    let mut follower = Follower { last_id: None, printed: 0, count: args.count, json: args.json };
    let mut connected_once = false;
    loop {
        match remote.stream(&path, follower.last_id.as_deref()) {
            Ok(response) => {
                connected_once = true;
                if follower.read(response)? {
                    return Ok(true);
                }
                eprintln!("spar events tail: the stream ended; reconnecting");
            }
            // A refusal of the request itself (a bad token, a bad filter) will not change by
            // retrying; a busy or stopping server (429, 503) will.
            Err(e)
                if ["400", "401", "403", "404"]
                    .iter()
                    .any(|c| e.starts_with(&format!("the server answered {c}"))) =>
            {
                return Err(e);
            }
            Err(e) if !connected_once => return Err(e),
            Err(_) => {}
        }
        // The next `stream` reads the address file again: a restarted server may listen on a
        // new port.
        std::thread::sleep(RECONNECT);
    }
}

struct Follower {
    last_id: Option<String>,
    printed: u64,
    count: Option<u64>,
    json: bool,
}

impl Follower {
    /// Prints the stream's events until it ends (`Ok(false)`) or `count` is reached
    /// (`Ok(true)`).
    fn read(&mut self, response: ureq::http::Response<ureq::Body>) -> Result<bool, String> {
        let lines = lines_of(response);
        let (mut id, mut kind, mut data) = (None::<String>, String::new(), String::new());
        loop {
            // Silence past the keepalive (30 s) and then some means a dead connection.
            let Ok(Some(line)) = lines.recv_timeout(SILENCE) else { return Ok(false) };
            if line.is_empty() {
                if let Some(event_id) = id.take() {
                    // The hello carries the stream's starting point: kept, not printed.
                    if kind != "connected" {
                        self.print(&data);
                    }
                    self.last_id = Some(event_id);
                    if self.count.is_some_and(|n| self.printed >= n) {
                        return Ok(true);
                    }
                }
                kind.clear();
                data.clear();
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("event:") {
                kind = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
    }

    fn print(&mut self, data: &str) {
        let frame: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        let event = &frame["data"];
        if self.json {
            println!("{event}");
        } else {
            println!(
                "{}  {}  {}  {}  {}",
                text(&event["occurredAt"]),
                text(&event["id"]),
                text(&event["type"]),
                text(&event["severity"]),
                text(&event["title"])
            );
        }
        self.printed += 1;
    }
}
