//! `spar serve`: open the store, bind, serve until SIGINT/SIGTERM, drain, exit 0.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use argh::FromArgs;
use tokio::net::TcpListener;

use super::{data_dir, setting};
use crate::app::App;
use crate::http::{self, HttpConfig, Shared};
use crate::settings::Settings;

/// The file in the data dir that names the address the server listens on.
pub const ADDR_FILE: &str = "spar.addr";
/// The file in the data dir (mode 0600) that names the loopback admin listener and its token:
/// `<addr> <token>`. Tools like `spar api-key` use it to reach a running server.
pub const ADMIN_FILE: &str = "spar.admin";

/// Run the server.
#[derive(FromArgs)]
#[argh(subcommand, name = "serve")]
pub struct ServeArgs {
    /// data directory holding the store and indexes [env SPAR_DATA_DIR, else $STATE_DIRECTORY, else ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
    /// address to bind [env HOST, default 0.0.0.0]
    #[argh(option)]
    host: Option<String>,
    /// port to listen on, 0 for any free port [env PORT, default 3000]
    #[argh(option)]
    port: Option<u16>,
    /// requests to /api/* per minute per client IP, 0 disables [env RATE_LIMIT_API, default 100]
    #[argh(option)]
    rate_limit_api: Option<u32>,
    /// webhook requests per minute per client IP, 0 disables [env RATE_LIMIT_WEBHOOKS, default 30]
    #[argh(option)]
    rate_limit_webhooks: Option<u32>,
    /// proxies of ours in front: the client is the address the last of them appended to
    /// X-Forwarded-For; alone it means 1 [env TRUST_PROXY: a number, or true for 1; default 0]
    #[argh(option)]
    trust_proxy: Option<u8>,
    /// log format, pretty or json [env LOG_FORMAT, default pretty on a terminal, else json]
    #[argh(option)]
    log_format: Option<String>,
    /// seconds a client may take to send request headers, idle keep-alive included
    /// [env SPAR_HEADER_TIMEOUT, default 10]
    #[argh(option)]
    header_timeout: Option<u64>,
    /// seconds a client may take to send a request body once its headers arrived
    /// [env SPAR_BODY_TIMEOUT, default 30]
    #[argh(option)]
    body_timeout: Option<u64>,
    /// connections served at once [env SPAR_MAX_CONNECTIONS, default 1024]
    #[argh(option)]
    max_connections: Option<usize>,
    /// connections one client address may hold open, 0 for no cap (behind a proxy, the proxy
    /// is one address) [env SPAR_MAX_CONNECTIONS_PER_CLIENT, default 64]
    #[argh(option)]
    max_connections_per_client: Option<usize>,
    /// event streams one client may hold open, 0 for no cap
    /// [env SPAR_MAX_STREAMS_PER_CLIENT, default 8]
    #[argh(option)]
    max_streams_per_client: Option<usize>,
    /// seconds a client may leave bytes we send untaken before its connection is closed
    /// [env SPAR_WRITE_TIMEOUT, default 30]
    #[argh(option)]
    write_timeout: Option<u64>,
    /// days of audit trail the audit-cleanup task keeps [env AUDIT_RETENTION_DAYS, default 365]
    #[argh(option)]
    audit_retention_days: Option<u32>,
    /// days a kind of record is kept, as kind=days, repeatable: agents (30), incidents (90),
    /// receipts (7, the least), deliveries (30), events (30), approvals (30), a2a (30)
    /// [env SPAR_RETENTION: kind=days,…]
    #[argh(option)]
    retention: Vec<String>,
    /// show per-org, per-task series of /metrics to anyone, not only to the operator token
    /// [env SPAR_METRICS_ORG_LABELS]
    #[argh(switch)]
    metrics_org_labels: bool,
    /// one log line per answered request (target spar::access), on or off
    /// [env SPAR_ACCESS_LOG, default on]
    #[argh(option)]
    access_log: Option<String>,
}

struct ServeConfig {
    data_dir: PathBuf,
    host: String,
    port: u16,
    json_logs: bool,
    http: HttpConfig,
    settings: Settings,
}

