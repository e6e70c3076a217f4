//! Chat messages about events (docs/API.md §4): the event type, the repo or project, and the event's
//! own words, readable on a phone, formatted for each channel (Slack mrkdwn, Discord markdown,
//! Telegram HTML, WhatsApp plain text) and cut to the channel's length limit.

use serde_json::Value;

use crate::store::records::EventRecord;

/// A chat service Spar sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Slack,
    Discord,
    Telegram,
    Whatsapp,
}

impl Channel {
    /// The channels routes may name, in the order error messages list them.
    pub const ALL: [Channel; 4] = [Self::Slack, Self::Whatsapp, Self::Telegram, Self::Discord];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Telegram => "telegram",
            Self::Whatsapp => "whatsapp",
        }
    }

    /// The longest message the channel takes (CodeSpar's capabilities table).
    pub fn max_length(self) -> usize {
        match self {
            Self::Slack => 40_000,
            Self::Discord => 2_000,
            Self::Telegram | Self::Whatsapp => 4_096,
        }
    }
}

/// What a message says, before formatting.
struct Parts {
    headline: String,
    subject: Option<String>,
    lines: Vec<(&'static str, String)>,
    /// Free lines after the labelled ones (a report's summary).
    body: Vec<String>,
    link: Option<String>,
}

/// The message for `event` on `channel`, with the suggestion line of a level-2 agent if any.
pub fn render(event: &EventRecord, channel: Channel, suggestion: Option<&str>) -> String {
    let parts = parts(event);
    let mut out = String::new();
    let subject = parts.subject.as_deref().map(|s| format!(" · {}", inline(channel, s)));
    out.push_str(&bold(channel, &parts.headline));
    out.push_str(&subject.unwrap_or_default());
    for (label, value) in &parts.lines {
        out.push('\n');
        out.push_str(&format!("{}: {}", label, inline(channel, value)));
    }
    for line in &parts.body {
        out.push('\n');
        out.push_str(&inline(channel, line));
    }
    if let Some(link) = &parts.link {
        out.push('\n');
        out.push_str(&self::link(channel, link));
    }
    if let Some(s) = suggestion {
        out.push_str("\n\n");
        out.push_str(&inline(channel, s));
    }
    truncate(out, channel.max_length())
}

fn parts(event: &EventRecord) -> Parts {
    let d = &event.details;
    let text = |key: &str| d.get(key).and_then(Value::as_str).map(str::to_owned);
    let subject = text("repo").or_else(|| event.project_id.clone());
    let kind = event.event_type.as_str();
    // A deploy without a repository is about the project it names (docs/API.md §3.6).
    let subject =
        if kind.starts_with("deploy.") { subject.or_else(|| text("project")) } else { subject };
    let mut lines = Vec::new();
    let mut put = |label: &'static str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            lines.push((label, v));
        }
    };
    let mut body = Vec::new();
    let mut link = text("url");
    if kind.starts_with("report.") {
        // Scheduled reports (docs/API.md §2.15): the title, then one line per item.
        put("Report", Some(event.title.clone()));
        let items = d.get("lines").and_then(Value::as_array).into_iter().flatten();
        body.extend(items.filter_map(Value::as_str).map(|l| format!("• {l}")));
    } else if kind == "ci.push" {
        put("Branch", text("branch"));
        put("Author", text("author"));
        put("Commit", text("message"));
    } else if kind.starts_with("ci.pull_request") {
        let number = d.get("number").and_then(Value::as_u64).map(|n| format!("#{n}"));
        put("PR", number.map(|n| format!("{n} {}", text("message").unwrap_or_default())));
        put("Author", text("author"));
        put("Branch", text("branch"));
    } else if kind.starts_with("deploy.") {
        put("Target", text("target"));
        put("Branch", text("branch"));
        put("Commit", text("message"));
        put("Error", text("error"));
        // A failed deploy is read on the sender's dashboard, where its log is.
        link = text("inspectorUrl").or(link);
    } else if kind.starts_with("a2a.") {
        // A2A tasks (docs/API.md §2.17): what was asked of which agent.
        put("Task", text("taskId"));
        put("Skill", text("skill"));
        put("Agent", text("agentId"));
        put("Request", text("text"));
    } else if kind.starts_with("ci.") {
        put("Workflow", text("name"));
        put("Branch", text("branch"));
        put("Conclusion", text("conclusion").or_else(|| text("status")));
    } else {
        put("Title", Some(event.title.clone()));
        put("Severity", Some(event.severity.clone()));
        put("Count", d.get("count").map(|c| c.to_string().trim_matches('"').to_owned()));
    }
    Parts { headline: event.event_type.clone(), subject, lines, body, link }
}

