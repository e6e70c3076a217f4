//! Sentry's integration-platform webhooks (docs/API.md §3.2): `issue` (`created`, `resolved`, …),
//! `event_alert` (`triggered`), and the rest (`metric_alert`, `installation`, …), which are
//! recorded but not acted on. Typed structs read only the fields Spar uses.

use serde::Deserialize;
use serde_json::Value;

use super::github::PayloadError;

/// What one Sentry delivery asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A new issue or a fired alert rule: open an incident, or add to the open one.
    Alert(Alert),
    /// The issue was resolved.
    Resolved(Alert),
    /// Recorded only; the reason says why.
    Other { resource: String, action: String, reason: &'static str },
}

/// One alert, in the words an incident needs (Sentry's, or a Spike integration's).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// `sentry` or `spike`: the incident's source and the fingerprint's prefix.
    pub source: &'static str,
    /// Replaces the `<project>:<issue id>` group (Spike groups by token and title).
    pub group: Option<String>,
    pub issue_id: String,
    pub title: String,
    pub culprit: Option<String>,
    /// Sentry's `level`: `fatal`, `error`, `warning`, `info`, `debug`.
    pub level: String,
    /// The project slug (or its numeric id when the payload only has that).
    pub project: Option<String>,
    pub link: Option<String>,
    pub environment: Option<String>,
}

impl Alert {
    /// The longest title, and other text, an alert keeps (docs/API.md §3.2, §3.3). Longer text
    /// from a sender is cut, not refused: losing a monitoring tool's alert over its length would
    /// be worse, and every place it is stored stays bounded.
    pub const MAX_TITLE: usize = 500;
    pub const MAX_TEXT: usize = 200;
    pub const MAX_LINK: usize = 2048;

    /// The alert with every text within its cap.
    pub fn bounded(mut self) -> Self {
        cut(&mut self.title, Self::MAX_TITLE);
        cut(&mut self.issue_id, Self::MAX_TEXT);
        cut(&mut self.level, 32);
        let texts = [&mut self.group, &mut self.culprit, &mut self.project, &mut self.environment];
        for text in texts.into_iter().flatten() {
            cut(text, Self::MAX_TITLE);
        }
        if let Some(link) = &mut self.link {
            cut(link, Self::MAX_LINK);
        }
        self
    }

    /// docs/API.md §3.2: `fatal` critical, `error` high, `warning` medium, else low.
    pub fn severity(&self) -> &'static str {
        match self.level.as_str() {
            "fatal" => "critical",
            "error" => "high",
            "warning" => "medium",
            _ => "low",
        }
    }

    /// Alerts with the same key join one open incident.
    pub fn group_key(&self) -> String {
        match &self.group {
            Some(group) => group.clone(),
            None => format!("{}:{}", self.project.as_deref().unwrap_or("unknown"), self.issue_id),
        }
    }

    pub fn fingerprint(&self) -> String {
        format!("{}:{}", self.source, self.group_key())
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    issue: Option<IssueJson>,
    #[serde(default)]
    event: Option<EventJson>,
}

#[derive(Deserialize)]
struct ProjectJson {
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    id: Option<Value>,
}

#[derive(Deserialize)]
struct IssueJson {
    id: Value,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    culprit: Option<String>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    project: Option<ProjectJson>,
    #[serde(default)]
    web_url: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
}

#[derive(Deserialize)]
struct EventJson {
    #[serde(default)]
    issue_id: Option<Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    culprit: Option<String>,
    #[serde(default)]
    level: Option<String>,
    /// A numeric project id here; the slug is inside `url`.
    #[serde(default)]
    project: Option<Value>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    web_url: Option<String>,
    #[serde(default)]
    environment: Option<String>,
}

/// Shortens `text` to at most `max` bytes, at a character boundary.
pub fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let end = (0..=max).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.truncate(end);
    }
}

pub fn parse(resource: &str, body: &[u8]) -> Result<Parsed, PayloadError> {
    Ok(match parse_unbounded(resource, body)? {
        Parsed::Alert(alert) => Parsed::Alert(alert.bounded()),
        Parsed::Resolved(alert) => Parsed::Resolved(alert.bounded()),
        other => other,
    })
}

