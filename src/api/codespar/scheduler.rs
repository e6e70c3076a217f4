//! The scheduler API (docs/API.md §2.15). Tasks belong to an org (the request's, `default` without
//! `x-org-id`); the built-ins belong to `default`. The runtime in `sched/` follows the table.

use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::channels::check_egress;
use crate::api::{OrgId, Request, Response, State, body};
use crate::clock;
use crate::sched::host_of;
use crate::sched::task::{self, MIN_INTERVAL_MS, TaskKey};
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{TaskAction, TaskRecord};
use crate::store::{Source, tasks};

/// A year: longer intervals are almost certainly a unit mistake.
const MAX_INTERVAL_MS: u64 = 366 * 24 * 3_600_000;
/// Tasks an org may define (docs/API.md §2.15): each one is a timer and its runs.
pub const MAX_TASKS_PER_ORG: usize = 50;
const MAX_WINDOW_HOURS: u32 = 24 * 366;

fn view(state: &State, t: &TaskRecord) -> Value {
    let key = TaskKey::of(t);
    let next = state.scheduler.next_run(t).map(clock::rfc3339);
    json!({
        "name": t.name,
        "schedule": t.schedule,
        "intervalMs": t.interval_ms,
        "lastRun": t.last_run_ms.map(clock::rfc3339),
        "nextRun": next,
        "runCount": t.run_count,
        "errors": t.errors,
        "lastError": t.last_error,
        "enabled": t.enabled,
        "builtIn": t.built_in,
        "running": state.scheduler.is_running(&key),
        "action": action_view(&t.action),
    })
}

/// The action without secrets: a webhook shows its host only.
fn action_view(action: &TaskAction) -> Value {
    match action {
        TaskAction::HealthCheck => json!({ "type": "health-check" }),
        TaskAction::BuildStatusReport => json!({ "type": "build-status-report" }),
        TaskAction::AuditCleanup => json!({ "type": "audit-cleanup" }),
        TaskAction::Digest { event_type, window_hours } => {
            json!({ "type": "digest", "eventType": event_type, "windowHours": window_hours })
        }
        TaskAction::Webhook { url, .. } => json!({ "type": "webhook", "host": host_of(url) }),
    }
}

pub fn list(state: &State, org: &OrgId) -> Result<Response, ApiError> {
    let all = tasks::list(&state.store.read()?, org.as_str())?;
    let views: Vec<Value> = all.iter().map(|t| view(state, t)).collect();
    Ok(Response::ok(&views))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewTask {
    name: Option<String>,
    schedule: Option<String>,
    interval_ms: Option<u64>,
    action: Option<NewAction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewAction {
    #[serde(rename = "type")]
    kind: Option<String>,
    event_type: Option<String>,
    window_hours: Option<u32>,
    url: Option<String>,
    body: Option<Value>,
}

pub async fn create(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: NewTask = body::json(&req.body)?;
    let name = body::required(input.name, "name")?;
    check_name(&name)?;
    let (schedule, interval_ms) = timing(input.schedule, input.interval_ms)?;
    let action = action(input.action.ok_or_else(|| ApiError::MissingField("action".into()))?)?;
    if let TaskAction::Webhook { url, .. } = &action {
        check_egress(state, "action.url", url).await?;
    }
    let org = org.to_string();
    let actor = req.actor().to_owned();
    let now = clock::now_ms();
    let task = TaskRecord {
        org_id: org,
        name,
        schedule,
        interval_ms,
        action,
        enabled: true,
        built_in: false,
        run_count: 0,
        errors: 0,
        last_error: None,
        last_run_ms: None,
        created_at_ms: now,
        state: Value::Null,
    };
    let stored = task.clone();
    state
        .store
        .write(move |tx| {
            if task::is_built_in_name(&task.name)
                || tasks::get(tx, &task.org_id, &task.name)?.is_some()
            {
                return Err(ApiError::TaskAlreadyExists(task.name.clone()));
            }
            if tasks::list(tx, &task.org_id)?.len() >= MAX_TASKS_PER_ORG {
                return Err(ApiError::TooManyTasks(MAX_TASKS_PER_ORG));
            }
            tasks::put(tx, &task)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "scheduler.task_created")
                .meta("name", task.name.as_str())
                .meta("schedule", task.schedule.clone().map_or(Value::Null, Value::from))
                .meta("intervalMs", task.interval_ms.map_or(Value::Null, Value::from))
                .meta("action", action_view(&task.action));
            audit::append(tx, &task.org_id, draft)?;
            Ok(())
        })
        .await?;
    state.scheduler.changed();
    Ok(Response::json(201, &view(state, &stored)))
}

/// Names appear in paths: letters, digits, `.`, `_`, `:` and `-`, at most 64.
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidField {
            field: "name".into(),
            reason: "use 1 to 64 letters, digits, '.', '_', ':' or '-'".into(),
        })
    }
}

