//! Deploy webhooks into deploy events (docs/API.md §3.5 Vercel, §3.6 the generic deploy hook,
//! §4.1 the types), recorded like CI events: the normalized event, audit `deploy_event`, a `ci`
//! memory entry, the delivery's receipt and the handling agent's reaction, in one transaction.
//!
//! | sender says | type |
//! |---|---|
//! | Vercel `deployment.succeeded` (or the older `deployment.ready`); generic `success` | `deploy.success` |
//! | Vercel `deployment.error`; generic `failure` | `deploy.failure` |
//! | Vercel `deployment.canceled`; generic `cancelled` (or `canceled`) | `deploy.cancelled` |
//! | Vercel `deployment.created`, `deployment.prepared`, a `BUILDING`/`INITIALIZING`/`QUEUED` state; generic `pending` | intermediate: answered, not recorded |
//!
//! Other Vercel event types are answered as not handled. A failed deploy is the autonomy table's
//! *failure* column (its type ends in `.failure`), the others are routine (docs/API.md §4.3).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::github::{PayloadError, decode};
use super::{Handler, Ingested, Policy, Receipt, react};
use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft, AuditResult};
use crate::store::memory::NewMemory;
use crate::store::records::{EventAction, EventRecord, ProjectRecord};
use crate::store::{StoreError, WriteTx, events, memory, projects};

/// Longest kept text of a name, branch, author or state; of a commit message's first line; of
/// an error; of a URL (longer ones are cut, not refused: docs/API.md §3.5).
const MAX_NAME: usize = 200;
const MAX_MESSAGE: usize = 200;
const MAX_ERROR: usize = 500;
const MAX_URL: usize = 2048;
/// A delivery id (Vercel's `id`) or a sender name (the generic `source`): like webhook headers.
const MAX_ID: usize = 128;
const MAX_SOURCE: usize = 64;

/// How a deploy ended: the last part of its event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Cancelled => "cancelled",
        }
    }

    fn verdict(self) -> &'static str {
        match self {
            Self::Success => "succeeded",
            Self::Failure => "failed",
            Self::Cancelled => "was cancelled",
        }
    }
}

/// One finished deploy, whoever reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployEvent {
    /// `vercel` or `deploy`: the webhook it came through (the event's `source`).
    pub source: &'static str,
    /// Who sent it, the audit entry's actor: `vercel`, or the generic body's `source`.
    pub sender: String,
    pub outcome: Outcome,
    /// The state as the sender put it (`succeeded`, `ERROR`, `failure`).
    pub state: String,
    /// The deployed project's name (Vercel's deployment name, the generic `project`).
    pub project: Option<String>,
    /// `owner/name` of the repository deployed, when known.
    pub repo: Option<String>,
    pub branch: Option<String>,
    pub sha: Option<String>,
    pub author: Option<String>,
    /// The commit message's first line, or the generic `message`.
    pub message: Option<String>,
    pub url: Option<String>,
    /// Where to inspect the deploy (Vercel's dashboard link).
    pub inspector_url: Option<String>,
    pub error: Option<String>,
    /// `production`, `preview`, `staging`, … (Vercel's `target`, the generic `environment`).
    pub target: Option<String>,
    pub deployment_id: Option<String>,
    pub occurred_at_ms: Option<i64>,
}

impl DeployEvent {
    /// The normalized event type (docs/API.md §4.1): `deploy.success`, `.failure`, `.cancelled`.
    pub fn event_type(&self) -> String {
        format!("deploy.{}", self.outcome.as_str())
    }

    /// "Deploy 'web' failed to production on main (abc1234)".
    pub fn title(&self) -> String {
        let mut out = match self.project.as_deref().or(self.repo.as_deref()) {
            Some(name) => format!("Deploy '{name}' {}", self.outcome.verdict()),
            None => format!("Deploy {}", self.outcome.verdict()),
        };
        if let Some(target) = &self.target {
            out.push_str(&format!(" to {target}"));
        }
        if let Some(branch) = &self.branch {
            out.push_str(&format!(" on {branch}"));
        }
        if let Some(sha) = &self.sha {
            out.push_str(&format!(" ({})", sha.get(..7).unwrap_or(sha)));
        }
        out
    }