impl ServeConfig {
    fn resolve(args: ServeArgs) -> Result<Self, String> {
        let log_format = setting(args.log_format, "LOG_FORMAT", String::new())?;
        let json_logs = match log_format.as_str() {
            "json" => true,
            "pretty" => false,
            "" => !std::io::stderr().is_terminal(),
            other => {
                return Err(format!("--log-format must be pretty or json, not {other:?}"));
            }
        };
        let defaults = HttpConfig::default();
        let max_connections =
            setting(args.max_connections, "SPAR_MAX_CONNECTIONS", defaults.max_connections)?;
        if max_connections == 0 {
            return Err("--max-connections must be at least 1".into());
        }
        let header_secs = setting(args.header_timeout, "SPAR_HEADER_TIMEOUT", 10)?;
        if header_secs == 0 {
            return Err("--header-timeout must be at least 1 second".into());
        }
        let body_secs = setting(args.body_timeout, "SPAR_BODY_TIMEOUT", 30)?;
        if body_secs == 0 {
            return Err("--body-timeout must be at least 1 second".into());
        }
        let write_secs = setting(args.write_timeout, "SPAR_WRITE_TIMEOUT", 30)?;
        if write_secs == 0 {
            return Err("--write-timeout must be at least 1 second".into());
        }
        let http = HttpConfig {
            api_token: std::env::var("ENGINE_API_TOKEN").ok().filter(|t| !t.is_empty()),
            cors_origins: std::env::var("CORS_ORIGIN").ok().filter(|v| !v.trim().is_empty()).map(
                |v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect(),
            ),
            trust_proxy_hops: match args.trust_proxy {
                Some(hops) => hops,
                None => proxy_hops_from_env()?,
            },
            max_connections_per_client: setting(
                args.max_connections_per_client,
                "SPAR_MAX_CONNECTIONS_PER_CLIENT",
                defaults.max_connections_per_client,
            )?,
            max_streams_per_client: setting(
                args.max_streams_per_client,
                "SPAR_MAX_STREAMS_PER_CLIENT",
                defaults.max_streams_per_client,
            )?,
            write_timeout: Duration::from_secs(write_secs),
            rate_limit_api: setting(
                args.rate_limit_api,
                "RATE_LIMIT_API",
                defaults.rate_limit_api,
            )?,
            rate_limit_webhooks: setting(
                args.rate_limit_webhooks,
                "RATE_LIMIT_WEBHOOKS",
                defaults.rate_limit_webhooks,
            )?,
            header_timeout: Duration::from_secs(header_secs),
            body_timeout: Duration::from_secs(body_secs),
            max_connections,
            access_log: on_off(args.access_log, "SPAR_ACCESS_LOG", "--access-log", true)?,
        };
        let mut settings = Settings::from_env()?;
        settings.metrics_org_labels |= args.metrics_org_labels;
        for entry in &args.retention {
            settings.retention.apply(entry)?;
        }
        if let Some(days) = args.audit_retention_days {
            if days == 0 {
                return Err("--audit-retention-days must be at least 1".into());
            }
            settings.audit_retention_days = days;
        }
        Ok(Self {
            data_dir: data_dir(args.data_dir)?,
            host: setting(args.host, "HOST", "0.0.0.0".to_owned())?,
            port: setting(args.port, "PORT", 3000)?,
            json_logs,
            http,
            settings,
        })
    }
}

pub fn run(args: ServeArgs) -> ExitCode {
    let config = match ServeConfig::resolve(args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("spar serve: {msg}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.json_logs);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            tracing::error!("{msg}");
            eprintln!("spar serve: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: ServeConfig) -> Result<(), String> {
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut settings = config.settings;
    settings.listen_url = Some(format!("http://{}:{}", config.host, addr.port()));
    let mut app = App::open(&config.data_dir, settings).map_err(|e| e.to_string())?;
    app.start_workers().await.map_err(|e| e.to_string())?;
    let admin = start_admin_listener(&config.data_dir, &app, config.http.access_log).await?;
    // Written last: its presence means the server is ready (tools and tests wait for it).
    write_addr_file(&config.data_dir, addr)
        .map_err(|e| format!("cannot write {ADDR_FILE}: {e}"))?;
    if config.http.api_token.is_none() {
        tracing::warn!(
            "ENGINE_API_TOKEN is not set: /api/* is open to anyone who can reach this port"
        );
    }
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "spar {} listening", env!("CARGO_PKG_VERSION"));
    // Both listeners are bound and the addr file is written: a `Type=notify` unit is started.
    notify_systemd(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("listening on {addr}")),
    ]);
    let shared = Arc::new(Shared::new(app.state(), config.http));
    let shutdown = async {
        shutdown_signal().await;
        notify_systemd(&[
            sd_notify::NotifyState::Stopping,
            sd_notify::NotifyState::Status("stopping: draining requests, deliveries and task runs"),
        ]);
        // Ends event streams (so their connections can close) and the admin listener.
        app.begin_shutdown();
    };
    http::serve(listener, shared, shutdown).await;
    if let Err(e) = admin.await {
        tracing::error!(error = %e, "the admin listener ended abnormally");
    }
    let stats = app.store().clone();
    app.shutdown().await;
    log_writer_stats(stats.writer_stats());
    let _ = std::fs::remove_file(config.data_dir.join(ADDR_FILE));
    let _ = std::fs::remove_file(config.data_dir.join(ADMIN_FILE));
    tracing::info!("stopped");
    Ok(())
}

