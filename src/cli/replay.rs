//! `spar replay <file-or-dir>` or `spar replay --builtin github|sentry|vercel|deploy|spike/<slug>`: posts
//! fixture webhooks to a running server with the headers and signature the real sender would
//! use (docs/API.md §3.4), and prints each answer. The repository's `fixtures/` are built into
//! the binary, so a user of the static binary needs no checkout.
//!
//! A fixture's source is the directory it sits in (`fixtures/github/…`, `fixtures/sentry/…`,
//! `fixtures/vercel/…`, `fixtures/deploy/…`); its event (GitHub's `X-GitHub-Event`, Sentry's
//! `Sentry-Hook-Resource`) is its file name up to the first dot (`pull_request.opened.json` is a
//! `pull_request`, `event_alert.fatal.json` an `event_alert`). The signature is over the bytes
//! sent: the file's, with a GitHub, Sentry or generic deploy delivery's id added as a field
//! (`_replay`), and a Vercel body's own `id` replaced by it, so replaying a fixture again is a
//! new delivery, not a replay of the last one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;

use crate::engine::signature;
use crate::settings::env_suffix;

/// Send fixture webhooks to a running server, signed.
#[derive(FromArgs)]
#[argh(subcommand, name = "replay")]
pub struct ReplayArgs {
    /// a fixture file, or a directory of fixtures (read recursively, in name order)
    #[argh(positional)]
    path: Option<PathBuf>,
    /// the built-in fixtures instead: github, sentry, vercel, deploy, spike/<slug>
    /// (spike/prometheus), or one of them (github/push.json)
    #[argh(option)]
    builtin: Option<String>,
    /// the server's base URL [env SPAR_URL, else the address in <data-dir>/spar.addr]
    #[argh(option)]
    url: Option<String>,
    /// the data dir whose spar.addr names the server [env SPAR_DATA_DIR, else
    /// $STATE_DIRECTORY, else ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
    /// secret to sign with [env GITHUB_WEBHOOK_SECRET_<ORG>, then GITHUB_WEBHOOK_SECRET;
    /// SENTRY_WEBHOOK_SECRET, VERCEL_WEBHOOK_SECRET, DEPLOY_WEBHOOK_SECRET for those fixtures]
    #[argh(option)]
    secret: Option<String>,
    /// org the deliveries are for, sent as ?orgId=
    #[argh(option)]
    org: Option<String>,
    /// the Spike integration token fixtures under a spike/ directory are posted to
    /// (`/ingest/<token>`)
    #[argh(option)]
    token: Option<String>,
}

/// Where a fixture goes and how it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    GitHub,
    Sentry,
    /// Vercel's deployment webhooks, signed with HMAC-SHA1.
    Vercel,
    /// The generic deploy webhook.
    Deploy,
    /// `fixtures/spike/<slug>/…`: posted to a Spike integration's ingest URL.
    Spike,
}

impl Source {
    /// `spike` anywhere above the fixture, else the source named by the closest directory.
    fn of(path: &Path) -> Option<Self> {
        let named = |dir: &Path, name: &str| dir.file_name().is_some_and(|n| n == name);
        if path.ancestors().skip(1).any(|dir| named(dir, "spike")) {
            return Some(Self::Spike);
        }
        path.ancestors().skip(1).find_map(|dir| match dir.file_name()?.to_str()? {
            "github" => Some(Self::GitHub),
            "sentry" => Some(Self::Sentry),
            "vercel" => Some(Self::Vercel),
            "deploy" => Some(Self::Deploy),
            _ => None,
        })
    }

    fn endpoint(self, token: Option<&str>) -> Result<String, String> {
        match self {
            Self::GitHub => Ok("/webhooks/github".into()),
            Self::Sentry => Ok("/webhooks/sentry".into()),
            Self::Vercel => Ok("/webhooks/vercel".into()),
            Self::Deploy => Ok("/webhooks/deploy".into()),
            Self::Spike => token
                .map(|t| format!("/ingest/{}", crate::upstream::path_segment(t)))
                .ok_or_else(|| "Spike fixtures need --token <integration token>".to_owned()),
        }
    }