fn bold(channel: Channel, s: &str) -> String {
    match channel {
        Channel::Slack => format!("*{}*", slack_escape(s)),
        Channel::Discord => format!("**{s}**"),
        Channel::Telegram => format!("<b>{}</b>", html_escape(s)),
        Channel::Whatsapp => s.to_owned(),
    }
}

fn inline(channel: Channel, s: &str) -> String {
    match channel {
        Channel::Slack => slack_escape(s),
        Channel::Telegram => html_escape(s),
        Channel::Discord | Channel::Whatsapp => s.to_owned(),
    }
}

fn link(channel: Channel, url: &str) -> String {
    match channel {
        Channel::Slack => format!("<{}|Open>", slack_escape(url)),
        Channel::Discord => format!("<{url}>"),
        Channel::Telegram => format!("<a href=\"{}\">Open</a>", html_escape(url)),
        Channel::Whatsapp => url.to_owned(),
    }
}

/// Slack's three control characters (its docs: escape `&`, `<` and `>` only).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Telegram's HTML parse mode needs exactly these escaped.
fn html_escape(s: &str) -> String {
    slack_escape(s).replace('"', "&quot;")
}

/// Cuts at a character boundary, marking the cut.
fn truncate(s: String, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s;
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, details: Value) -> EventRecord {
        EventRecord {
            id: "evt-1".into(),
            seq: 1,
            org_id: "default".into(),
            project_id: Some("proj-001".into()),
            source: "github".into(),
            event_type: kind.into(),
            severity: "high".into(),
            title: "Workflow 'CI' failed on main".into(),
            details,
            fingerprint: "f".into(),
            occurred_at: "2026-11-23T10:00:00.000Z".into(),
            recorded_at_ms: 0,
            agent_id: None,
            actions: Vec::new(),
        }
    }

    #[test]
    fn a_push_names_branch_author_and_commit_on_every_channel() {
        let e = event(
            "ci.push",
            json!({"repo":"acme/api","branch":"main","author":"dev","message":"Fix <b> & co","url":"https://x/y"}),
        );
        let slack = render(&e, Channel::Slack, None);
        assert_eq!(
            slack,
            "*ci.push* · acme/api\nBranch: main\nAuthor: dev\nCommit: Fix &lt;b&gt; &amp; co\n<https://x/y|Open>"
        );
        let telegram = render(&e, Channel::Telegram, None);
        assert!(telegram.starts_with("<b>ci.push</b> · acme/api\n"), "{telegram}");
        assert!(telegram.contains("Commit: Fix &lt;b&gt; &amp; co"));
        assert!(telegram.ends_with("<a href=\"https://x/y\">Open</a>"));
        assert!(render(&e, Channel::Discord, None).starts_with("**ci.push** · acme/api"));
        assert!(render(&e, Channel::Whatsapp, None).ends_with("\nhttps://x/y"));
    }

    #[test]
    fn a_build_names_workflow_branch_conclusion_and_link() {
        let e = event(
            "ci.workflow_run.failure",
            json!({"repo":"acme/api","branch":"main","name":"CI","conclusion":"failure","url":"https://x"}),
        );
        let text = render(&e, Channel::Whatsapp, Some("Suggestion: investigate"));
        assert_eq!(
            text,
            "ci.workflow_run.failure · acme/api\nWorkflow: CI\nBranch: main\nConclusion: failure\nhttps://x\n\nSuggestion: investigate"
        );
    }

    #[test]
    fn a_deploy_names_target_branch_commit_error_and_the_inspector() {
        let mut e = event(
            "deploy.failure",
            json!({"project":"web","target":"production","branch":"main","message":"feat: x",
                "error":"Build failed","url":"https://web.vercel.app","inspectorUrl":"https://vercel.com/i"}),
        );
        e.project_id = None;
        assert_eq!(
            render(&e, Channel::Whatsapp, None),
            "deploy.failure · web\nTarget: production\nBranch: main\nCommit: feat: x\nError: Build failed\nhttps://vercel.com/i"
        );
    }

    #[test]
    fn a_report_lists_its_lines() {
        let mut e = event("report.digest", json!({"lines":["12 audit entries","3 × ci_event"]}));
        e.project_id = None;
        e.title = "Digest of org default, last 24 h".into();
        assert_eq!(
            render(&e, Channel::Whatsapp, None),
            "report.digest\nReport: Digest of org default, last 24 h\n• 12 audit entries\n• 3 × ci_event"
        );
    }

    #[test]
    fn long_messages_are_cut_to_the_channel_limit() {
        let e = event("ci.push", json!({"repo":"a/b","message":"x".repeat(5000)}));
        let text = render(&e, Channel::Discord, None);
        assert_eq!(text.chars().count(), 2000);
        assert!(text.ends_with('…'));
    }
}
