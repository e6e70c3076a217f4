//! What the server reads from its environment (docs/API.md §1.9), resolved once at start so that no
//! handler reads the environment and tests can build any configuration in-process.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A credential. Its `Debug` never shows the value, so secrets cannot reach logs by accident;
/// the value is only reachable through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(••••)")
    }
}

/// How many days `audit-cleanup` keeps each kind of record besides the audit trail
/// (`SPAR_RETENTION`, `spar serve --retention`; docs/API.md §2.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// `(kind, days)`, one per kind of [`Retention::KINDS`].
    days: Vec<(&'static str, u32)>,
}

impl Default for Retention {
    fn default() -> Self {
        Self { days: Self::KINDS.to_vec() }
    }
}

impl Retention {
    /// Every kind and its default.
    pub const KINDS: [(&'static str, u32); 7] = [
        ("agents", 30),
        ("incidents", 90),
        ("receipts", 7),
        ("deliveries", 30),
        ("events", 30),
        ("approvals", 30),
        ("a2a", 30),
    ];
    /// Receipts are how redeliveries are recognised: never kept shorter than the dedupe window.
    pub const MIN_RECEIPT_DAYS: u32 = 7;

    /// Days kept of `kind` (a name of [`Retention::KINDS`]).
    pub fn days(&self, kind: &str) -> Option<u32> {
        self.days.iter().find(|(k, _)| *k == kind).map(|(_, d)| *d)
    }

    /// Applies `kind=days` entries, comma-separated (`incidents=30,deliveries=7`).
    pub fn apply(&mut self, list: &str) -> Result<(), String> {
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let kinds = || Self::KINDS.map(|(k, _)| k).join(", ");
            let (kind, days) = entry.split_once('=').ok_or_else(|| {
                format!("retention {entry:?}: write kind=days, a kind being one of {}", kinds())
            })?;
            let days: u32 = days.trim().parse().ok().filter(|d| *d > 0).ok_or_else(|| {
                format!("retention {entry:?}: days must be a whole number, at least 1")
            })?;
            let kind = kind.trim();
            let Some(slot) = self.days.iter_mut().find(|(k, _)| *k == kind) else {
                return Err(format!("retention {entry:?}: no kind {kind:?} (one of {})", kinds()));
            };
            if kind == "receipts" && days < Self::MIN_RECEIPT_DAYS {
                return Err(format!(
                    "retention {entry:?}: receipts are kept at least {} days, the dedupe window",
                    Self::MIN_RECEIPT_DAYS
                ));
            }
            slot.1 = days;
        }
        Ok(())
    }
}

/// `SPAR_EGRESS_ALLOW`: what user-supplied URLs may reach beyond the public internet
/// (`upstream::egress` applies it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressAllow {
    /// `(network, prefix length)`; a bare address is a full-length prefix.
    pub nets: Vec<(std::net::IpAddr, u8)>,
    /// Host names allowed whatever they resolve to, lower-cased.
    pub hosts: Vec<String>,
}

/// `SPAR_CA_FILE`: a PEM file of one or more CA certificates that outbound TLS trusts besides
/// the platform's store (a GitHub Enterprise or self-hosted Sentry behind a private CA). Read
/// and checked once at start: a file that cannot be read, or holds no usable certificate, stops
/// the server.
#[derive(Clone, PartialEq, Eq)]
pub struct CaFile {
    pub path: String,
    /// The certificates, DER-encoded, in file order.
    pub certs: Arc<Vec<Vec<u8>>>,
}

