//! Alerts posted to a Spike ingest URL (docs/API.md §5), read by the integration's slug: the
//! generic `webhook` body (`title`, `body`, `severity`, `priority`, `status`), Sentry's, GitHub's
//! `workflow_run`/`check_run`, PagerDuty v3 webhooks, Prometheus Alertmanager and Grafana
//! alerting notifications. Every alert is grouped by its integration and its title, Spike's own
//! dedup rule (by the integration's id: the token is a credential, kept out of everything an
//! event carries).

use serde::Deserialize;
use serde_json::Value;

use super::github::{self, PayloadError};
use super::sentry::{self, Alert};

/// One alert of a delivery: open (or count) an incident, or resolve the one with its title.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeAlert {
    pub alert: Alert,
    pub resolve: bool,
}

/// The most alerts one body may carry (docs/API.md §3.3); a larger body is refused whole.
pub const MAX_ALERTS: usize = 5_000;

pub fn parse(slug: &str, integration: &str, body: &[u8]) -> Result<Vec<SpikeAlert>, PayloadError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| PayloadError::Syntax(e.to_string()))?;
    if !value.is_object() {
        return Err(PayloadError::Invalid {
            field: "body".into(),
            reason: "must be a JSON object".into(),
        });
    }
    let alerts = match slug {
        "webhook" => vec![generic(&value)?],
        "sentry" => sentry_alert(&value, body)?.into_iter().collect(),
        "github-workflows" => workflow(&value, body)?.into_iter().collect(),
        "pagerduty" => pagerduty(&value)?.into_iter().collect(),
        "prometheus" | "grafana" => alertmanager(&value)?,
        other => {
            return Err(PayloadError::Invalid {
                field: "slug".into(),
                reason: format!("'{other}' is not a kind this appliance parses"),
            });
        }
    };
    if alerts.len() > MAX_ALERTS {
        return Err(PayloadError::TooMany { max: MAX_ALERTS, found: alerts.len() });
    }
    Ok(alerts
        .into_iter()
        .map(|mut a| {
            a.alert.source = "spike";
            a.alert = a.alert.bounded();
            a.alert.group = Some(format!("{integration}:{}", a.alert.title));
            a
        })
        .collect())
}