fn log_writer_stats(stats: &crate::store::WriterStats) {
    use std::sync::atomic::Ordering::Relaxed;
    let (batches, writes) = (stats.batches.load(Relaxed), stats.writes.load(Relaxed));
    let per_batch = |v: u64| v.checked_div(batches).unwrap_or(0);
    tracing::info!(
        batches,
        writes,
        avg_batch = writes as f64 / batches.max(1) as f64,
        avg_run_micros = per_batch(stats.run_micros.load(Relaxed)),
        avg_commit_micros = per_batch(stats.commit_micros.load(Relaxed)),
        checkpoints = stats.checkpoints.load(Relaxed),
        "group commit"
    );
}

/// Binds the admin listener on a free loopback port, records it with a fresh token in
/// [`ADMIN_FILE`], and serves it until the app shuts down.
async fn start_admin_listener(
    data_dir: &Path,
    app: &App,
    access_log: bool,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot open the admin listener: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let token = crate::ids::secret_hex(32)
        .map_err(|e| format!("no randomness for the admin token: {e}"))?;
    write_private(&data_dir.join(ADMIN_FILE), &format!("{addr} {token}"))
        .map_err(|e| format!("cannot write {ADMIN_FILE}: {e}"))?;
    let shared = Arc::new(Shared::admin(app.state(), token, access_log));
    let mut closing = app.closing();
    Ok(tokio::spawn(async move {
        let closed = async move {
            let _ = closing.wait_for(|c| *c).await;
        };
        http::serve(listener, shared, closed).await;
    }))
}

/// Tells systemd (`Type=notify`) how the service is doing: one datagram to `$NOTIFY_SOCKET`,
/// nothing at all when that is unset (not started by systemd).
fn notify_systemd(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}

/// An on/off setting from its flag, else its environment variable, else the default.
fn on_off(flag: Option<String>, env: &str, name: &str, default: bool) -> Result<bool, String> {
    let raw = match flag {
        Some(v) => v,
        None => std::env::var(env).unwrap_or_default(),
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{name} ({env}) must be on or off, not {raw:?}")),
    }
}

/// `TRUST_PROXY`: a number of proxies, or a yes/no word (yes is one proxy).
fn proxy_hops_from_env() -> Result<u8, String> {
    let raw = std::env::var("TRUST_PROXY").unwrap_or_default();
    let value = raw.trim().to_ascii_lowercase();
    match value.as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(0),
        "true" | "yes" | "on" => Ok(1),
        n => n.parse().map_err(|_| format!("TRUST_PROXY={raw:?} is not a number of proxies")),
    }
}

/// Writes a file only its owner can read, whole (via a rename).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Records the bound address (useful with `--port 0`); written whole via a rename.
fn write_addr_file(data_dir: &Path, addr: SocketAddr) -> std::io::Result<()> {
    let tmp = data_dir.join(format!("{ADDR_FILE}.tmp"));
    std::fs::write(&tmp, addr.to_string())?;
    std::fs::rename(tmp, data_dir.join(ADDR_FILE))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminate = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

/// The filter without `RUST_LOG`: `info`, except tokio-cron-scheduler's per-job chatter ("Job
/// creator created") that says nothing to an operator.
const DEFAULT_LOG_FILTER: &str = "info,tokio_cron_scheduler=warn";

fn init_logging(json: bool) {
    // An empty RUST_LOG counts as unset, as every other variable does (docs/API.md §1.9).
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