    /// Groups repeats: one project's deploys to one target from one branch.
    pub fn fingerprint(&self) -> String {
        let name = self.project.as_deref().or(self.repo.as_deref()).unwrap_or("");
        format!(
            "{}:{}:{}:{}",
            self.source,
            name.to_ascii_lowercase(),
            self.target.as_deref().unwrap_or(""),
            self.branch.as_deref().unwrap_or("")
        )
    }

    pub fn is_failure(&self) -> bool {
        self.outcome == Outcome::Failure
    }
}

/// What a deploy delivery turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Deploy(Box<DeployEvent>),
    /// Created, building, queued, pending: answered `intermediate_state`, not recorded.
    Intermediate {
        state: String,
    },
    /// A Vercel event that is not about a deployment's outcome (`project.created`, …).
    Unhandled,
}

/// A Vercel delivery: its id, its type, the repository it names (to find its org) and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Vercel {
    pub id: Option<String>,
    pub kind: String,
    pub repo: Option<String>,
    pub parsed: Parsed,
}

/// A generic deploy delivery: its `status`, the repository its `project` names (when it has the
/// form `owner/name`) and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Generic {
    pub status: String,
    pub repo: Option<String>,
    pub parsed: Parsed,
}

// The parts of Vercel's webhook that Spar reads; everything else is skipped while parsing.

#[derive(Deserialize, Default)]
#[serde(default)]
struct VercelBody {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "createdAt")]
    created_at: Option<Value>,
    payload: Option<VercelPayload>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VercelPayload {
    deployment: Option<Deployment>,
    target: Option<String>,
    links: Option<Links>,
    // The older, flat payload: the deployment's fields beside the others.
    #[serde(rename = "deploymentId")]
    deployment_id: Option<String>,
    name: Option<String>,
    url: Option<String>,
    meta: Option<Meta>,
    state: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Deployment {
    id: Option<String>,
    name: Option<String>,
    url: Option<String>,
    meta: Option<Meta>,
    state: Option<String>,
    #[serde(rename = "readyState")]
    ready_state: Option<String>,
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
    #[serde(rename = "inspectorUrl")]
    inspector_url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Links {
    deployment: Option<String>,
}

/// `payload.deployment.meta`: what Vercel knows of the Git commit deployed.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    github_commit_sha: Option<String>,
    github_commit_message: Option<String>,
    github_commit_ref: Option<String>,
    github_commit_author_login: Option<String>,
    github_commit_author_name: Option<String>,
    github_org: Option<String>,
    github_repo: Option<String>,
    github_commit_org: Option<String>,
    github_commit_repo: Option<String>,
}

/// Reads a Vercel delivery from its JSON bytes.
pub fn parse_vercel(json: &[u8]) -> Result<Vercel, PayloadError> {
    let body: VercelBody = decode(json)?;
    let id = body.id.map(|id| checked_id(id, "id")).transpose()?;
    let kind = body.kind.filter(|k| !k.is_empty()).ok_or(PayloadError::Missing("type"))?;
    let kind = cut(&kind, MAX_NAME);
    let payload = body.payload.unwrap_or_default();
    let flat_meta = payload.meta;
    let deployment = payload.deployment.unwrap_or_default();
    let meta = deployment.meta.or(flat_meta).unwrap_or_default();
    let repo = repo_of(&meta);
    let state = deployment
        .state
        .or(deployment.ready_state)
        .or(payload.state)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| kind.rsplit('.').next().unwrap_or(&kind).to_owned());
    let state = cut(&state, MAX_NAME);
    let outcome = match kind.as_str() {
        "deployment.succeeded" | "deployment.ready" => Some(Outcome::Success),
        "deployment.error" => Some(Outcome::Failure),
        "deployment.canceled" | "deployment.cancelled" => Some(Outcome::Cancelled),
        "deployment.created" | "deployment.prepared" => None,
        _ => return Ok(Vercel { id, kind, repo, parsed: Parsed::Unhandled }),
    };
    let intermediate = matches!(
        state.to_ascii_uppercase().as_str(),
        "CREATED" | "BUILDING" | "INITIALIZING" | "QUEUED" | "PREPARED"
    );
    let Some(outcome) = outcome.filter(|_| !intermediate) else {
        return Ok(Vercel { id, kind, repo, parsed: Parsed::Intermediate { state } });
    };
    let url = deployment.url.or(payload.url).filter(|u| !u.is_empty()).map(|u| {
        if u.starts_with("https://") || u.starts_with("http://") {
            u
        } else {
            format!("https://{u}")
        }
    });
    let event = DeployEvent {
        source: "vercel",
        sender: "vercel".into(),
        outcome,
        state,
        project: text(deployment.name.or(payload.name), MAX_NAME),
        repo: repo.clone(),
        branch: text(meta.github_commit_ref, MAX_NAME),
        sha: text(meta.github_commit_sha, MAX_NAME),
        author: text(meta.github_commit_author_login.or(meta.github_commit_author_name), MAX_NAME),
        message: text(meta.github_commit_message.as_deref().map(first_line), MAX_MESSAGE),
        url: web_url(url),
        inspector_url: web_url(deployment.inspector_url)
            .or_else(|| web_url(payload.links.and_then(|l| l.deployment))),
        error: text(deployment.error_message, MAX_ERROR),
        target: text(payload.target, MAX_NAME),
        deployment_id: text(deployment.id.or(payload.deployment_id), MAX_ID),
        occurred_at_ms: body.created_at.as_ref().and_then(time_of),
    };
    Ok(Vercel { id, kind, repo, parsed: Parsed::Deploy(Box::new(event)) })
}