impl CaFile {
    pub fn load(path: &str) -> Result<Self, String> {
        let fail = |why: String| format!("SPAR_CA_FILE={path:?}: {why}");
        let pem = std::fs::read(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            let item = item.map_err(|e| fail(format!("not a PEM file: {e}")))?;
            // A key or anything else in the bundle is not a CA: skipped.
            if let ureq::tls::PemItem::Certificate(cert) = item {
                certs.push(cert.der().to_vec());
            }
        }
        if certs.is_empty() {
            return Err(fail(
                "the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        // rustls would skip a certificate it cannot use as a trust anchor without a word:
        // say so now rather than fail every call later with an unknown issuer.
        for (n, der) in certs.iter().enumerate() {
            let der = rustls::pki_types::CertificateDer::from(der.as_slice());
            rustls::RootCertStore::empty()
                .add(der)
                .map_err(|e| fail(format!("certificate {} is not a usable CA: {e}", n + 1)))?;
        }
        Ok(Self { path: path.to_owned(), certs: Arc::new(certs) })
    }
}

impl fmt::Debug for CaFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaFile")
            .field("path", &self.path)
            .field("certs", &self.certs.len())
            .finish()
    }
}

impl EgressAllow {
    /// A comma list of CIDRs (`10.0.0.0/8`), addresses (`127.0.0.1`) and host names
    /// (`hooks.lan`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let bad = |entry: &str| {
            format!("SPAR_EGRESS_ALLOW: {entry:?} is not a CIDR, an address or a host name")
        };
        let mut allow = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (addr, bits) = match entry.split_once('/') {
                Some((addr, bits)) => (addr.parse().ok(), Some(bits.parse::<u8>().ok())),
                None => (entry.parse::<std::net::IpAddr>().ok(), None),
            };
            let full = |addr: std::net::IpAddr| if addr.is_ipv4() { 32 } else { 128 };
            match (addr, bits) {
                (Some(addr), None) => allow.nets.push((addr, full(addr))),
                (Some(addr), Some(Some(bits))) if bits <= full(addr) => {
                    allow.nets.push((addr, bits));
                }
                (None, None)
                    if entry.len() <= 253
                        && entry
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b)) =>
                {
                    allow.hosts.push(entry.to_ascii_lowercase());
                }
                _ => return Err(bad(entry)),
            }
        }
        Ok(allow)
    }
}

/// Environment-derived settings of the API and the upstream clients.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `WEBHOOK_BASE_URL` without a trailing `/`: where GitHub should send this server's hooks.
    pub webhook_base_url: Option<String>,
    /// `http://<host>:<port>` of the listener, set by `spar serve`: the base of ingest URLs when
    /// `WEBHOOK_BASE_URL` is not set.
    pub listen_url: Option<String>,
    /// `GITHUB_API_URL`.
    pub github_api_url: String,
    /// `GITHUB_TOKEN`.
    pub github_token: Option<Secret>,
    /// `GITHUB_WEBHOOK_SECRET`.
    pub github_webhook_secret: Option<Secret>,
    /// `GITHUB_WEBHOOK_SECRET_<ORG>`, keyed by the `<ORG>` suffix as written in the environment.
    pub github_webhook_secrets: HashMap<String, Secret>,
    /// `SENTRY_WEBHOOK_SECRET`: what Sentry deliveries of every org without a stored secret are
    /// signed with.
    pub sentry_webhook_secret: Option<Secret>,
    /// `VERCEL_WEBHOOK_SECRET`: what Vercel deliveries of every org without a stored secret are
    /// signed with (docs/API.md §3.5).
    pub vercel_webhook_secret: Option<Secret>,
    /// `DEPLOY_WEBHOOK_SECRET`: the same for the generic deploy webhook (docs/API.md §3.6).
    pub deploy_webhook_secret: Option<Secret>,
    /// `WEBHOOK_STRICT_MODE=true`: refuse webhooks for which no secret is configured.
    pub webhook_strict_mode: bool,
    /// `SPAR_UPSTREAM_TIMEOUT_MS`: the overall limit of one outbound call (default 10 s).
    pub upstream_timeout: Duration,
    /// `SPAR_EGRESS_ALLOW`: internal addresses user-supplied URLs may reach (none by default).
    pub egress_allow: EgressAllow,
    /// `SPAR_CA_FILE`: private CAs every outbound call trusts besides the platform's store.
    pub ca_file: Option<CaFile>,
    /// Chat services' API base URLs (`SLACK_API_URL`, `DISCORD_API_URL`, `TELEGRAM_API_URL`).
    pub slack_api_url: String,
    pub discord_api_url: String,
    pub telegram_api_url: String,
    /// `PAGERDUTY_API_URL`, `PAGERDUTY_EVENTS_URL`, `LINEAR_API_URL`, `SENTRY_API_URL`.
    pub pagerduty_api_url: String,
    pub pagerduty_events_url: String,
    pub linear_api_url: String,
    pub sentry_api_url: String,
    /// Channel and integration credentials for org `default` when it has none stored
    /// (docs/API.md §1.9), as `(name, key, value)` in the keys the configure endpoints take.
    pub connector_env: Vec<(&'static str, &'static str, Secret)>,
    /// `SPAR_OUTBOX_BACKOFF_MS`: the first retry delay of the outbox (default 3 s; each next one
    /// is three times longer, so 8 attempts span about an hour).
    pub outbox_backoff: Duration,
    /// `SPAR_STREAM_KEEPALIVE_MS`: how often an idle event stream gets `: keepalive` (30 s).
    pub stream_keepalive: Duration,
    /// `SPAR_APPROVAL_TTL_MS`: how long an approval token stays valid (30 minutes).
    pub approval_ttl: Duration,
    /// `AUDIT_RETENTION_DAYS` (or `spar serve --audit-retention-days`): what `audit-cleanup`
    /// keeps (365 days).
    pub audit_retention_days: u32,
    /// `SPAR_METRICS_ORG_LABELS=true` (or `spar serve --metrics-org-labels`): `/metrics` shows
    /// per-org, per-task series to anyone, not only to the operator token.
    pub metrics_org_labels: bool,
    /// `SPAR_SECRET_KEY`: the key (64 hex digits) stored credentials are sealed with; without
    /// it the data dir keeps one in `secret.key` (docs/SECURITY.md).
    pub secret_key: Option<Secret>,
    /// `SPAR_RETENTION` (and `spar serve --retention`): what `audit-cleanup` keeps besides
    /// the audit trail.
    pub retention: Retention,
    /// `SPAR_SCHEDULER_TIME_SCALE`, for tests only: interval tasks run this many times faster
    /// (a 10 s task every second at 10). Cron tasks are not scaled. Default 1.
    pub scheduler_time_scale: u32,
}

