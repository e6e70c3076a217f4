//! CodeSpar's route alert types (docs/API.md §2.9, CodeSpar's form) and the event-type patterns
//! of Spar's routes that stand for them. CodeSpar keys a route by its destination and lists the
//! kinds of alert it wants; Spar keeps one pattern per route, so one CodeSpar route becomes one
//! Spar route per pattern, all to the same destination.
//!
//! | alert type | pattern | Spar's events (§4.1) |
//! |---|---|---|
//! | `deploy` | `deploy.*` | every deploy event (§3.5, §3.6) |
//! | `error` | `incident.triggered` | a new incident (what CodeSpar alerts on for a Sentry error) |
//! | `incident` | `incident.*` | every incident event |
//! | `all` | `*` | everything |

/// The alert types, in the order CodeSpar lists them.
pub const ALERT_TYPES: [&str; 4] = ["deploy", "error", "incident", "all"];

/// The pattern of one alert type, or `None` for a name CodeSpar does not know.
fn pattern_of(alert_type: &str) -> Option<&'static str> {
    match alert_type {
        "deploy" => Some("deploy.*"),
        "error" => Some("incident.triggered"),
        "incident" => Some("incident.*"),
        "all" => Some("*"),
        _ => None,
    }
}

/// The patterns of a list of alert types, without the ones another covers (`all` covers
/// everything, `incident` covers `error`), so no event reaches one destination twice. `Err`
/// names the first unknown type.
pub fn patterns(alert_types: &[String]) -> Result<Vec<&'static str>, String> {
    let mut out: Vec<&'static str> = Vec::new();
    for t in alert_types {
        let p = pattern_of(t.trim()).ok_or_else(|| t.clone())?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.contains(&"*") {
        return Ok(vec!["*"]);
    }
    if out.contains(&"incident.*") {
        out.retain(|p| *p != "incident.triggered");
    }
    Ok(out)
}

/// The alert type a pattern stands for, when it is one of the table's.
pub fn alert_type_of(pattern: &str) -> Option<&'static str> {
    ALERT_TYPES.into_iter().find(|t| pattern_of(t) == Some(pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(types: &[&str]) -> Result<Vec<&'static str>, String> {
        patterns(&types.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn covered_patterns_are_dropped() {
        assert_eq!(of(&["deploy", "error"]), Ok(vec!["deploy.*", "incident.triggered"]));
        assert_eq!(of(&["error", "incident"]), Ok(vec!["incident.*"]));
        assert_eq!(of(&["deploy", "all"]), Ok(vec!["*"]));
        assert_eq!(of(&["deploy", "deploy"]), Ok(vec!["deploy.*"]));
        assert_eq!(of(&["deploy", "nope"]), Err("nope".to_owned()));
        assert_eq!(alert_type_of("incident.*"), Some("incident"));
        assert_eq!(alert_type_of("ci.*"), None);
    }
}