/// The generic body (docs/API.md §3.6); fields it does not name are skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct GenericBody {
    project: Option<String>,
    status: Option<String>,
    message: Option<String>,
    url: Option<String>,
    error: Option<String>,
    source: Option<String>,
    branch: Option<String>,
    sha: Option<String>,
    environment: Option<String>,
}

/// Reads a generic deploy delivery from its JSON bytes.
pub fn parse_generic(json: &[u8]) -> Result<Generic, PayloadError> {
    let body: GenericBody = decode(json)?;
    let status = body.status.ok_or(PayloadError::Missing("status"))?;
    let status = status.trim().to_ascii_lowercase();
    let project = text(body.project, MAX_NAME);
    let repo = project.as_deref().filter(|p| is_repo(p)).map(str::to_owned);
    let outcome = match status.as_str() {
        "success" => Outcome::Success,
        "failure" => Outcome::Failure,
        "cancelled" | "canceled" => Outcome::Cancelled,
        "pending" => {
            return Ok(Generic {
                parsed: Parsed::Intermediate { state: status.clone() },
                status,
                repo,
            });
        }
        _ => {
            return Err(PayloadError::Invalid {
                field: "status".into(),
                reason: "must be success, failure, cancelled or pending".into(),
            });
        }
    };
    let sender = match body.source.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        None => "generic".to_owned(),
        Some(s)
            if s.len() <= MAX_SOURCE
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            s
        }
        Some(_) => {
            return Err(PayloadError::Invalid {
                field: "source".into(),
                reason: format!("must be 1 to {MAX_SOURCE} letters, digits, '-', '_' or '.'"),
            });
        }
    };
    let url = match body.url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => web_url(Some(u)),
        Some(_) => {
            return Err(PayloadError::Invalid {
                field: "url".into(),
                reason: "must be an http:// or https:// URL".into(),
            });
        }
        None => None,
    };
    let event = DeployEvent {
        source: "deploy",
        sender,
        outcome,
        state: status.clone(),
        project,
        repo: repo.clone(),
        branch: text(body.branch, MAX_NAME),
        sha: text(body.sha, MAX_NAME),
        author: None,
        message: text(body.message.as_deref().map(first_line), MAX_MESSAGE),
        url,
        inspector_url: None,
        error: text(body.error, MAX_ERROR),
        target: text(body.environment, MAX_NAME),
        deployment_id: None,
        occurred_at_ms: None,
    };
    Ok(Generic { status, repo, parsed: Parsed::Deploy(Box::new(event)) })
}

