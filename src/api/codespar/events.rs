//! The live event stream (docs/API.md §2.12): `GET /api/events` and `GET /api/events/stream`, as
//! Server-Sent Events. Each normalized event is a frame
//!
//! ```text
//! id: <event seq>
//! event: <type>
//! data: {"type":"<type>","data":{…the event, with its agent and actions…}}
//! ```
//!
//! Org-scoped (`x-org-id`, else org `default`), filtered by `types` (a comma list; `*` works as
//! in routes) and `project`. `: keepalive` every 30 s. `Last-Event-ID` replays what the client
//! missed, up to the last 10 000 events.
//!
//! Streams read the store, not a buffer: each client's task pulls the events after its cursor
//! when it can send, so a client that stops reading holds only its cursor and a few frames in
//! its channel, and never slows event processing.

use bytes::Bytes;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::ApiError;
use crate::api::{OrgId, Request, Response, State};
use crate::engine::react::glob_matches;
use crate::store::records::EventRecord;
use crate::store::{Store, events};

/// How far back `Last-Event-ID` can reach.
pub const REPLAY_WINDOW: u64 = 10_000;
/// Frames waiting for a slow client, at most.
const CHANNEL_FRAMES: usize = 8;
/// Events read from the store per step.
const READ_BATCH: usize = 256;

/// Which events a stream sends.
struct Filter {
    org: String,
    types: Option<Vec<String>>,
    project: Option<String>,
}

impl Filter {
    fn wants(&self, e: &EventRecord) -> bool {
        self.types.as_ref().is_none_or(|ts| ts.iter().any(|t| glob_matches(t, &e.event_type)))
            && self.project.as_ref().is_none_or(|p| e.project_id.as_ref() == Some(p))
    }
}

pub fn stream(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let types = req.query.get("types").map(|t| {
        t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
    });
    let filter = Filter {
        org: org.to_string(),
        types,
        project: req.query.get("project").map(str::to_owned),
    };
    let last_id = req
        .header("last-event-id")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u64>().map_err(|_| ApiError::InvalidHeader {
                name: "Last-Event-ID",
                reason: "must be the id of an event this server sent".into(),
            })
        })
        .transpose()?;
    let newest = events::last_seq(&state.store.read()?)?;
    let oldest_kept = newest.saturating_sub(REPLAY_WINDOW);
    // An id from before the store was replaced (higher than anything here) replays the window.
    let cursor =
        last_id.map_or(newest, |id| if id > newest { oldest_kept } else { id.max(oldest_kept) });
    let (frames, receiver) = mpsc::channel(CHANNEL_FRAMES);
    let producer = Producer {
        store: state.store.clone(),
        filter,
        cursor,
        committed: state.signals.events(),
        closing: state.closing.clone(),
        keepalive: state.settings.stream_keepalive,
        frames,
    };
    tokio::spawn(producer.run());
    let mut response = Response::empty(200)
        .with_header("content-type", "text/event-stream")
        .with_header("cache-control", "no-cache")
        .with_header("x-accel-buffering", "no");
    response.stream = Some(receiver);
    Ok(response)
}

struct Producer {
    store: Store,
    filter: Filter,
    cursor: u64,
    committed: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    keepalive: std::time::Duration,
    frames: mpsc::Sender<Bytes>,
}

impl Producer {
    async fn run(mut self) {
        // The hello carries the cursor as its id, so a client whose stream breaks before its
        // first event resumes from here instead of from whatever is newest when it is back.
        let hello = format!(
            "retry: 3000\nid: {}\nevent: connected\ndata: {{\"type\":\"connected\"}}\n\n",
            self.cursor
        );
        if !self.send(Bytes::from(hello)).await {
            return;
        }
        loop {
            // Marked seen before reading, so a commit during the read wakes the next wait.
            self.committed.borrow_and_update();
            if !self.send_new_events().await {
                return;
            }
            let keepalive = tokio::time::sleep(self.keepalive);
            tokio::select! {
                changed = self.committed.changed() => if changed.is_err() { return },
                () = keepalive => {
                    if !self.send(Bytes::from_static(b": keepalive\n\n")).await {
                        return;
                    }
                }
                _ = self.closing.changed() => return,
                () = self.frames.closed() => return,
            }
        }
    }

    /// Sends every wanted event after the cursor; false when the stream should end.
    async fn send_new_events(&mut self) -> bool {
        loop {
            let batch = match self
                .store
                .read()
                .and_then(|r| events::after(&r, &self.filter.org, self.cursor, READ_BATCH))
            {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(error = %e, "event stream: cannot read events");
                    return false;
                }
            };
            if batch.is_empty() {
                return true;
            }
            for event in batch {
                self.cursor = event.seq;
                if self.filter.wants(&event) && !self.send(frame(&event)).await {
                    return false;
                }
            }
        }
    }

    /// Waits until the client takes the frame (backpressure), or the server shuts down.
    async fn send(&mut self, frame: Bytes) -> bool {
        if *self.closing.borrow() {
            return false;
        }
        tokio::select! {
            sent = self.frames.send(frame) => sent.is_ok(),
            _ = self.closing.changed() => false,
        }
    }
}

fn frame(e: &EventRecord) -> Bytes {
    let data = json!({
        "type": e.event_type,
        "data": {
            "id": e.id, "orgId": e.org_id, "projectId": e.project_id, "source": e.source,
            "type": e.event_type, "severity": e.severity, "title": e.title,
            "details": e.details, "fingerprint": e.fingerprint, "occurredAt": e.occurred_at,
            "agentId": e.agent_id, "actions": e.actions,
        },
    });
    // The event type is ours (letters, digits, dots, underscores): safe on an `event:` line;
    // compact JSON has no raw newlines.
    Bytes::from(format!("id: {}\nevent: {}\ndata: {}\n\n", e.seq, e.event_type, data))
}
