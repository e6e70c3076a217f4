//! The outbox worker: sends pending deliveries, soonest due first, and records each outcome.
//! A delivery is a chat message, or an incident agent's upstream action (a Linear issue, a
//! PagerDuty trigger): both get the same durability, retries and `dead` state.
//!
//! A delivery is retried on a retryable failure (no answer, 5xx, 429) after an exponential
//! backoff with jitter (the base, 3 s by default, times 3 per attempt, or the service's own
//! `Retry-After` when longer), at most [`MAX_ATTEMPTS`] times (about an hour); a permanent failure
//! makes it `dead` at once. Outcomes are written, with an audit entry, through the store's
//! writer, so a restart resumes exactly the deliveries still pending.
//!
//! **Invariant:** a delivery is sent by one task at a time (`in_flight`), and only when a read
//! taken after claiming it shows it `pending` and due. A send releases its claim only after its
//! outcome committed, so no delivery is sent twice by a running server.
//!
//! **Invariant:** stopping sends nothing twice either. When `closing` turns true the worker
//! claims nothing more and waits (at most [`DRAIN`]) for the sends under way, which are tasks of
//! its `JoinSet`, to record their outcomes; only then does [`Outbox::run`] return, and the store
//! closes after it. A send still unanswered after [`DRAIN`] (longer than the upstream timeout,
//! so only a send stuck past it) stays `pending` and is sent again after the restart.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::channels;
use crate::clock;
use crate::ids::{self, IncidentId};
use crate::settings::{Secret, Settings};
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{
    ChannelStatusRecord, DeliveryAttempt, DeliveryKind, DeliveryRecord, DeliveryStatus,
};
use crate::store::{self as store_mod, Store, StoreError, WriteTx, outbox};
use crate::upstream::chat::{Chat, ChatApis, SendFailure};
use crate::upstream::linear::{Linear, NewIssue};
use crate::upstream::pagerduty::{self, Trigger};
use crate::upstream::{FailureClass, Upstream, UpstreamError, blocking};

/// Attempts before a delivery is `dead` (docs/API.md §4).
pub const MAX_ATTEMPTS: u32 = 8;
/// Sends running at once (each holds a blocking-pool thread while it waits for the service).
const CONCURRENCY: usize = 32;
/// Due deliveries read per pass.
const BATCH: usize = 256;
/// Longest sleep between passes, so a clock jump never strands a delivery.
const MAX_IDLE: Duration = Duration::from_secs(1);
/// How long stopping waits for the sends under way (each is bounded by the upstream timeout,
/// 10 s by default).
pub const DRAIN: Duration = Duration::from_secs(15);

pub struct Outbox {
    store: Store,
    settings: Settings,
    chat: Chat,
    http: Upstream,
    wake: Arc<Notify>,
    in_flight: Mutex<HashSet<u64>>,
    sends: Arc<Semaphore>,
}

impl Outbox {
    pub fn new(store: Store, settings: Settings, http: Upstream) -> Self {
        let apis = ChatApis {
            slack: settings.slack_api_url.clone(),
            discord: settings.discord_api_url.clone(),
            telegram: settings.telegram_api_url.clone(),
            bot_url: settings.webhook_base_url.clone(),
        };
        Self {
            store,
            settings,
            chat: Chat::new(http.clone(), apis),
            http,
            wake: Arc::new(Notify::new()),
            in_flight: Mutex::new(HashSet::new()),
            sends: Arc::new(Semaphore::new(CONCURRENCY)),
        }
    }

    pub fn chat(&self) -> &Chat {
        &self.chat
    }

