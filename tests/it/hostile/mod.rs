//! The appliance tried as an attacker would (docs/SECURITY.md): a noisy source, a hostile
//! tenant, a forger, a client that hogs connections, and someone holding a copy of the data
//! dir. Each file is one theme; every test drives the real binary.

mod at_rest;
mod bounded;
mod connections;
mod egress;
mod tenants;
mod webhooks;

use std::process::Command;

use crate::common::Server;

/// `spar <args…> --data-dir <the server's>`, its last line of output (a created credential).
pub fn spar_created(s: &Server, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(args)
        .arg("--data-dir")
        .arg(s.data_dir())
        .output()
        .expect("run spar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().expect("output").trim().to_owned()
}

/// Every `(org, seq) -> JSON` row of a table of the stopped server's store.
fn seq_rows(s: &Server, table: &str) -> Vec<serde_json::Value> {
    use redb::{ReadableDatabase, ReadableTable};
    let db = redb::Database::create(s.data_dir().join("spar.redb")).expect("open store");
    let txn = db.begin_read().expect("read");
    let t = txn.open_table(redb::TableDefinition::<(&str, u64), &[u8]>::new(table)).expect("table");
    t.iter()
        .expect("iter")
        .map(|row| serde_json::from_slice(row.expect("row").1.value()).expect("json row"))
        .collect()
}