/// Environment variables that configure a channel or integration of org `default`:
/// (variable, channel or integration, key).
const CONNECTOR_ENV: [(&str, &str, &str); 18] = [
    ("PAGERDUTY_API_TOKEN", "pagerduty", "apiKey"),
    ("PAGERDUTY_FROM_EMAIL", "pagerduty", "fromEmail"),
    ("PAGERDUTY_SERVICE_ID", "pagerduty", "serviceId"),
    ("PAGERDUTY_ESCALATION_POLICY_ID", "pagerduty", "escalationPolicyId"),
    ("PAGERDUTY_ROUTING_KEY", "pagerduty", "routingKey"),
    ("LINEAR_API_KEY", "linear", "apiKey"),
    ("LINEAR_TEAM_ID", "linear", "teamId"),
    ("SENTRY_AUTH_TOKEN", "sentry", "authToken"),
    ("SENTRY_ORG", "sentry", "org"),
    ("SENTRY_PROJECT", "sentry", "project"),
    ("SENTRY_WEBHOOK_SECRET", "sentry", "webhookSecret"),
    ("SLACK_BOT_TOKEN", "slack", "botToken"),
    ("DISCORD_BOT_TOKEN", "discord", "botToken"),
    ("DISCORD_WEBHOOK_URL", "discord", "webhookUrl"),
    ("TELEGRAM_BOT_TOKEN", "telegram", "botToken"),
    ("EVOLUTION_API_URL", "whatsapp", "evolutionApiUrl"),
    ("EVOLUTION_API_KEY", "whatsapp", "evolutionApiKey"),
    ("EVOLUTION_INSTANCE", "whatsapp", "evolutionInstance"),
];

impl Default for Settings {
    fn default() -> Self {
        Self {
            webhook_base_url: None,
            listen_url: None,
            github_api_url: "https://api.github.com".into(),
            github_token: None,
            github_webhook_secret: None,
            github_webhook_secrets: HashMap::new(),
            sentry_webhook_secret: None,
            vercel_webhook_secret: None,
            deploy_webhook_secret: None,
            webhook_strict_mode: false,
            upstream_timeout: Duration::from_secs(10),
            egress_allow: EgressAllow::default(),
            ca_file: None,
            slack_api_url: "https://slack.com/api".into(),
            discord_api_url: "https://discord.com/api/v10".into(),
            telegram_api_url: "https://api.telegram.org".into(),
            pagerduty_api_url: "https://api.pagerduty.com".into(),
            pagerduty_events_url: "https://events.pagerduty.com".into(),
            linear_api_url: "https://api.linear.app/graphql".into(),
            sentry_api_url: "https://sentry.io".into(),
            connector_env: Vec::new(),
            outbox_backoff: Duration::from_secs(3),
            stream_keepalive: Duration::from_secs(30),
            approval_ttl: Duration::from_secs(30 * 60),
            audit_retention_days: 365,
            metrics_org_labels: false,
            retention: Retention::default(),
            secret_key: None,
            scheduler_time_scale: 1,
        }
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(std::env::vars())
    }