    /// Tells the worker new deliveries are due (after the transaction that wrote them).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What wakes the worker, for [`super::Signals`].
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// The worker loop; when `closing` turns true it stops claiming, waits for the sends under
    /// way (at most [`DRAIN`]), and returns.
    pub async fn run(self: Arc<Self>, mut closing: watch::Receiver<bool>) {
        let mut sends = JoinSet::new();
        loop {
            if *closing.borrow() {
                break;
            }
            if let Err(e) = self.dispatch_due(&mut sends).await {
                tracing::error!(error = %e, "outbox: cannot read pending deliveries");
            }
            let idle = self.idle_time();
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(idle) => {}
                Some(_) = sends.join_next() => {}
                _ = closing.changed() => {}
            }
        }
        if !sends.is_empty() {
            tracing::info!(sends = sends.len(), "outbox: waiting for the sends under way");
        }
        let drained =
            tokio::time::timeout(DRAIN, async { while sends.join_next().await.is_some() {} });
        if drained.await.is_err() {
            tracing::warn!(
                sends = sends.len(),
                "outbox: sends still unanswered after {DRAIN:?}; they stay pending and are sent again after the restart"
            );
            sends.abort_all();
        }
    }

    /// Starts a send for due deliveries not already being sent, as many as there are free
    /// send slots (a completed send wakes the loop for the next ones).
    async fn dispatch_due(self: &Arc<Self>, sends: &mut JoinSet<()>) -> Result<(), StoreError> {
        let free = self.sends.available_permits().min(BATCH);
        if free == 0 {
            return Ok(());
        }
        let now = clock::now_ms();
        let due = outbox::due(&self.store.read()?, now, free, |seq| self.is_in_flight(seq))?;
        for (org, seq) in due {
            if !self.claim(seq) {
                continue;
            }
            // Read again after claiming: a send that finished after the snapshot above has
            // committed its outcome before releasing its claim, so this read sees it.
            let current = outbox::get(&self.store.read()?, &org, seq)?;
            let Some(delivery) = current.filter(|d| {
                d.status == DeliveryStatus::Pending && d.next_attempt_ms.is_none_or(|t| t <= now)
            }) else {
                self.release(seq);
                continue;
            };
            let Ok(permit) = Arc::clone(&self.sends).acquire_owned().await else {
                self.release(seq);
                return Ok(());
            };
            let this = Arc::clone(self);
            sends.spawn(async move {
                let seq = delivery.seq;
                this.attempt(delivery).await;
                this.release(seq);
                drop(permit);
            });
        }
        Ok(())
    }

    fn is_in_flight(&self, seq: u64) -> bool {
        self.in_flight.lock().is_ok_and(|set| set.contains(&seq))
    }

    fn claim(&self, seq: u64) -> bool {
        self.in_flight.lock().is_ok_and(|mut set| set.insert(seq))
    }

    fn release(&self, seq: u64) {
        if let Ok(mut set) = self.in_flight.lock() {
            set.remove(&seq);
        }
    }

    /// Until the soonest delivery not in flight is due, at most [`MAX_IDLE`].
    fn idle_time(&self) -> Duration {
        let next = self.store.read().and_then(|r| outbox::next_due_ms(&r)).ok().flatten();
        let in_flight = self.in_flight.lock().map(|s| s.len()).unwrap_or(0);
        match next {
            // The soonest one may be in flight: its completion wakes the loop.
            Some(_) if in_flight > 0 => MAX_IDLE,
            Some(due) => {
                let wait = due.saturating_sub(clock::now_ms()).max(0);
                Duration::from_millis(u64::try_from(wait).unwrap_or(0)).min(MAX_IDLE)
            }
            None => MAX_IDLE,
        }
    }

    /// One attempt: resolve the credentials, send, record the outcome.
    async fn attempt(&self, delivery: DeliveryRecord) {
        let (started_ms, clock_started) = (clock::now_ms(), std::time::Instant::now());
        let outcome = match delivery.kind {
            DeliveryKind::Message => self.send_message(&delivery).await.map(|()| None),
            DeliveryKind::LinearIssue => self.open_linear_issue(&delivery).await.map(Some),
            DeliveryKind::PagerdutyTrigger => {
                self.trigger_pagerduty(&delivery).await.map(|()| None)
            }
        };
        let took = Timing {
            at_ms: started_ms,
            duration_ms: u64::try_from(clock_started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        let base = self.settings.outbox_backoff;
        let (org, seq) = (delivery.org_id.clone(), delivery.seq);
        let recorded =
            self.store.write(move |tx| record_outcome(tx, &org, seq, &outcome, took, base)).await;
        match recorded {
            Ok(Some(failed)) => failed.log(),
            Ok(None) => {}
            // Still pending in the store: the next pass sends it again.
            Err(e) => {
                tracing::error!(delivery = %delivery.id, error = %e, "outbox: cannot record an outcome");
            }
        }
    }

    async fn send_message(&self, delivery: &DeliveryRecord) -> Result<(), SendFailure> {
        let target = self.store.read().and_then(|r| {
            channels::target(&r, &self.settings, &delivery.org_id, &delivery.channel)
        });
        match target {
            Err(e) => Err(SendFailure::retry(FailureClass::Internal, format!("storage: {e}"))),
            Ok(None) => Err(SendFailure::permanent(
                FailureClass::NotConfigured,
                format!(
                    "{} is not configured for org {} (POST /api/channels/configure)",
                    delivery.channel, delivery.org_id
                ),
            )),
            Ok(Some(target)) => {
                let chat = self.chat.clone();
                let (channel_id, text) = (delivery.channel_id.clone(), delivery.text.clone());
                blocking(move || Ok::<_, UpstreamError>(chat.send(&target, &channel_id, &text)))
                    .await
                    .unwrap_or_else(|e| Err(SendFailure::of(&e)))
            }
        }
    }

    /// The org's config of an integration, or a permanent failure naming what is missing.
    fn integration_config(
        &self,
        org: &str,
        name: &str,
        keys: &[&str],
    ) -> Result<BTreeMap<String, String>, SendFailure> {
        let config = self
            .store
            .read()
            .and_then(|r| channels::config(&r, &self.settings, org, name))
            .map_err(|e| SendFailure::retry(FailureClass::Internal, format!("storage: {e}")))?;
        let config: BTreeMap<String, String> =
            config.unwrap_or_default().into_iter().filter(|(_, v)| !v.is_empty()).collect();
        match keys.iter().find(|k| !config.contains_key(**k)) {
            Some(missing) => Err(SendFailure::permanent(
                FailureClass::NotConfigured,
                format!("{name} {missing} is not configured for org {org}"),
            )),
            None => Ok(config),
        }
    }

    /// Creates the Linear issue; its identifier (`ENG-348`) is the result.
    async fn open_linear_issue(&self, delivery: &DeliveryRecord) -> Result<String, SendFailure> {
        let config = self.integration_config(&delivery.org_id, "linear", &["apiKey", "teamId"])?;
        let p = &delivery.payload;
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
        let issue = NewIssue {
            team_id: config.get("teamId").cloned().unwrap_or_default(),
            title: text("title"),
            description: Some(text("description")).filter(|d| !d.is_empty()),
            priority: None,
            label_ids: Vec::new(),
        };
        let key = Secret::new(config.get("apiKey").cloned().unwrap_or_default());
        let linear = Linear::new(self.http.clone(), &self.settings.linear_api_url, key);
        blocking(move || Ok::<_, UpstreamError>(linear.create_issue(&issue)))
            .await
            .unwrap_or_else(Err)
            .map(|created| created.identifier)
            .map_err(|e| SendFailure::of(&e))
    }

    async fn trigger_pagerduty(&self, delivery: &DeliveryRecord) -> Result<(), SendFailure> {
        let config = self.integration_config(&delivery.org_id, "pagerduty", &["routingKey"])?;
        let trigger: Trigger = serde_json::from_value(delivery.payload.clone()).map_err(|e| {
            SendFailure::permanent(FailureClass::Internal, format!("unreadable trigger: {e}"))
        })?;
        let key = Secret::new(config.get("routingKey").cloned().unwrap_or_default());
        let (http, url) = (self.http.clone(), self.settings.pagerduty_events_url.clone());
        let answer = blocking(move || pagerduty::trigger(&http, &url, &key, &trigger))
            .await
            .map_err(|e| SendFailure::of(&e))?;
        if answer.is_success() {
            return Ok(());
        }
        // A 400 is an invalid event: sending it again would not help.
        Err(SendFailure::of(&answer.into_error()))
    }
}

/// When an attempt started and how long it took.
#[derive(Debug, Clone, Copy)]
struct Timing {
    at_ms: i64,
    duration_ms: u64,
}

/// A failed attempt, as its `warn` line names it once its outcome committed: what the
/// delivery's `lastError` (scrubbed of credentials) and attempt log say, never the message sent.
struct Failed {
    delivery: String,
    org: String,
    channel: String,
    kind: DeliveryKind,
    attempts: u32,
    class: FailureClass,
    error: String,
    /// When it is sent again; `None`: it is dead.
    retry_at_ms: Option<i64>,
}

impl Failed {
    fn log(&self) {
        let kind = match self.kind {
            DeliveryKind::Message => "message",
            DeliveryKind::LinearIssue => "linear_issue",
            DeliveryKind::PagerdutyTrigger => "pagerduty_trigger",
        };
        let message = match self.retry_at_ms {
            Some(_) => "outbox: delivery attempt failed; will retry",
            None => "outbox: delivery dead; it is not retried (POST /api/deliveries/:id/retry)",
        };
        let retry_in_ms = self.retry_at_ms.map(|at| at.saturating_sub(clock::now_ms()).max(0));
        tracing::warn!(
            delivery = self.delivery,
            org = self.org,
            channel = self.channel,
            kind,
            attempts = self.attempts,
            max_attempts = MAX_ATTEMPTS,
            error_class = self.class.as_str(),
            http_status = self.class.http_status(),
            error = self.error,
            retry_in_ms,
            "{message}"
        );
    }
}

/// Writes what an attempt did to the delivery (its attempt log included), its channel's status
/// and the audit trail; a failed attempt is returned for the log.
fn record_outcome(
    tx: &WriteTx<'_>,
    org: &str,
    seq: u64,
    outcome: &Result<Option<String>, SendFailure>,
    took: Timing,
    base: Duration,
) -> Result<Option<Failed>, StoreError> {
    let Some(before) = outbox::get(tx, org, seq)? else { return Ok(None) };
    if before.status != DeliveryStatus::Pending {
        return Ok(None);
    }
    let now = clock::now_ms();
    let mut after = before.clone();
    after.attempts += 1;
    let mut status = channels_status(tx, org, &after.channel)?;
    let (sent, retry, dead) = match after.kind {
        DeliveryKind::Message => ("notification.sent", "notification.retry", "notification.dead"),
        _ => ("action.done", "action.retry", "action.dead"),
    };
    let action = match outcome {
        Ok(result) => {
            after.status = DeliveryStatus::Delivered;
            after.delivered_at_ms = Some(now);
            after.next_attempt_ms = None;
            after.result = result.clone();
            status.connected = true;
            status.last_delivery_ms = Some(now);
            sent
        }
        Err(SendFailure::Retry { reason, after: wait, .. }) if after.attempts < MAX_ATTEMPTS => {
            let delay = backoff(base, after.attempts).max(wait.unwrap_or_default());
            after.next_attempt_ms = Some(now + i64::try_from(delay.as_millis()).unwrap_or(0));
            after.last_error = Some(reason.clone());
            status.connected = false;
            status.last_error = Some(reason.clone());
            retry
        }
        Err(failure) => {
            after.status = DeliveryStatus::Dead;
            after.next_attempt_ms = None;
            after.last_error = Some(failure.reason().to_owned());
            status.connected = false;
            status.last_error = Some(failure.reason().to_owned());
            dead
        }
    };
    let failure = outcome.as_ref().err().map(SendFailure::class);
    after.log_attempt(DeliveryAttempt {
        at_ms: took.at_ms,
        duration_ms: took.duration_ms,
        outcome: match after.status {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Pending => "retry",
            DeliveryStatus::Dead => "dead",
        }
        .to_owned(),
        error: failure.map(|c| c.as_str().to_owned()),
        http_status: failure.and_then(FailureClass::http_status),
    });
    outbox::put(tx, Some(&before), &after)?;
    if after.kind == DeliveryKind::Message {
        store_mod::channels::put_status(tx, org, &after.channel, &status)?;
    }
    if let (DeliveryKind::LinearIssue, Some(identifier)) = (after.kind, &after.result) {
        note_linear_issue(tx, org, &after, identifier)?;
    }
    let mut draft = AuditDraft::new(ActorType::System, "outbox", action)
        .meta("deliveryId", after.id)
        .meta("eventId", after.event_id.as_str())
        .meta("channel", after.channel.as_str())
        .meta("channelId", after.channel_id.as_str())
        .meta("attempts", after.attempts);
    if let Some(error) = &after.last_error
        && action != sent
    {
        draft = draft.meta("error", error.as_str());
    }
    if let Some(result) = &after.result {
        draft = draft.meta("result", result.as_str());
    }
    audit::append(tx, org, draft)?;
    Ok(failure.map(|class| Failed {
        delivery: after.id.to_string(),
        org: org.to_owned(),
        channel: after.channel.clone(),
        kind: after.kind,
        attempts: after.attempts,
        class,
        error: after.last_error.clone().unwrap_or_default(),
        retry_at_ms: after.next_attempt_ms,
    }))
}

/// Notes a created Linear issue on the incident it was opened for.
fn note_linear_issue(
    tx: &WriteTx<'_>,
    org: &str,
    delivery: &DeliveryRecord,
    identifier: &str,
) -> Result<(), StoreError> {
    let seq = delivery
        .payload
        .get("incidentId")
        .and_then(|v| v.as_str())
        .and_then(IncidentId::parse)
        .map(IncidentId::seq);
    let Some(mut incident) =
        seq.map(|s| store_mod::incidents::get(tx, org, s)).transpose()?.flatten()
    else {
        return Ok(());
    };
    incident.linear_issue = Some(identifier.to_owned());
    store_mod::incidents::put(tx, &incident)
}

fn channels_status(
    tx: &WriteTx<'_>,
    org: &str,
    channel: &str,
) -> Result<ChannelStatusRecord, StoreError> {
    Ok(store_mod::channels::status(tx, org, channel)?.unwrap_or_default())
}

/// `base × 3^(attempt-1)`, ±20% jitter, at most an hour.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = 3u32.saturating_pow(attempt.saturating_sub(1).min(12));
    let plain = base.saturating_mul(exp).min(Duration::from_secs(3600));
    let jitter = 0.8 + (ids::random_u64() % 401) as f64 / 1000.0;
    plain.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_threefold_with_jitter_and_spans_about_an_hour() {
        let base = Duration::from_secs(3);
        for attempt in 1..MAX_ATTEMPTS {
            let plain = 3.0 * 3f64.powi(attempt as i32 - 1);
            let got = backoff(base, attempt).as_secs_f64();
            assert!(got >= plain * 0.79 && got <= plain * 1.21, "attempt {attempt}: {got}");
        }
        let total: f64 = (1..MAX_ATTEMPTS).map(|a| 3.0 * 3f64.powi(a as i32 - 1)).sum();
        assert!((2_700.0..=4_500.0).contains(&total), "{total} s");
    }
}