/// Records a deploy event for `org`, unless the delivery was recorded before.
pub fn ingest(
    tx: &WriteTx<'_>,
    org: &str,
    deploy: &DeployEvent,
    receipt: Receipt<'_>,
    policy: Policy,
) -> Result<Ingested, StoreError> {
    if receipt.seen(tx, org)? {
        return Ok(Ingested::Duplicate);
    }
    let delivery = receipt.delivery;
    let project = project_of(tx, org, deploy)?;
    let Handler { project_id, agent_id, agent } = Handler::of(tx, org, project.as_ref())?;
    let now = clock::now_ms();
    let seq = events::next_seq(tx)?;
    let risk = if deploy.is_failure() { "high" } else { "low" };
    let title = deploy.title();
    let mut event = EventRecord {
        id: format!("evt-{seq}"),
        seq,
        org_id: org.to_owned(),
        project_id: project_id.clone(),
        source: deploy.source.into(),
        event_type: deploy.event_type(),
        severity: risk.into(),
        title: title.clone(),
        details: details(deploy, delivery),
        fingerprint: deploy.fingerprint(),
        occurred_at: clock::rfc3339(deploy.occurred_at_ms.unwrap_or(now)),
        recorded_at_ms: now,
        agent_id: None,
        actions: Vec::new(),
    };
    let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::from);
    let mut draft = AuditDraft::new(ActorType::System, &deploy.sender, "deploy_event")
        .meta("eventId", event.id.as_str())
        .meta("eventType", event.event_type.as_str())
        .meta("source", deploy.source)
        .meta("project", opt(&deploy.project))
        .meta("repo", opt(&deploy.repo))
        .meta("branch", opt(&deploy.branch))
        .meta("status", deploy.state.as_str())
        .meta("target", opt(&deploy.target))
        .meta("sha", opt(&deploy.sha))
        .meta("url", opt(&deploy.url))
        .meta("error", opt(&deploy.error))
        .meta("deploymentId", opt(&deploy.deployment_id))
        .meta("details", title.as_str())
        .meta("deliveryId", delivery.map_or(Value::Null, Value::from))
        .meta("risk", risk);
    draft.result = AuditResult::Processed;
    if let (Some(p), Some(a)) = (&project_id, &agent_id) {
        draft = draft.meta("projectId", p.as_str()).meta("agentId", a.as_str());
    }
    audit::append(tx, org, draft)?;
    let subject = deploy.repo.as_deref().or(deploy.project.as_deref()).unwrap_or(deploy.source);
    memory::add(
        tx,
        NewMemory {
            org,
            agent_id,
            project_id: project_id.clone(),
            category: "ci",
            content: format!("{subject}: {title}"),
            metadata: json!({
                "eventId": event.id, "eventType": event.event_type, "repo": deploy.repo,
                "project": deploy.project, "branch": deploy.branch, "url": deploy.url,
            }),
        },
    )?;
    react::handle(tx, &mut event, agent, policy)?;
    events::put(tx, &event)?;
    receipt.remember(tx, org)?;
    let deliveries = event.actions.iter().any(EventAction::notifies);
    Ok(Ingested::Event { event_id: event.id, project_id, deliveries })
}

/// The Spar project a deploy belongs to: the org's project for its repository; else the
/// project whose id, name or repository name is the deploy's project name (any case), as a
/// Sentry project is matched (docs/API.md §3.2).
fn project_of(
    tx: &WriteTx<'_>,
    org: &str,
    deploy: &DeployEvent,
) -> Result<Option<ProjectRecord>, StoreError> {
    if let Some(repo) = &deploy.repo
        && let Some(p) = projects::by_repo(tx, org, repo)?
    {
        return Ok(Some(p));
    }
    let Some(name) = deploy.project.as_deref() else { return Ok(None) };
    if let Some(p) = projects::get(tx, org, name)? {
        return Ok(Some(p));
    }
    Ok(projects::list(tx, Some(org))?.into_iter().find(|p| {
        let repo_name = p.repo.rsplit('/').next().unwrap_or("");
        p.name.eq_ignore_ascii_case(name) || repo_name.eq_ignore_ascii_case(name)
    }))
}

/// The event's own words, for messages: everything known, nothing null.
fn details(d: &DeployEvent, delivery: Option<&str>) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(v) = value {
            out.insert(key.to_owned(), Value::from(v));
        }
    };
    put("project", d.project.as_deref());
    put("repo", d.repo.as_deref());
    put("branch", d.branch.as_deref());
    put("status", Some(&d.state));
    put("target", d.target.as_deref());
    put("sha", d.sha.as_deref());
    put("author", d.author.as_deref());
    put("message", d.message.as_deref());
    put("url", d.url.as_deref());
    put("inspectorUrl", d.inspector_url.as_deref());
    put("error", d.error.as_deref());
    put("deploymentId", d.deployment_id.as_deref());
    put("sender", Some(&d.sender));
    put("deliveryId", delivery);
    Value::Object(out)
}

