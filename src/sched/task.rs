//! What a task is: its key, its timing, and the three built-ins.

use crate::store::orgs::DEFAULT_ORG;
use crate::store::records::{TaskAction, TaskRecord};

/// The shortest period of an interval task (docs/API.md §2.15).
pub const MIN_INTERVAL_MS: u64 = 10_000;
const FIVE_MINUTES_MS: u64 = 5 * 60 * 1000;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// A task's identity: names are unique within an org.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskKey {
    pub org: String,
    pub name: String,
}

impl TaskKey {
    pub fn new(org: &str, name: &str) -> Self {
        Self { org: org.to_owned(), name: name.to_owned() }
    }

    pub fn of(task: &TaskRecord) -> Self {
        Self::new(&task.org_id, &task.name)
    }
}

/// When a task's timer fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timing {
    /// A six-field cron expression (seconds first), UTC.
    Cron(String),
    /// Every this many milliseconds.
    Every(u64),
}

impl Timing {
    pub fn of(task: &TaskRecord) -> Self {
        match (&task.schedule, task.interval_ms) {
            (Some(expr), _) => Self::Cron(six_fields(expr)),
            (None, Some(ms)) => Self::Every(ms),
            (None, None) => Self::Every(DAY_MS),
        }
    }
}

impl Timing {
    /// The first run after `base_ms` (Unix ms, a task's last run or, never run, its creation):
    /// one `period` later for an interval task (the period as scaled for tests), the next fire
    /// of a cron task. `None` for a cron expression that never fires again.
    pub fn next_after(&self, base_ms: i64, period: std::time::Duration) -> Option<i64> {
        match self {
            Self::Every(_) => {
                Some(base_ms.saturating_add(i64::try_from(period.as_millis()).unwrap_or(i64::MAX)))
            }
            Self::Cron(expr) => {
                let base = chrono::DateTime::from_timestamp_millis(base_ms)?;
                // Cron fires on whole seconds (croner keeps the base's fraction).
                let next = parse_cron(expr)?.find_next_occurrence(&base, false).ok()?;
                Some(next.timestamp().saturating_mul(1000))
            }
        }
    }
}

/// Standard five-field cron gets a leading `0` seconds field; six fields pass as they are.
fn six_fields(expr: &str) -> String {
    let expr = expr.trim();
    if expr.split_whitespace().count() == 5 { format!("0 {expr}") } else { expr.to_owned() }
}

/// Checks a cron expression with the scheduler's own parser: five fields (minute first) or six
/// (seconds first), never firing twice within [`MIN_INTERVAL_MS`] (like an interval task). The
/// error says what is accepted.
pub fn check_cron(expr: &str) -> Result<(), String> {
    let fields = expr.split_whitespace().count();
    let parsed = (5..=6).contains(&fields).then(|| parse_cron(expr)).flatten();
    let Some(cron) = parsed else {
        return Err(format!(
            "schedule {expr:?} is not a valid cron expression: use five fields (minute hour day-of-month month day-of-week) or six with seconds first, e.g. \"0 9 * * 1-5\""
        ));
    };
    match shortest_gap_ms(&cron) {
        Some(gap) if gap < MIN_INTERVAL_MS => Err(format!(
            "schedule {expr:?} fires {gap} ms apart; a task runs at most every {} seconds",
            MIN_INTERVAL_MS / 1000
        )),
        _ => Ok(()),
    }
}

/// The expression as the scheduler reads it (seconds first), if it parses.
pub fn parse_cron(expr: &str) -> Option<croner::Cron> {
    let parser =
        croner::parser::CronParser::builder().seconds(croner::parser::Seconds::Required).build();
    parser.parse(&six_fields(expr)).ok()
}

/// The shortest time between two of the next fires (over 64 of them; cron patterns repeat
/// within a year, and 64 fires cover the closest pair of any pattern that fires twice in a
/// minute or an hour).
fn shortest_gap_ms(cron: &croner::Cron) -> Option<u64> {
    let start = chrono::Utc::now();
    let fires: Vec<i64> = cron.iter_after(start).take(64).map(|t| t.timestamp_millis()).collect();
    fires.windows(2).map(|w| u64::try_from(w[1] - w[0]).unwrap_or(0)).min()
}

/// The built-in tasks (docs/API.md §2.15), as created at start when missing. They belong to org
/// `default`, the operator's org, and act for every org.
pub fn built_ins(now_ms: i64) -> Vec<TaskRecord> {
    let built_in = |name: &str, interval_ms: u64, action: TaskAction| TaskRecord {
        org_id: DEFAULT_ORG.into(),
        name: name.into(),
        schedule: None,
        interval_ms: Some(interval_ms),
        action,
        enabled: true,
        built_in: true,
        run_count: 0,
        errors: 0,
        last_error: None,
        last_run_ms: None,
        created_at_ms: now_ms,
        state: serde_json::Value::Null,
    };
    vec![
        built_in("health-check", FIVE_MINUTES_MS, TaskAction::HealthCheck),
        built_in("build-status-report", DAY_MS, TaskAction::BuildStatusReport),
        built_in("audit-cleanup", DAY_MS, TaskAction::AuditCleanup),
    ]
}

/// Whether `name` is a built-in's.
pub fn is_built_in_name(name: &str) -> bool {
    matches!(name, "health-check" | "build-status-report" | "audit-cleanup")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_forms() {
        for ok in ["0 9 * * 1-5", "*/5 * * * *", "0 0 9 * * *", "30 */2 * * * *"] {
            assert_eq!(check_cron(ok), Ok(()), "{ok}");
        }
        for bad in ["", "* * * *", "61 * * * *", "not cron", "* * * * * * * *", "0 9 * * 8"] {
            assert!(check_cron(bad).is_err(), "{bad}");
        }
    }
}
