//! PagerDuty (docs/API.md §2.13): REST v2 at `PAGERDUTY_API_URL` (`Authorization: Token token=<apiKey>`,
//! `Accept: application/vnd.pagerduty+json;version=2`, `From` on writes) and the Events API v2
//! at `PAGERDUTY_EVENTS_URL`.

use serde::Deserialize;
use serde_json::{Value, json};
use ureq::http;

use super::{Answer, Upstream, UpstreamError, query_pair};
use crate::settings::Secret;

const SERVICE: &str = "PagerDuty";
const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";

pub struct PagerDuty {
    http: Upstream,
    api_url: String,
    api_key: Secret,
    from_email: String,
}

/// A reference (`{id, summary}`) or, with `include[]`, the full object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reference {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl Reference {
    /// The display name: the full object's `name`, else the reference's `summary`.
    pub fn display(&self) -> String {
        self.name.clone().or_else(|| self.summary.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct OnCall {
    #[serde(default)]
    pub user: Reference,
    pub escalation_level: u32,
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Deserialize)]
struct OnCalls {
    oncalls: Vec<OnCall>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Assignment {
    pub assignee: Reference,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Incident {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub urgency: String,
    #[serde(default)]
    pub service: Reference,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub assignments: Vec<Assignment>,
}

#[derive(Deserialize)]
struct Incidents {
    incidents: Vec<Incident>,
    total: Option<u64>,
}

impl PagerDuty {
    pub fn new(http: Upstream, api_url: &str, api_key: Secret, from_email: String) -> Self {
        Self { http, api_url: api_url.to_owned(), api_key, from_email }
    }

    /// `GET /oncalls?include[]=users` (without it PagerDuty sends no name or email).
    pub fn oncalls(
        &self,
        escalation_policy: Option<&str>,
        schedule: Option<&str>,
    ) -> Result<Vec<OnCall>, UpstreamError> {
        let mut query = vec![query_pair("include[]", "users")];
        query.extend(escalation_policy.map(|id| query_pair("escalation_policy_ids[]", id)));
        query.extend(schedule.map(|id| query_pair("schedule_ids[]", id)));
        let answer = self.call("GET", &format!("/oncalls?{}", query.join("&")), None)?;
        if !answer.is_success() {
            return Err(answer.into_error());
        }
        Ok(answer.json::<OnCalls>()?.oncalls)
    }

    /// `GET /incidents?statuses[]=…&limit=…&total=true`: the incidents and PagerDuty's total.
    pub fn incidents(
        &self,
        statuses: &[String],
        limit: u32,
    ) -> Result<(Vec<Incident>, Option<u64>), UpstreamError> {
        let mut query: Vec<String> = statuses.iter().map(|s| query_pair("statuses[]", s)).collect();
        query.push(format!("limit={limit}"));
        query.push("total=true".into());
        let answer = self.call("GET", &format!("/incidents?{}", query.join("&")), None)?;
        if !answer.is_success() {
            return Err(answer.into_error());
        }
        let list = answer.json::<Incidents>()?;
        Ok((list.incidents, list.total))
    }

    /// `PUT /incidents/{id}` to acknowledge; `None` when PagerDuty does not know the incident.
    pub fn acknowledge(&self, id: &str) -> Result<Option<()>, UpstreamError> {
        let body =
            json!({ "incident": { "type": "incident_reference", "status": "acknowledged" } });
        let path = format!("/incidents/{}", super::path_segment(id));
        let answer = self.call("PUT", &path, Some(&body))?;
        match answer.status {
            200..=299 => Ok(Some(())),
            404 => Ok(None),
            _ => Err(answer.into_error()),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, UpstreamError> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.api_url))
            .header("Authorization", format!("Token token={}", self.api_key.expose()))
            .header("Accept", ACCEPT)
            // PagerDuty's REST API asks for it on every call, GETs included.
            .header("Content-Type", "application/json");
        if body.is_some() {
            request = request.header("From", self.from_email.as_str());
        }
        self.http.send(SERVICE, request, body.map(|b| b.to_string().into_bytes()))
    }
}

/// What a PagerDuty Events API v2 trigger says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Trigger {
    pub dedup_key: String,
    pub summary: String,
    pub source: String,
    /// `critical`, `error`, `warning` or `info`.
    pub severity: String,
    pub link: Option<String>,
}

/// `POST <events url>/v2/enqueue` with `event_action: trigger` (no auth header: the routing key
/// is the credential). PagerDuty answers 202.
pub fn trigger(
    http: &Upstream,
    events_url: &str,
    routing_key: &Secret,
    event: &Trigger,
) -> Result<Answer, UpstreamError> {
    let mut body = json!({
        "routing_key": routing_key.expose(),
        "event_action": "trigger",
        "dedup_key": event.dedup_key,
        "payload": { "summary": event.summary, "source": event.source, "severity": event.severity },
    });
    if let Some(href) = &event.link {
        body["links"] = json!([{ "href": href, "text": "Details" }]);
    }
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("{events_url}/v2/enqueue"))
        .header("Content-Type", "application/json");
    http.send("PagerDuty Events", request, Some(body.to_string().into_bytes()))
}