/// `githubOrg`/`githubRepo` (else the commit's org and repo) as `owner/name`.
fn repo_of(meta: &Meta) -> Option<String> {
    let pair = |org: &Option<String>, repo: &Option<String>| match (org, repo) {
        (Some(o), Some(r)) => Some(format!("{o}/{r}")),
        _ => None,
    };
    pair(&meta.github_org, &meta.github_repo)
        .or_else(|| pair(&meta.github_commit_org, &meta.github_commit_repo))
        .filter(|r| is_repo(r))
}

/// `owner/name`: two non-empty parts of letters, digits, `-`, `_` and `.`.
fn is_repo(s: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part.len() <= 100
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    matches!(s.split_once('/'), Some((owner, name)) if ok(owner) && ok(name))
}

/// A delivery id: 1 to 128 printable ASCII characters, as the webhook headers' rule.
fn checked_id(id: String, field: &str) -> Result<String, PayloadError> {
    if id.is_empty() || id.len() > MAX_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PayloadError::Invalid {
            field: field.into(),
            reason: format!("must be 1 to {MAX_ID} printable ASCII characters"),
        });
    }
    Ok(id)
}

/// A web link kept only when it is one (`http://`, `https://`), cut to `MAX_URL`.
fn web_url(url: Option<String>) -> Option<String> {
    url.filter(|u| (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= MAX_URL)
}

/// Unix milliseconds (Vercel's `createdAt`), or an RFC 3339 time; one outside years 1970 to
/// 9999 is no time (the receipt's time is used), so every `occurredAt` has four-digit years.
fn time_of(v: &Value) -> Option<i64> {
    const YEAR_10000_MS: i64 = 253_402_300_800_000;
    let ms = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => clock::parse_rfc3339(s),
        _ => None,
    };
    ms.filter(|ms| (1..YEAR_10000_MS).contains(ms))
}

/// A trimmed, non-empty text cut to `max` characters.
fn text(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| cut(s.trim(), max)).filter(|s| !s.is_empty())
}