    fn secret(self, flag: Option<&str>, org: Option<&str>) -> Option<String> {
        if let Some(s) = flag {
            return Some(s.to_owned());
        }
        let var = |name: String| std::env::var(name).ok().filter(|v| !v.is_empty());
        match self {
            Self::GitHub => org
                .and_then(|o| var(format!("GITHUB_WEBHOOK_SECRET_{}", env_suffix(o))))
                .or_else(|| var("GITHUB_WEBHOOK_SECRET".into())),
            Self::Sentry => var("SENTRY_WEBHOOK_SECRET".into()),
            Self::Vercel => var("VERCEL_WEBHOOK_SECRET".into()),
            Self::Deploy => var("DEPLOY_WEBHOOK_SECRET".into()),
            Self::Spike => None,
        }
    }

    /// The body as this delivery sends it. A GitHub, Sentry or generic deploy body names its
    /// delivery id in a field of its own (`_replay`, which Spar's parsers skip): Spar takes a
    /// signed body it has seen before as a replay, so a replayed fixture must not be byte for
    /// byte the last one. A Vercel body carries its delivery id as `id`, which is replaced.
    fn body(self, file_bytes: Vec<u8>, delivery: &str) -> Vec<u8> {
        if self == Self::Vercel {
            return match serde_json::from_slice::<serde_json::Value>(&file_bytes) {
                Ok(mut body) if body.is_object() => {
                    body["id"] = serde_json::Value::from(delivery);
                    serde_json::to_vec_pretty(&body).unwrap_or(file_bytes)
                }
                // Not JSON: sent as it is, for the server to refuse.
                _ => file_bytes,
            };
        }
        let open = file_bytes.iter().position(|b| *b == b'{');
        match (self, open) {
            (Self::GitHub | Self::Sentry | Self::Deploy, Some(at)) => {
                let mut out = file_bytes[..=at].to_vec();
                out.extend_from_slice(format!("\"_replay\":{delivery:?},").as_bytes());
                out.extend_from_slice(&file_bytes[at + 1..]);
                out
            }
            _ => file_bytes,
        }
    }

    /// The headers the real sender puts on this delivery.
    fn headers(
        self,
        file: &Path,
        body: &[u8],
        delivery: &str,
        secret: Option<&str>,
    ) -> Vec<(String, String)> {
        let stem = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let event = stem.split('.').next().unwrap_or(stem);
        match self {
            // The token in the URL is the authentication.
            Self::Spike => Vec::new(),
            Self::Vercel => secret
                .map(|s| {
                    ("x-vercel-signature".to_owned(), signature::sign_hex_sha1(s.as_bytes(), body))
                })
                .into_iter()
                .collect(),
            Self::Deploy => secret
                .map(|s| ("x-deploy-signature".to_owned(), signature::sign_hex(s.as_bytes(), body)))
                .into_iter()
                .collect(),
            Self::Sentry => {
                let mut headers = vec![
                    ("Sentry-Hook-Resource".to_owned(), event.to_owned()),
                    (
                        "Sentry-Hook-Timestamp".to_owned(),
                        crate::clock::now_ms().div_euclid(1000).to_string(),
                    ),
                    ("Request-ID".to_owned(), delivery.to_owned()),
                ];
                if let Some(secret) = secret {
                    let sig = signature::sign_hex(secret.as_bytes(), body);
                    headers.push(("Sentry-Hook-Signature".to_owned(), sig));
                }
                headers
            }
            Self::GitHub => {
                let mut headers = vec![
                    ("X-GitHub-Event".to_owned(), event.to_owned()),
                    ("X-GitHub-Delivery".to_owned(), delivery.to_owned()),
                    ("User-Agent".to_owned(), "GitHub-Hookshot/spar-replay".to_owned()),
                ];
                if let Some(secret) = secret {
                    let sig = signature::sign_hex(secret.as_bytes(), body);
                    headers.push(("X-Hub-Signature-256".to_owned(), format!("sha256={sig}")));
                }
                headers
            }
        }
    }
}

