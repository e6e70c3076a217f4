//! The `spar` command line (docs/API.md §1.9): argh subcommands, each flag overriding its environment
//! variable.

mod api_key;
mod backup;
mod reindex;
mod replay;
mod serve;
mod target;
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
    ApiKey(api_key::ApiKeyArgs),
    Backup(backup::BackupArgs),
    Restore(backup::RestoreArgs),
    Reindex(reindex::ReindexArgs),
    Replay(replay::ReplayArgs),
    VerifyAudit(verify_audit::VerifyAuditArgs),
    Version(VersionArgs),
}

/// Print the version.
#[derive(FromArgs)]
#[argh(subcommand, name = "version")]
struct VersionArgs {}

pub fn main() -> ExitCode {
    let cli: Cli = argh::from_env();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::ApiKey(args) => api_key::run(args),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
        Command::Reindex(args) => reindex::run(args),
        Command::Replay(args) => replay::run(args),
        Command::VerifyAudit(args) => verify_audit::run(args),
        Command::Version(_) => {
            println!("spar {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
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

/// The data dir of `--data-dir` (or `SPAR_DATA_DIR`, or `./spar-data`).
fn data_dir(flag: Option<std::path::PathBuf>) -> Result<std::path::PathBuf, String> {
    setting(flag, "SPAR_DATA_DIR", std::path::PathBuf::from("./spar-data"))
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

fn env_flag(env: &str) -> bool {
    std::env::var(env).is_ok_and(|v| {
        matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
    })
}
