//! `spar audit tail | search Q | verify`: the audit trail (docs/API.md §2.4) as the server
//! answers it. `spar verify-audit` checks a stopped server's data dir instead.

use std::process::ExitCode;

use argh::FromArgs;
use serde_json::Value;

use super::remote::{finish, print_json, print_table, text};
use crate::upstream::path_segment;

/// Read, search and verify the audit trail of the running server.
#[derive(FromArgs)]
#[argh(subcommand, name = "audit")]
pub struct AuditArgs {
    #[argh(subcommand)]
    command: AuditCommand,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum AuditCommand {
    Tail(TailArgs),
    Search(SearchArgs),
    Verify(VerifyArgs),
}

remote_command! {
    /// Show the newest entries, oldest first.
    TailArgs "tail" {
        /// how many [default 20, at most 100]
        #[argh(option, short = 'n', default = "20")]
        limit: u32,
    }
}

remote_command! {
    /// Full-text search (tantivy syntax: `redis AND timeout`, `"consumer lag"`).
    SearchArgs "search" {
        /// the query
        #[argh(positional)]
        query: String,
        /// how many [default 20, at most 100]
        #[argh(option, short = 'n', default = "20")]
        limit: u32,
    }
}

remote_command! {
    /// Recompute the hash chains; exit 1 when one is broken.
    VerifyArgs "verify" {}
}

pub fn run(args: AuditArgs) -> ExitCode {
    match args.command {
        AuditCommand::Tail(a) => {
            let path = format!("/api/audit?limit={}", a.limit);
            finish("audit tail", entries(a.remote(), &path, a.json))
        }
        AuditCommand::Search(a) => {
            let path = format!("/api/audit?limit={}&q={}", a.limit, path_segment(&a.query));
            finish("audit search", entries(a.remote(), &path, a.json))
        }
        AuditCommand::Verify(a) => finish("audit verify", verify(&a)),
    }
}

/// Prints a page of entries, oldest first so the newest ends next to the prompt.
fn entries(
    remote: Result<super::remote::Remote, String>,
    path: &str,
    json: bool,
) -> Result<bool, String> {
    let page = remote?.get(path)?;
    if json {
        print_json(&page);
        return Ok(true);
    }
    let mut rows: Vec<Vec<String>> = page["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            vec![
                text(&e["seq"]),
                text(&e["timestamp"]),
                text(&e["orgId"]),
                format!("{}:{}", text(&e["actorType"]), text(&e["actorId"])),
                text(&e["action"]),
                text(&e["result"]),
                e["metadata"].to_string(),
            ]
        })
        .collect();
    rows.reverse();
    print_table(&["SEQ", "TIME", "ORG", "ACTOR", "ACTION", "RESULT", "DETAILS"], &rows);
    Ok(true)
}

fn verify(args: &VerifyArgs) -> Result<bool, String> {
    let out = args.remote()?.get("/api/audit/verify")?;
    let valid = out["valid"] == true;
    if args.json {
        print_json(&out);
        return Ok(valid);
    }
    let orgs: Vec<Value> = match out["orgs"].as_array() {
        Some(orgs) => orgs.clone(),
        None => vec![out.clone()],
    };
    let rows: Vec<Vec<String>> = orgs
        .iter()
        .map(|o| {
            vec![
                o["orgId"].as_str().unwrap_or("(this org)").to_owned(),
                if o["valid"] == true { "valid" } else { "BROKEN" }.to_owned(),
                text(&o["entries"]),
                text(&o["brokenAt"]),
                text(&o["reason"]),
            ]
        })
        .collect();
    print_table(&["ORG", "CHAIN", "ENTRIES", "BROKEN AT", "REASON"], &rows);
    Ok(valid)
}