pub fn run(args: ReplayArgs) -> ExitCode {
    let files = match chosen(&args) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("spar replay: {e}");
            return ExitCode::from(2);
        }
    };
    let remote = super::remote::Remote::new(args.url.clone(), args.data_dir.clone(), None);
    let base = match remote.and_then(|r| r.base()) {
        Ok(base) => base,
        Err(e) => {
            eprintln!("spar replay: {e}");
            return ExitCode::from(2);
        }
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut failed = 0;
    for file in &files {
        match send(&agent, &base, file, &args) {
            Ok((status, answer)) => {
                println!("{}  {status}  {answer}", file.path.display());
                if !(200..300).contains(&status) {
                    failed += 1;
                }
            }
            Err(e) => {
                println!("{}  error  {e}", file.path.display());
                failed += 1;
            }
        }
    }
    println!("{} sent, {failed} failed", files.len());
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn send(
    agent: &ureq::Agent,
    base: &str,
    file: &Fixture,
    args: &ReplayArgs,
) -> Result<(u16, String), String> {
    let source = Source::of(&file.path).ok_or_else(|| {
        "cannot tell which webhook this is for: put it under a github/, sentry/, vercel/, deploy/ or spike/<slug>/ directory"
            .to_owned()
    })?;
    let delivery = delivery_id();
    let body = source.body(file.bytes.clone(), &delivery);
    let secret = source.secret(args.secret.as_deref(), args.org.as_deref());
    let mut url = format!("{base}{}", source.endpoint(args.token.as_deref())?);
    if let Some(org) = &args.org {
        url.push_str(&format!("?orgId={org}"));
    }
    let mut request = agent.post(&url).header("Content-Type", "application/json");
    for (name, value) in source.headers(&file.path, &body, &delivery, secret.as_deref()) {
        request = request.header(name, value);
    }
    let mut response = request.send(&body[..]).map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let answer = response.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((status, answer))
}

/// One fixture: where it is (its directories say its source) and its bytes.
struct Fixture {
    path: PathBuf,
    bytes: Vec<u8>,
}

/// The fixtures the arguments name: a path on disk, or a set of the built-in ones.
fn chosen(args: &ReplayArgs) -> Result<Vec<Fixture>, String> {
    match (&args.path, &args.builtin) {
        (Some(_), Some(_)) => Err("give a path or --builtin, not both".into()),
        (None, None) => {
            Err("give a fixture file or directory, or --builtin github|sentry|vercel|deploy|spike/<slug>"
                .into())
        }
        (None, Some(set)) => builtin(set),
        (Some(path), None) => {
            let files =
                fixtures(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if files.is_empty() {
                return Err(format!("no .json fixtures under {}", path.display()));
            }
            files
                .into_iter()
                .map(|p| {
                    let bytes = std::fs::read(&p)
                        .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                    Ok(Fixture { path: p, bytes })
                })
                .collect()
        }
    }
}

macro_rules! builtin {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $path)))),*]
    };
}

/// The repository's `fixtures/`, built in (a test checks none is missing).
static BUILTIN: &[(&str, &[u8])] = builtin![
    "deploy/failure.json",
    "deploy/pending.json",
    "deploy/success.json",
    "github/check_run.success.json",
    "github/ping.json",
    "github/pull_request.merged.json",
    "github/pull_request.opened.json",
    "github/push.json",
    "github/workflow_run.failure.json",
    "github/workflow_run.success.json",
    "sentry/event_alert.fatal.json",
    "sentry/issue.created.json",
    "sentry/issue.resolved.json",
    "sentry/metric_alert.critical.json",
    "spike/github-workflows/1.workflow_run.failure.json",
    "spike/github-workflows/2.workflow_run.success.json",
    "spike/grafana/1.firing.json",
    "spike/grafana/2.resolved.json",
    "spike/pagerduty/1.incident.triggered.json",
    "spike/pagerduty/2.incident.resolved.json",
    "spike/prometheus/1.firing.json",
    "spike/prometheus/2.resolved.json",
    "spike/sentry/1.issue.created.json",
    "spike/sentry/2.issue.resolved.json",
    "spike/webhook/1.alert.json",
    "spike/webhook/2.resolve.json",
    "vercel/deployment.canceled.json",
    "vercel/deployment.created.json",
    "vercel/deployment.error.json",
    "vercel/deployment.succeeded.json",
];