fn timing(
    schedule: Option<String>,
    interval_ms: Option<u64>,
) -> Result<(Option<String>, Option<u64>), ApiError> {
    let schedule = schedule.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    match (schedule, interval_ms) {
        (Some(_), Some(_)) => Err(ApiError::InvalidSchedule(
            "give either schedule (cron) or intervalMs, not both".into(),
        )),
        (None, None) => Err(ApiError::InvalidSchedule(
            "a task needs a schedule (cron expression) or intervalMs".into(),
        )),
        (Some(expr), None) => {
            task::check_cron(&expr).map_err(ApiError::InvalidSchedule)?;
            Ok((Some(expr), None))
        }
        (None, Some(ms)) if ms < MIN_INTERVAL_MS => Err(ApiError::InvalidSchedule(format!(
            "intervalMs must be at least {MIN_INTERVAL_MS} (10 seconds), got {ms}"
        ))),
        (None, Some(ms)) if ms > MAX_INTERVAL_MS => Err(ApiError::InvalidSchedule(format!(
            "intervalMs must be at most {MAX_INTERVAL_MS} (366 days), got {ms}"
        ))),
        (None, Some(ms)) => Ok((None, Some(ms))),
    }
}

fn action(input: NewAction) -> Result<TaskAction, ApiError> {
    let invalid = |field: &str, reason: &str| ApiError::InvalidField {
        field: format!("action.{field}"),
        reason: reason.into(),
    };
    let kind = input.kind.ok_or_else(|| ApiError::MissingField("action.type".into()))?;
    match kind.as_str() {
        "digest" => {
            let event_type = input.event_type.unwrap_or_else(|| "report.digest".into());
            body::short_text("action.eventType", &event_type, 200)?;
            if event_type.contains('*') {
                return Err(invalid("eventType", "name one event type, without '*'"));
            }
            let window_hours = input.window_hours.unwrap_or(24);
            if !(1..=MAX_WINDOW_HOURS).contains(&window_hours) {
                return Err(invalid("windowHours", "must be between 1 and 8784"));
            }
            Ok(TaskAction::Digest { event_type, window_hours })
        }
        "webhook" => {
            let url = input.url.ok_or_else(|| ApiError::MissingField("action.url".into()))?;
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || url.len() > 2048 || url.chars().any(char::is_whitespace) {
                return Err(invalid("url", "must be an http:// or https:// URL"));
            }
            Ok(TaskAction::Webhook { url, body: input.body.unwrap_or_else(|| json!({})) })
        }
        _ => Err(invalid("type", "must be digest or webhook")),
    }
}

/// The task, or 404 `TASK_NOT_FOUND`.
fn find(src: &impl Source, key: &TaskKey) -> Result<TaskRecord, ApiError> {
    tasks::get(src, &key.org, &key.name)?.ok_or_else(|| ApiError::TaskNotFound(key.name.clone()))
}

/// Pause (`enabled: false`) or resume: the timer keeps going, runs are skipped while paused.
pub async fn set_enabled(
    state: &State,
    org: &OrgId,
    req: &Request,
    name: &str,
    enabled: bool,
) -> Result<Response, ApiError> {
    let key = TaskKey::new(org.as_str(), name);
    let actor = req.actor().to_owned();
    let target = key.clone();
    state
        .store
        .write(move |tx| {
            let mut t = find(tx, &target)?;
            if t.enabled == enabled {
                return Ok::<_, ApiError>(());
            }
            t.enabled = enabled;
            tasks::put(tx, &t)?;
            let action = if enabled { "scheduler.task_resumed" } else { "scheduler.task_paused" };
            let draft =
                AuditDraft::new(ActorType::User, &actor, action).meta("name", t.name.as_str());
            audit::append(tx, &t.org_id, draft)?;
            Ok(())
        })
        .await?;
    state.scheduler.changed();
    let message = if enabled { "Task resumed" } else { "Task paused" };
    Ok(Response::ok(&json!({ "name": key.name, "enabled": enabled, "message": message })))
}

/// Deletes a task. A built-in comes back, with fresh counts, at the next start.
pub async fn delete(
    state: &State,
    org: &OrgId,
    req: &Request,
    name: &str,
) -> Result<Response, ApiError> {
    let key = TaskKey::new(org.as_str(), name);
    let actor = req.actor().to_owned();
    let target = key.clone();
    state
        .store
        .write(move |tx| {
            let t = find(tx, &target)?;
            tasks::remove(tx, &t.org_id, &t.name)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "scheduler.task_deleted")
                .meta("name", t.name.as_str())
                .meta("builtIn", t.built_in);
            audit::append(tx, &t.org_id, draft)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    state.scheduler.changed();
    Ok(Response::ok(&json!({ "name": key.name, "message": "Task cancelled" })))
}

/// Runs a task now, paused or not, and answers when the run is over.
pub async fn run(state: &State, org: &OrgId, name: &str) -> Result<Response, ApiError> {
    let key = TaskKey::new(org.as_str(), name);
    find(&state.store.read()?, &key)?;
    let outcome =
        state.scheduler.run_now(&key).await.map_err(|_| ApiError::TaskRunning(key.name.clone()))?;
    let task = find(&state.store.read()?, &key)?;
    Ok(Response::ok(&json!({
        "name": key.name,
        "success": outcome.is_ok(),
        "error": outcome.err(),
        "task": view(state, &task),
    })))
}
