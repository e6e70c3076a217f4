//! `spar reindex`: rebuild the search indexes of a stopped server's data dir from its store,
//! with a progress bar on stderr and the final count on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use argh::FromArgs;

use super::setting;
use crate::search::audit::AuditStream;
use crate::search::seq_index::SeqIndex;
use crate::search::{self};
use crate::store::audit;
use crate::store::{ReadOnlyStore, StoreError};

/// Rebuild the search indexes of a data dir from its store (the server must be stopped).
#[derive(FromArgs)]
#[argh(subcommand, name = "reindex")]
pub struct ReindexArgs {
    /// data directory [env SPAR_DATA_DIR, default ./spar-data]
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
    let data_dir = setting(args.data_dir, "SPAR_DATA_DIR", PathBuf::from("./spar-data"))?;
    let store = ReadOnlyStore::open(&data_dir).map_err(|e| match e {
        StoreError::AlreadyOpen(_) => {
            format!("{e}\n(stop the server first: it keeps its indexes current)")
        }
        other => other.to_string(),
    })?;
    let total = audit::count_upto(&store.read().map_err(|e| e.to_string())?, u64::MAX)
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let index = SeqIndex::rebuild(&search::audit_dir(&data_dir), AuditStream::new())
        .map_err(|e| e.to_string())?;
    let mut bar = Progress::new("audit", total);
    let added = index.catch_up(&store, |done| bar.show(done)).map_err(|e| e.to_string())?;
    bar.finish(added);
    index.close();
    println!("reindexed {added} audit entries in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A one-line progress bar, redrawn when the percentage changes.
struct Progress {
    label: &'static str,
    total: u64,
    shown: Option<u64>,
}

impl Progress {
    fn new(label: &'static str, total: u64) -> Self {
        let mut p = Self { label, total, shown: None };
        p.show(0);
        p
    }

    fn show(&mut self, done: u64) {
        let pct = (done * 100).checked_div(self.total).unwrap_or(100).min(100);
        if self.shown == Some(pct) {
            return;
        }
        self.shown = Some(pct);
        let filled = (pct / 4) as usize;
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r{} [{}{}] {pct:>3}% {done}/{}",
            self.label,
            "#".repeat(filled),
            ".".repeat(25 - filled),
            self.total
        );
        let _ = err.flush();
    }

    fn finish(&mut self, done: u64) {
        self.shown = None;
        self.total = self.total.max(done);
        self.show(done);
        eprintln!();
    }
}
