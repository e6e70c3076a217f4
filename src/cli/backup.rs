//! `spar backup` and `spar restore` (docs/API.md §7.3): a consistent single-file snapshot of the
//! store, taken whether the server is stopped or running on the data dir (then through its
//! loopback admin listener, `POST /admin/backup`), and a restore into a new data dir whose
//! search indexes are rebuilt from the restored store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use argh::FromArgs;
use serde_json::json;

use super::reindex::{Progress, rebuild_indexes};
use super::target::Target;
use super::{data_dir, open_stopped};
use crate::store::{backup, sealed};

/// Write a consistent snapshot of the store to one file (the server may keep running).
#[derive(FromArgs)]
#[argh(subcommand, name = "backup")]
pub struct BackupArgs {
    /// data directory [env SPAR_DATA_DIR, else $STATE_DIRECTORY, else ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
    /// the backup file to write (must not exist)
    #[argh(option)]
    out: PathBuf,
}

/// Restore a backup into a new data dir and rebuild its search indexes.
#[derive(FromArgs)]
#[argh(subcommand, name = "restore")]
pub struct RestoreArgs {
    /// the backup file
    #[argh(positional)]
    file: PathBuf,
    /// the data directory to create (must hold no store)
    #[argh(option)]
    data_dir: PathBuf,
    /// the key file of the backed-up data dir (its secret.key), copied into the new one; not
    /// needed when the server runs with SPAR_SECRET_KEY
    #[argh(option)]
    key_file: Option<PathBuf>,
}

pub fn backup(args: BackupArgs) -> ExitCode {
    finish("backup", take_backup(args))
}

pub fn restore(args: RestoreArgs) -> ExitCode {
    finish("restore", restore_into(args))
}

fn finish(command: &str, done: Result<(), String>) -> ExitCode {
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("spar {command}: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn take_backup(args: BackupArgs) -> Result<(), String> {
    let dir = data_dir(args.data_dir)?;
    let out = absolute(&args.out)?;
    let started = Instant::now();
    let mut bar: Option<Progress> = None;
    let mut show = |rows: u64, total: u64| {
        bar.get_or_insert_with(|| Progress::new("backup", total)).show(rows);
    };
    let (rows, bytes) = match Target::of(&dir, false)? {
        Target::Stopped(dir) => {
            let store = open_stopped(&dir, "the server started meanwhile: run the backup again")?;
            let copied = store.backup_to(&out, &mut show).map_err(|e| e.to_string())?;
            (copied.rows, copied.bytes)
        }
        Target::Running(admin) => {
            let mut last = json!(null);
            admin.stream("/admin/backup", json!({ "out": out }), |line| {
                if let (Some(rows), Some(total)) = (line["rows"].as_u64(), line["total"].as_u64()) {
                    show(rows, total);
                }
                last = line;
            })?;
            if let Some(error) = last["error"].as_str() {
                return Err(error.to_owned());
            }
            match (last["done"].as_bool(), last["rows"].as_u64(), last["bytes"].as_u64()) {
                (Some(true), Some(rows), Some(bytes)) => (rows, bytes),
                _ => return Err("the server ended the backup without finishing it".into()),
            }
        }
    };
    if let Some(bar) = bar.as_mut() {
        bar.finish(rows);
    }
    println!(
        "backed up {rows} rows ({bytes} bytes) to {} in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "its credentials are sealed: keep {} (or SPAR_SECRET_KEY) with it to restore them",
        dir.join(sealed::KEY_FILE).display()
    );
    Ok(())
}

fn restore_into(args: RestoreArgs) -> Result<(), String> {
    let started = Instant::now();
    let mut bar: Option<Progress> = None;
    let mut show = |rows: u64, total: u64| {
        bar.get_or_insert_with(|| Progress::new("restore", total)).show(rows);
    };
    let copied =
        backup::restore(&args.file, &args.data_dir, &mut show).map_err(|e| e.to_string())?;
    if let Some(bar) = bar.as_mut() {
        bar.finish(copied.rows);
    }
    if let Some(key) = &args.key_file {
        sealed::install_key_file(key, &args.data_dir).map_err(|e| e.to_string())?;
    }
    let (audit, memory) = rebuild_indexes(&args.data_dir)?;
    println!(
        "restored {} rows into {} and indexed {audit} audit and {memory} memory entries in {:.1} s",
        copied.rows,
        args.data_dir.display(),
        started.elapsed().as_secs_f64()
    );
    if args.key_file.is_none() {
        println!(
            "start it with the key its credentials are sealed with: SPAR_SECRET_KEY, or the old data dir's {} copied in",
            sealed::KEY_FILE
        );
    }
    Ok(())
}

/// The server writes the file itself, from its own working directory: send it a full path.
fn absolute(path: &Path) -> Result<PathBuf, String> {
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    Ok(cwd.join(path))
}