    /// Reads settings from `(name, value)` pairs; empty values count as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, String> {
        let vars: HashMap<String, String> =
            vars.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
        let text = |name: &str| vars.get(name).map(|v| v.trim().to_owned());
        let secret = |name: &str| vars.get(name).map(Secret::new);
        let flag = |name: &str| {
            text(name)
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        };
        let defaults = Self::default();
        let millis = |name: &str, default: Duration| match text(name) {
            None => Ok(default),
            Some(ms) => match ms.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(format!("{name}={ms:?} is not a positive number of milliseconds")),
            },
        };
        let positive = |name: &str, default: u32| match text(name) {
            None => Ok(default),
            Some(n) => match n.parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name}={n:?} is not a positive whole number")),
            },
        };
        let url = |name: &str, default: String| {
            text(name).map_or(default, |u| u.trim_end_matches('/').to_owned())
        };
        Ok(Self {
            webhook_base_url: text("WEBHOOK_BASE_URL").map(|u| u.trim_end_matches('/').to_owned()),
            listen_url: None,
            github_api_url: url("GITHUB_API_URL", defaults.github_api_url),
            github_token: secret("GITHUB_TOKEN"),
            github_webhook_secret: secret("GITHUB_WEBHOOK_SECRET"),
            github_webhook_secrets: vars
                .iter()
                .filter_map(|(k, v)| {
                    let org = k.strip_prefix("GITHUB_WEBHOOK_SECRET_")?;
                    Some((org.to_owned(), Secret::new(v.clone())))
                })
                .collect(),
            sentry_webhook_secret: secret("SENTRY_WEBHOOK_SECRET"),
            vercel_webhook_secret: secret("VERCEL_WEBHOOK_SECRET"),
            deploy_webhook_secret: secret("DEPLOY_WEBHOOK_SECRET"),
            webhook_strict_mode: flag("WEBHOOK_STRICT_MODE"),
            upstream_timeout: millis("SPAR_UPSTREAM_TIMEOUT_MS", defaults.upstream_timeout)?,
            egress_allow: EgressAllow::parse(&text("SPAR_EGRESS_ALLOW").unwrap_or_default())?,
            ca_file: text("SPAR_CA_FILE").as_deref().map(CaFile::load).transpose()?,
            slack_api_url: url("SLACK_API_URL", defaults.slack_api_url),
            discord_api_url: url("DISCORD_API_URL", defaults.discord_api_url),
            telegram_api_url: url("TELEGRAM_API_URL", defaults.telegram_api_url),
            pagerduty_api_url: url("PAGERDUTY_API_URL", defaults.pagerduty_api_url),
            pagerduty_events_url: url("PAGERDUTY_EVENTS_URL", defaults.pagerduty_events_url),
            linear_api_url: url("LINEAR_API_URL", defaults.linear_api_url),
            sentry_api_url: url("SENTRY_API_URL", defaults.sentry_api_url),
            connector_env: CONNECTOR_ENV
                .iter()
                .filter_map(|(var, channel, key)| Some((*channel, *key, secret(var)?)))
                .collect(),
            outbox_backoff: millis("SPAR_OUTBOX_BACKOFF_MS", defaults.outbox_backoff)?,
            stream_keepalive: millis("SPAR_STREAM_KEEPALIVE_MS", defaults.stream_keepalive)?,
            approval_ttl: millis("SPAR_APPROVAL_TTL_MS", defaults.approval_ttl)?,
            audit_retention_days: positive("AUDIT_RETENTION_DAYS", defaults.audit_retention_days)?,
            metrics_org_labels: flag("SPAR_METRICS_ORG_LABELS"),
            retention: {
                let mut retention = Retention::default();
                retention.apply(&text("SPAR_RETENTION").unwrap_or_default())?;
                retention
            },
            secret_key: secret("SPAR_SECRET_KEY"),
            scheduler_time_scale: positive(
                "SPAR_SCHEDULER_TIME_SCALE",
                defaults.scheduler_time_scale,
            )?,
        })
    }

    /// The secret GitHub deliveries for `org` are signed with: `GITHUB_WEBHOOK_SECRET_<ORG>`
    /// (upper-cased, `-` and `.` as `_`), then `GITHUB_WEBHOOK_SECRET`.
    pub fn github_secret_for(&self, org: &str) -> Option<&Secret> {
        self.github_webhook_secrets.get(&env_suffix(org)).or(self.github_webhook_secret.as_ref())
    }

    /// The environment's config of a channel or integration (org `default` only), when any
    /// variable sets it.
    pub fn env_config(&self, name: &str) -> Option<Vec<(String, Secret)>> {
        let keys: Vec<(String, Secret)> = self
            .connector_env
            .iter()
            .filter(|(c, _, _)| *c == name)
            .map(|(_, k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        (!keys.is_empty()).then_some(keys)
    }

    /// The base of URLs this server hands out for others to call (ingest URLs).
    pub fn public_base_url(&self) -> String {
        self.webhook_base_url
            .clone()
            .or_else(|| self.listen_url.clone())
            .unwrap_or_else(|| "http://localhost:3000".into())
    }

    /// The URL GitHub should deliver `org`'s events to. The default org's is
    /// `<WEBHOOK_BASE_URL>/webhooks/github` (docs/API.md §2.7); other orgs add `?orgId=`,
    /// so their deliveries land in (and are verified with the secret of) the right org.
    pub fn github_hook_url(&self, org: &str) -> Option<String> {
        let base = self.webhook_base_url.as_ref()?;
        Some(if org == crate::ids::DEFAULT_ORG {
            format!("{base}/webhooks/github")
        } else {
            format!("{base}/webhooks/github?orgId={org}")
        })
    }
}

/// `acme-corp` → `ACME_CORP`: how an org id appears in an environment variable name.
pub fn env_suffix(org: &str) -> String {
    org.chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_vars(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .expect("settings")
    }

    #[test]
    fn per_org_secret_wins_over_the_global_one() {
        let s = vars(&[
            ("GITHUB_WEBHOOK_SECRET", "global"),
            ("GITHUB_WEBHOOK_SECRET_ORG_ACME_CORP", "acme"),
        ]);
        assert_eq!(s.github_secret_for("org-acme-corp").map(Secret::expose), Some("acme"));
        assert_eq!(s.github_secret_for("default").map(Secret::expose), Some("global"));
        assert_eq!(vars(&[]).github_secret_for("default"), None);
    }

    #[test]
    fn urls_lose_trailing_slashes_and_empty_values_are_unset() {
        let s = vars(&[("WEBHOOK_BASE_URL", "https://spar.example.com/"), ("GITHUB_TOKEN", " ")]);
        assert_eq!(
            s.github_hook_url("default").as_deref(),
            Some("https://spar.example.com/webhooks/github")
        );
        assert_eq!(
            s.github_hook_url("org-a").as_deref(),
            Some("https://spar.example.com/webhooks/github?orgId=org-a")
        );
        assert!(s.github_token.is_none());
    }

    #[test]
    fn a_ca_file_must_be_readable_and_hold_a_certificate() {
        let from = |path: &str| {
            Settings::from_vars([("SPAR_CA_FILE".to_owned(), path.to_owned())]).map(|s| s.ca_file)
        };
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("missing.pem");
        let missing = missing.to_str().expect("utf-8");
        let e = from(missing).expect_err("missing");
        assert!(e.starts_with(&format!("SPAR_CA_FILE={missing:?}: cannot read")), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").expect("write");
        let e = from(empty.to_str().expect("utf-8")).expect_err("empty");
        assert!(e.contains("SPAR_CA_FILE=") && e.contains("no PEM certificate"), "{e}");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .expect("write");
        let e = from(junk.to_str().expect("utf-8")).expect_err("junk");
        assert!(e.contains("certificate 1 is not a usable CA"), "{e}");
        assert_eq!(vars(&[]).ca_file, None);
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = vars(&[("GITHUB_TOKEN", "ghp_verysecret")]);
        assert!(!format!("{s:?}").contains("verysecret"));
    }
}