/// The built-in fixtures under `set/` (`github`, `spike/prometheus`), or the one named
/// (`github/push.json`), in name order.
fn builtin(set: &str) -> Result<Vec<Fixture>, String> {
    let set = set.trim_matches('/');
    let prefix = format!("{set}/");
    let chosen: Vec<Fixture> = BUILTIN
        .iter()
        .filter(|(path, _)| *path == set || path.starts_with(&prefix))
        .map(|(path, bytes)| Fixture {
            path: PathBuf::from("builtin").join(path),
            bytes: bytes.to_vec(),
        })
        .collect();
    if chosen.is_empty() {
        let mut sets: Vec<&str> =
            BUILTIN.iter().filter_map(|(p, _)| p.rsplit_once('/').map(|(dir, _)| dir)).collect();
        sets.dedup();
        return Err(format!(
            "no built-in fixtures {set:?}; there are: github, sentry, vercel, deploy, spike, {}",
            sets.iter().filter(|s| s.starts_with("spike/")).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(chosen)
}

/// The `.json` files at `path` (itself, or under it), in name order.
fn fixtures(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A fresh GUID-shaped delivery id, so replays are not taken for redeliveries.
fn delivery_id() -> String {
    let (a, b) = (crate::ids::random_u64(), crate::ids::random_u64());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_fixtures_are_new_deliveries_signed_with_their_senders_scheme() {
        let file = Path::new("fixtures/vercel/deployment.error.json");
        assert_eq!(Source::of(file), Some(Source::Vercel));
        assert_eq!(Source::of(Path::new("fixtures/deploy/failure.json")), Some(Source::Deploy));
        let body =
            Source::Vercel.body(br#"{"id":"old","type":"deployment.error"}"#.to_vec(), "d-1");
        let sent: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            (sent["id"].as_str(), sent["type"].as_str()),
            (Some("d-1"), Some("deployment.error"))
        );
        let sig = signature::sign_hex_sha1(b"s", &body);
        assert_eq!(
            Source::Vercel.headers(file, &body, "d-1", Some("s")),
            vec![("x-vercel-signature".to_owned(), sig)]
        );
        assert!(Source::Vercel.headers(file, &body, "d-1", None).is_empty());

        let body = Source::Deploy.body(br#"{"status":"success"}"#.to_vec(), "d-2");
        assert_eq!(body, br#"{"_replay":"d-2","status":"success"}"#);
        assert_eq!(
            Source::Deploy.headers(Path::new("deploy/success.json"), &body, "d-2", Some("s")),
            vec![("x-deploy-signature".to_owned(), signature::sign_hex(b"s", &body))]
        );
    }

    #[test]
    fn every_fixture_of_the_repository_is_built_in() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let on_disk: Vec<String> = fixtures(&root)
            .expect("fixtures")
            .iter()
            .map(|p| p.strip_prefix(&root).expect("under").to_string_lossy().into_owned())
            .collect();
        let built_in: Vec<&str> = BUILTIN.iter().map(|(p, _)| *p).collect();
        assert_eq!(on_disk, built_in);
        for (path, bytes) in BUILTIN {
            assert!(Source::of(Path::new(path)).is_some(), "{path}");
            assert_eq!(std::fs::read(root.join(path)).expect("read"), *bytes);
        }
        assert_eq!(builtin("spike/prometheus").expect("set").len(), 2);
        assert_eq!(builtin("github").expect("set").len(), 7);
        assert_eq!(builtin("github/push.json").expect("one").len(), 1);
        assert_eq!(builtin("vercel").expect("set").len(), 4);
        assert_eq!(builtin("deploy").expect("set").len(), 3);
        assert!(builtin("nope").is_err());
    }
}
