//! `spar reindex`: rebuild the search indexes of a stopped server's data dir from its store,
//! with a progress bar on stderr and the final count on stdout.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use argh::FromArgs;

use super::{data_dir, open_stopped};
use crate::search::audit::AuditStream;
use crate::search::memory::MemoryStream;
use crate::search::seq_index::{SeqIndex, Stream};
use crate::search::{self};
use crate::store::ReadOnlyStore;
use crate::store::{audit, memory};

/// Rebuild the search indexes of a data dir from its store (the server must be stopped).
#[derive(FromArgs)]
#[argh(subcommand, name = "reindex")]
pub struct ReindexArgs {
    /// data directory [env SPAR_DATA_DIR, else $STATE_DIRECTORY, else ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
}

pub fn run(args: ReindexArgs) -> ExitCode {
    match reindex(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("spar reindex: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn reindex(args: ReindexArgs) -> Result<(), String> {
    let data_dir = data_dir(args.data_dir)?;
    let started = Instant::now();
    let (audit, memory) = rebuild_indexes(&data_dir)?;
    println!(
        "reindexed {audit} audit entries and {memory} memory entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Rebuilds both indexes of a stopped data dir from its store, with progress bars; returns how
/// many audit and memory entries they hold.
pub(super) fn rebuild_indexes(data_dir: &std::path::Path) -> Result<(u64, u64), String> {
    let store = open_stopped(data_dir, "stop the server first: it keeps its indexes current")?;
    let tx = store.read().map_err(|e| e.to_string())?;
    let audit_total = audit::count_upto(&tx, u64::MAX).map_err(|e| e.to_string())?;
    let memory_total = memory::count_upto(&tx, u64::MAX).map_err(|e| e.to_string())?;
    let audit = rebuild(&store, search::audit_dir(data_dir), AuditStream::new(), audit_total)?;
    let memory = rebuild(&store, search::memory_dir(data_dir), MemoryStream::new(), memory_total)?;
    Ok((audit, memory))
}

/// Rebuilds one index with its own progress bar; returns how many documents it holds.
fn rebuild<S: Stream>(
    store: &ReadOnlyStore,
    dir: PathBuf,
    stream: S,
    total: u64,
) -> Result<u64, String> {
    let mut bar = Progress::new(stream.name(), total);
    let index = SeqIndex::rebuild(&dir, stream).map_err(|e| e.to_string())?;
    let added = index.catch_up(store, |done| bar.show(done)).map_err(|e| e.to_string())?;
    bar.finish(added);
    index.close();
    Ok(added)
}

/// Progress on stderr: on a terminal, one bar redrawn when the percentage changes; otherwise
/// (journald, a file, a pipe) a plain line at each quarter, since a `\r` redraw there is noise.
pub(super) struct Progress {
    label: &'static str,
    total: u64,
    shown: Option<u64>,
    terminal: bool,
}

impl Progress {
    pub(super) fn new(label: &'static str, total: u64) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let mut p = Self { label, total, shown: None, terminal };
        p.show(0);
        p
    }

    pub(super) fn show(&mut self, done: u64) {
        let pct = (done * 100).checked_div(self.total).unwrap_or(100).min(100);
        let step = if self.terminal { pct } else { pct / 25 * 25 };
        if self.shown == Some(step) {
            return;
        }
        self.shown = Some(step);
        let mut err = std::io::stderr();
        if self.terminal {
            let filled = (pct / 4) as usize;
            let bar = format!("{}{}", "#".repeat(filled), ".".repeat(25 - filled));
            let _ = write!(err, "\r{} [{bar}] {pct:>3}% {done}/{}", self.label, self.total);
        } else {
            let _ = writeln!(err, "{}: {step}% ({done} of {})", self.label, self.total);
        }
        let _ = err.flush();
    }

    pub(super) fn finish(&mut self, done: u64) {
        self.total = self.total.max(done);
        if self.terminal {
            self.shown = None;
            self.show(done);
            eprintln!();
        } else if self.shown != Some(100) {
            self.show(self.total);
        }
    }
}
