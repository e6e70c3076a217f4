//! The `spar` command line (docs/API.md §1.9): argh subcommands, each flag overriding its environment
//! variable.

#[macro_use]
mod remote;

mod audit;
mod backup;
mod completions;
mod credentials;
mod deliveries;
mod events;
mod import;
mod reindex;
mod replay;
mod serve;
mod status;
mod target;
mod tasks;
mod verify_audit;

use std::process::ExitCode;

use argh::FromArgs;

/// Spar: the CodeSpar control plane in one binary.
#[derive(FromArgs)]
struct Cli {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Serve(serve::ServeArgs),
    Status(status::StatusArgs),
    Health(status::HealthArgs),
    Deliveries(deliveries::DeliveriesArgs),
    Tasks(tasks::TasksArgs),
    Audit(audit::AuditArgs),
    Events(events::EventsArgs),
    ApiKey(credentials::ApiKeyArgs),
    Token(credentials::TokenArgs),
    Backup(backup::BackupArgs),
    Restore(backup::RestoreArgs),
    Import(import::ImportArgs),
    Reindex(reindex::ReindexArgs),
    Replay(replay::ReplayArgs),
    VerifyAudit(verify_audit::VerifyAuditArgs),
    Version(VersionArgs),
    Completions(completions::CompletionsArgs),
}

/// Print the version.
#[derive(FromArgs)]
#[argh(subcommand, name = "version")]
struct VersionArgs {}

pub fn main() -> ExitCode {
    // Everything Spar writes (store, key, backups, indexes) is for its owner only.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let args: Vec<String> = std::env::args().collect();
    if asks_version(&args) {
        println!("spar {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let args = flag_defaults(args);
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (command, rest) = strs.split_first().map_or(("spar", &[][..]), |(c, r)| (*c, r));
    let cli = match Cli::from_args(&[command], rest) {
        Ok(cli) => cli,
        Err(early) => {
            // Help (exit 0) or a usage error (exit 1), as argh's own from_env would.
            return match early.status {
                Ok(()) => {
                    println!("{}", early.output);
                    ExitCode::SUCCESS
                }
                Err(()) => {
                    eprintln!("{}\nRun {command} --help for more information.", early.output);
                    ExitCode::FAILURE
                }
            };
        }
    };
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Status(args) => status::status(args),
        Command::Health(args) => status::health(args),
        Command::Deliveries(args) => deliveries::run(args),
        Command::Tasks(args) => tasks::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Events(args) => events::run(args),
        Command::Completions(args) => completions::run(args),
        Command::ApiKey(args) => credentials::run_api_key(args),
        Command::Token(args) => credentials::run_token(args),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
        Command::Import(args) => import::run(args),
        Command::Reindex(args) => reindex::run(args),
        Command::Replay(args) => replay::run(args),
        Command::VerifyAudit(args) => verify_audit::run(args),
        Command::Version(_) => {
            println!("spar {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}

/// `--version` (or `-V`) anywhere before a `--`, as every command's flag.
fn asks_version(args: &[String]) -> bool {
    args.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--version" || a == "-V")
}

/// What argh does not do itself: `-h` means `--help`, and `--trust-proxy` alone means one
/// proxy (argh's options always take a value, so the value is added where the next word is not
/// one).
fn flag_defaults(mut args: Vec<String>) -> Vec<String> {
    let mut i = 0;
    while i < args.len() {
        if args[i] == "-h" {
            args[i] = "--help".to_owned();
        }
        if args[i] == "--trust-proxy"
            && args.get(i + 1).is_none_or(|next| next.parse::<u8>().is_err())
        {
            args.insert(i + 1, "1".to_owned());
        }
        i += 1;
    }
    args
}

/// The help argh prints for the command at `path` (`["deliveries", "list"]`).
fn help_text(path: &[String]) -> String {
    let mut words: Vec<&str> = path.iter().map(String::as_str).collect();
    words.push("--help");
    match Cli::from_args(&["spar"], &words) {
        Err(early) => early.output,
        Ok(_) => String::new(),
    }
}

/// A setting from its flag, else its environment variable, else the default.
fn setting<T: std::str::FromStr>(flag: Option<T>, env: &str, default: T) -> Result<T, String> {
    if let Some(v) = flag {
        return Ok(v);
    }
    match std::env::var(env) {
        Ok(raw) if !raw.trim().is_empty() => raw
            .trim()
            .parse()
            .map_err(|_| format!("environment variable {env}={raw:?} is not a valid value")),
        _ => Ok(default),
    }
}

/// The data dir of `--data-dir`, else `SPAR_DATA_DIR`, else systemd's `$STATE_DIRECTORY` (the
/// unit's `StateDirectory=spar`, so a service never writes to `/spar-data`), else `./spar-data`.
fn data_dir(flag: Option<std::path::PathBuf>) -> Result<std::path::PathBuf, String> {
    let state_dir = std::env::var_os("STATE_DIRECTORY")
        .filter(|v| !v.is_empty())
        // systemd passes several directories colon-separated when a unit names several.
        .and_then(|v| std::env::split_paths(&v).next());
    setting(flag, "SPAR_DATA_DIR", state_dir.unwrap_or_else(|| "./spar-data".into()))
}

/// Opens a stopped server's store for an offline command; `while_running` tells the user what
/// to do instead when the server holds it.
fn open_stopped(
    data_dir: &std::path::Path,
    while_running: &str,
) -> Result<crate::store::ReadOnlyStore, String> {
    crate::store::ReadOnlyStore::open(data_dir).map_err(|e| match e {
        crate::store::StoreError::AlreadyOpen(_) => format!("{e}\n({while_running})"),
        other => other.to_string(),
    })
}