fn parse_unbounded(resource: &str, body: &[u8]) -> Result<Parsed, PayloadError> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            PayloadError::Syntax(format!("{e}"))
        } else {
            PayloadError::Invalid { field: "data".into(), reason: e.to_string() }
        }
    })?;
    let action = envelope.action.unwrap_or_default();
    let data = envelope.data;
    let other =
        |reason| Parsed::Other { resource: resource.to_owned(), action: action.clone(), reason };
    match resource {
        "issue" => {
            let issue = data.and_then(|d| d.issue).ok_or(PayloadError::Missing("data.issue"))?;
            let alert = issue_alert(issue)?;
            Ok(match action.as_str() {
                "created" => Parsed::Alert(alert),
                "resolved" => Parsed::Resolved(alert),
                _ => other("Action not handled"),
            })
        }
        "event_alert" => {
            let event = data.and_then(|d| d.event).ok_or(PayloadError::Missing("data.event"))?;
            Ok(Parsed::Alert(event_alert(event)?))
        }
        _ => Ok(other("Resource not handled")),
    }
}

fn id_text(value: &Value, field: &str) -> Result<String, PayloadError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PayloadError::Invalid { field: field.into(), reason: "must be an id".into() }),
    }
}

fn issue_alert(issue: IssueJson) -> Result<Alert, PayloadError> {
    let project = issue.project.and_then(|p| {
        p.slug.or_else(|| p.id.as_ref().and_then(|id| id_text(id, "project.id").ok()))
    });
    Ok(Alert {
        source: "sentry",
        group: None,
        issue_id: id_text(&issue.id, "data.issue.id")?,
        title: issue.title.unwrap_or_else(|| "Sentry issue".into()),
        culprit: issue.culprit,
        level: issue.level.unwrap_or_else(|| "error".into()),
        project,
        link: issue.web_url.or(issue.permalink),
        environment: None,
    })
}

fn event_alert(event: EventJson) -> Result<Alert, PayloadError> {
    let issue_id = event.issue_id.ok_or(PayloadError::Missing("data.event.issue_id"))?;
    // `…/api/0/projects/<org>/<slug>/events/<id>/`
    let slug = event.url.as_deref().and_then(|u| {
        let rest = u.split("/projects/").nth(1)?;
        rest.split('/').nth(1).filter(|s| !s.is_empty()).map(str::to_owned)
    });
    let project = slug.or_else(|| event.project.as_ref().and_then(|p| id_text(p, "project").ok()));
    Ok(Alert {
        source: "sentry",
        group: None,
        issue_id: id_text(&issue_id, "data.event.issue_id")?,
        title: event.title.unwrap_or_else(|| "Sentry alert".into()),
        culprit: event.culprit,
        level: event.level.unwrap_or_else(|| "error".into()),
        project,
        link: event.web_url,
        environment: event.environment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_alert_takes_its_slug_from_the_url_and_maps_severity() {
        let body = br#"{"action":"triggered","data":{"event":{"issue_id":"42","title":"Boom","level":"fatal",
            "project":4504123,"url":"https://sentry.io/api/0/projects/acme/api-gateway/events/e1/"}}}"#;
        let Ok(Parsed::Alert(a)) = parse("event_alert", body) else { panic!("alert") };
        assert_eq!(a.project.as_deref(), Some("api-gateway"));
        assert_eq!(a.severity(), "critical");
        assert_eq!(a.group_key(), "api-gateway:42");
    }

    #[test]
    fn other_resources_and_actions_are_recorded_only() {
        let body = br#"{"action":"critical","data":{}}"#;
        assert!(matches!(parse("metric_alert", body), Ok(Parsed::Other { .. })));
        let body = br#"{"action":"assigned","data":{"issue":{"id":"1"}}}"#;
        assert!(matches!(
            parse("issue", body),
            Ok(Parsed::Other { reason: "Action not handled", .. })
        ));
        assert!(matches!(parse("issue", b"{"), Err(PayloadError::Syntax(_))));
        assert!(matches!(
            parse("issue", br#"{"action":"created","data":{}}"#),
            Err(PayloadError::Missing(_))
        ));
    }
}