fn cut(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vercel(kind: &str, deployment: Value) -> Result<Vercel, PayloadError> {
        let body = json!({"id": "evt_1", "type": kind, "createdAt": 1_764_583_200_000_i64,
            "payload": {"deployment": deployment, "target": "production",
                "links": {"deployment": "https://vercel.com/acme/web/abc"}}});
        parse_vercel(body.to_string().as_bytes())
    }

    fn meta() -> Value {
        json!({"githubCommitSha": "abc1234def", "githubCommitMessage": "feat: x\n\nbody",
            "githubCommitRef": "main", "githubCommitAuthorLogin": "alice",
            "githubOrg": "acme", "githubRepo": "web"})
    }

    #[test]
    fn vercel_types_become_deploy_outcomes() {
        let d = json!({"id": "dpl_1", "name": "web", "url": "web-abc.vercel.app", "meta": meta()});
        let Ok(Vercel { parsed: Parsed::Deploy(ev), repo, id, .. }) =
            vercel("deployment.error", d.clone())
        else {
            panic!("not a deploy")
        };
        assert_eq!(ev.event_type(), "deploy.failure");
        assert_eq!(ev.title(), "Deploy 'web' failed to production on main (abc1234)");
        assert_eq!(ev.fingerprint(), "vercel:web:production:main");
        assert_eq!(ev.url.as_deref(), Some("https://web-abc.vercel.app"));
        assert_eq!(ev.inspector_url.as_deref(), Some("https://vercel.com/acme/web/abc"));
        assert_eq!(ev.message.as_deref(), Some("feat: x"));
        assert_eq!(ev.state, "error");
        assert_eq!(ev.occurred_at_ms, Some(1_764_583_200_000));
        assert_eq!(time_of(&json!(i64::MAX)), None);
        assert_eq!(time_of(&json!(-5)), None);
        assert_eq!(
            time_of(&json!("2026-11-23T10:00:00Z")),
            clock::parse_rfc3339("2026-11-23T10:00:00Z")
        );
        assert_eq!((repo.as_deref(), id.as_deref()), (Some("acme/web"), Some("evt_1")));
        assert!(ev.is_failure());

        for (kind, outcome) in [
            ("deployment.succeeded", Outcome::Success),
            ("deployment.ready", Outcome::Success),
            ("deployment.canceled", Outcome::Cancelled),
        ] {
            match vercel(kind, d.clone()) {
                Ok(Vercel { parsed: Parsed::Deploy(ev), .. }) => assert_eq!(ev.outcome, outcome),
                other => panic!("{kind}: {other:?}"),
            }
        }
        assert!(matches!(
            vercel("deployment.created", d.clone()),
            Ok(Vercel { parsed: Parsed::Intermediate { .. }, .. })
        ));
        let building = json!({"name": "web", "readyState": "BUILDING"});
        assert!(matches!(
            vercel("deployment.succeeded", building),
            Ok(Vercel { parsed: Parsed::Intermediate { state }, .. }) if state == "BUILDING"
        ));
        assert!(matches!(
            vercel("project.created", json!({})),
            Ok(Vercel { parsed: Parsed::Unhandled, .. })
        ));
    }

    #[test]
    fn vercel_errors_are_named() {
        assert_eq!(parse_vercel(br#"{"id":"x"}"#), Err(PayloadError::Missing("type")));
        assert!(matches!(
            parse_vercel(br#"{"type":"deployment.error","id":5}"#),
            Err(PayloadError::Invalid { field, .. }) if field == "id"
        ));
        let long = format!(r#"{{"type":"deployment.error","id":"{}"}}"#, "x".repeat(129));
        assert!(matches!(parse_vercel(long.as_bytes()), Err(PayloadError::Invalid { .. })));
        assert!(matches!(parse_vercel(b"{nope"), Err(PayloadError::Syntax(_))));
        // A link that is not a web link is dropped, not rendered.
        let d = json!({"name": "web", "inspectorUrl": "javascript:alert(1)"});
        let Ok(Vercel { parsed: Parsed::Deploy(ev), .. }) = vercel("deployment.error", d) else {
            panic!("deploy")
        };
        assert_eq!(ev.inspector_url.as_deref(), Some("https://vercel.com/acme/web/abc"));
    }

    #[test]
    fn generic_statuses() {
        let parse = |v: Value| parse_generic(v.to_string().as_bytes());
        let Ok(Generic { parsed: Parsed::Deploy(ev), repo, .. }) = parse(json!({
            "project": "acme/api-gateway", "status": "failure", "error": "exit 1",
            "source": "railway", "url": "https://railway.app/d/1", "unknown": true}))
        else {
            panic!("deploy")
        };
        assert_eq!(ev.event_type(), "deploy.failure");
        assert_eq!(ev.sender, "railway");
        assert_eq!(ev.title(), "Deploy 'acme/api-gateway' failed");
        assert_eq!(repo.as_deref(), Some("acme/api-gateway"));
        let Ok(Generic { parsed: Parsed::Deploy(ev), repo, .. }) =
            parse(json!({"project": "api", "status": "Success"}))
        else {
            panic!("deploy")
        };
        assert_eq!((ev.sender.as_str(), ev.outcome, repo), ("generic", Outcome::Success, None));
        assert!(matches!(
            parse(json!({"status": "pending"})),
            Ok(Generic { parsed: Parsed::Intermediate { .. }, .. })
        ));
        assert_eq!(parse(json!({"project": "x"})), Err(PayloadError::Missing("status")));
        for bad in [
            json!({"status": "exploded"}),
            json!({"status": "success", "source": "no spaces"}),
            json!({"status": "success", "url": "javascript:alert(1)"}),
            json!({"status": 1}),
        ] {
            assert!(matches!(parse(bad.clone()), Err(PayloadError::Invalid { .. })), "{bad}");
        }
    }

    #[test]
    fn repositories() {
        assert!(is_repo("acme/web"));
        for bad in ["acme", "acme/", "/web", "a/b/c", "a b/c"] {
            assert!(!is_repo(bad), "{bad}");
        }
    }
}