fn alert(title: String, level: &str, link: Option<String>, resolve: bool) -> SpikeAlert {
    SpikeAlert {
        alert: Alert {
            source: "spike",
            group: None,
            issue_id: title.clone(),
            title,
            culprit: None,
            level: level.to_owned(),
            project: None,
            link,
            environment: None,
        },
        resolve,
    }
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Spike's generic webhook: `title` is the dedup key; `severity` `sev1`..`sev3`.
fn generic(v: &Value) -> Result<SpikeAlert, PayloadError> {
    let title = match v.get("title") {
        None | Some(Value::Null) => return Err(PayloadError::Missing("title")),
        Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_owned(),
        Some(_) => {
            return Err(PayloadError::Invalid {
                field: "title".into(),
                reason: "must be a non-empty string".into(),
            });
        }
    };
    let level = match v.get("severity").and_then(Value::as_str) {
        None => "error",
        Some("sev1") => "fatal",
        Some("sev2") => "error",
        Some("sev3") => "warning",
        Some(_) => {
            return Err(PayloadError::Invalid {
                field: "severity".into(),
                reason: "must be sev1, sev2 or sev3".into(),
            });
        }
    };
    if let Some(p) = v.get("priority").filter(|p| !p.is_null()) {
        let ok = p.as_str().is_some_and(|p| matches!(p, "p1" | "p2" | "p3" | "p4" | "p5"));
        if !ok {
            return Err(PayloadError::Invalid {
                field: "priority".into(),
                reason: "must be p1 to p5".into(),
            });
        }
    }
    let resolve = v.get("status").and_then(Value::as_str) == Some("resolve");
    Ok(alert(title, level, text(v, "/url"), resolve))
}

/// Sentry's integration envelope (`issue` or `event_alert`), or its legacy plugin body.
fn sentry_alert(v: &Value, body: &[u8]) -> Result<Option<SpikeAlert>, PayloadError> {
    let resource = if v.pointer("/data/issue").is_some() {
        "issue"
    } else if v.pointer("/data/event").is_some() {
        "event_alert"
    } else {
        let title =
            text(v, "/message").or_else(|| text(v, "/title")).or_else(|| text(v, "/event/title"));
        let title = title.ok_or(PayloadError::Missing("message"))?;
        let level = text(v, "/level").unwrap_or_else(|| "error".into());
        return Ok(Some(alert(title, &level, text(v, "/url"), false)));
    };
    Ok(match sentry::parse(resource, body)? {
        sentry::Parsed::Alert(a) => Some(SpikeAlert { alert: a, resolve: false }),
        sentry::Parsed::Resolved(a) => Some(SpikeAlert { alert: a, resolve: true }),
        sentry::Parsed::Other { .. } => None,
    })
}

/// A completed GitHub workflow run or check run: a failure opens, a success resolves.
fn workflow(v: &Value, body: &[u8]) -> Result<Option<SpikeAlert>, PayloadError> {
    let event = if v.get("workflow_run").is_some() {
        "workflow_run"
    } else if v.get("check_run").is_some() {
        "check_run"
    } else {
        return Err(PayloadError::Missing("workflow_run"));
    };
    let github::Parsed::Ci(ci) = github::parse(event, body)? else { return Ok(None) };
    let name = ci.name.clone().unwrap_or_else(|| event.to_owned());
    let title = format!("{name} failed on {} ({})", ci.repo, ci.branch);
    Ok(match ci.outcome {
        "failure" => Some(alert(title, "error", ci.url.clone(), false)),
        "success" => Some(alert(title, "error", ci.url.clone(), true)),
        _ => None,
    })
}

#[derive(Deserialize)]
struct PagerDutyEnvelope {
    event: PagerDutyEvent,
}

#[derive(Deserialize)]
struct PagerDutyEvent {
    event_type: String,
    #[serde(default)]
    data: Value,
}

/// PagerDuty v3 webhooks: `incident.triggered` opens, `incident.resolved` resolves.
fn pagerduty(v: &Value) -> Result<Option<SpikeAlert>, PayloadError> {
    let envelope = PagerDutyEnvelope::deserialize(v)
        .map_err(|e| PayloadError::Invalid { field: "event".into(), reason: e.to_string() })?;
    let data = &envelope.event.data;
    let title = text(data, "/title").ok_or(PayloadError::Missing("event.data.title"))?;
    let level = if text(data, "/urgency").as_deref() == Some("low") { "warning" } else { "error" };
    let link = text(data, "/html_url");
    Ok(match envelope.event.event_type.as_str() {
        "incident.triggered" | "incident.reopened" => Some(alert(title, level, link, false)),
        "incident.resolved" => Some(alert(title, level, link, true)),
        _ => None,
    })
}

/// Alertmanager (Prometheus) and Grafana alerting: one alert per entry of `alerts`, titled by
/// `alertname` (and `instance`), `firing` or `resolved`.
fn alertmanager(v: &Value) -> Result<Vec<SpikeAlert>, PayloadError> {
    let alerts =
        v.get("alerts").and_then(Value::as_array).ok_or(PayloadError::Missing("alerts"))?;
    if alerts.len() > MAX_ALERTS {
        return Err(PayloadError::TooMany { max: MAX_ALERTS, found: alerts.len() });
    }
    let mut out = Vec::new();
    for (i, a) in alerts.iter().enumerate() {
        let name = text(a, "/labels/alertname")
            .or_else(|| text(a, "/annotations/summary"))
            .ok_or_else(|| PayloadError::Invalid {
                field: format!("alerts[{i}].labels.alertname"),
                reason: "is required".into(),
            })?;
        let title = match text(a, "/labels/instance") {
            Some(instance) => format!("{name} on {instance}"),
            None => name,
        };
        let level = match text(a, "/labels/severity").as_deref() {
            Some("critical" | "page" | "fatal") => "fatal",
            Some("warning" | "warn") => "warning",
            Some("info" | "none") => "info",
            _ => "error",
        };
        let link = text(a, "/generatorURL").or_else(|| text(a, "/panelURL"));
        let resolve = text(a, "/status").as_deref() == Some("resolved");
        out.push(alert(title, level, link, resolve));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generic_body_groups_by_token_and_title() {
        let a =
            parse("webhook", "tok", br#"{"title":"Disk full","severity":"sev1","priority":"p2"}"#)
                .expect("alert");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].alert.group_key(), "tok:Disk full");
        assert_eq!(a[0].alert.fingerprint(), "spike:tok:Disk full");
        assert_eq!(a[0].alert.severity(), "critical");
        assert!(!a[0].resolve);
        let r = parse("webhook", "tok", br#"{"title":"Disk full","status":"resolve"}"#)
            .expect("resolve");
        assert!(r[0].resolve);
        assert!(matches!(parse("webhook", "t", b"{}"), Err(PayloadError::Missing("title"))));
        assert!(matches!(
            parse("webhook", "t", br#"{"title":"x","severity":"sev9"}"#),
            Err(PayloadError::Invalid { .. })
        ));
        assert!(matches!(parse("webhook", "t", b"[1]"), Err(PayloadError::Invalid { .. })));
    }

    #[test]
    fn alertmanager_bodies_give_one_alert_each() {
        let body = br#"{"status":"firing","alerts":[
            {"status":"firing","labels":{"alertname":"HighLatency","instance":"api:9090","severity":"critical"}},
            {"status":"resolved","labels":{"alertname":"DiskFull"}}]}"#;
        let a = parse("prometheus", "t", body).expect("alerts");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].alert.title, "HighLatency on api:9090");
        assert_eq!(a[0].alert.severity(), "critical");
        assert!(a[1].resolve);
    }
}
