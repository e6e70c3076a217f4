//! `spar verify-audit`: recompute every audit hash chain of a data dir. Exit 0 when all are
//! valid, 1 naming the first broken entry, 2 when the store cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use super::{data_dir, open_stopped};
use crate::store::audit::{self, Verification};

/// Check the audit hash chains of a data dir.
#[derive(FromArgs)]
#[argh(subcommand, name = "verify-audit")]
pub struct VerifyAuditArgs {
    /// data directory [env SPAR_DATA_DIR, else $STATE_DIRECTORY, else ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
    /// check only this org's chain
    #[argh(option)]
    org: Option<String>,
}

pub fn run(args: VerifyAuditArgs) -> ExitCode {
    match verify(args) {
        Ok(chains) => report(&chains),
        Err(msg) => {
            eprintln!("spar verify-audit: {msg}");
            ExitCode::from(2)
        }
    }
}

fn verify(args: VerifyAuditArgs) -> Result<Vec<Verification>, String> {
    let store = open_stopped(
        &data_dir(args.data_dir)?,
        "while the server runs, use GET /api/audit/verify instead",
    )?;
    let tx = store.read().map_err(|e| e.to_string())?;
    let orgs = match args.org {
        Some(org) => vec![org],
        None => audit::chained_orgs(&tx).map_err(|e| e.to_string())?,
    };
    orgs.iter().map(|org| audit::verify(&tx, org).map_err(|e| e.to_string())).collect()
}

fn report(chains: &[Verification]) -> ExitCode {
    for chain in chains {
        match &chain.broken {
            None => println!(
                "{}: {} entries, valid, last {}",
                chain.org,
                chain.entries,
                chain.last_hash.as_deref().unwrap_or("(none)")
            ),
            Some(b) => println!("{}: BROKEN at {}: {}", chain.org, b.at, b.reason),
        }
    }
    let seq = |id: &str| id.trim_start_matches("aud-").parse::<u64>().unwrap_or(u64::MAX);
    let first = chains
        .iter()
        .filter_map(|c| c.broken.as_ref().map(|b| (c, b)))
        .min_by_key(|(_, b)| seq(&b.at));
    match first {
        Some((chain, broken)) => {
            println!("audit chain broken: first broken entry {} (org {})", broken.at, chain.org);
            ExitCode::FAILURE
        }
        None => {
            let entries: u64 = chains.iter().map(|c| c.entries).sum();
            println!("audit chains valid: {entries} entries in {} orgs", chains.len());
            ExitCode::SUCCESS
        }
    }
}
