//! `spar api-key create|list|revoke` (docs/API.md §7.2): keys for the Spike and Potpie dialects.
//!
//! On a stopped server's data dir the command opens the store itself. While a server runs on it
//! (redb lets one process open the file), it goes through that server's loopback admin listener,
//! whose address and token the server keeps in `<data-dir>/spar.admin` (mode 0600).

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;
use serde_json::{Value, json};

use super::data_dir;
use super::target::{Target, decode, local};
use crate::api::admin::{self, CreatedKey, KeyView};

/// Create, list and revoke API keys.
#[derive(FromArgs)]
#[argh(subcommand, name = "api-key")]
pub struct ApiKeyArgs {
    #[argh(subcommand)]
    command: KeyCommand,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum KeyCommand {
    Create(CreateArgs),
    List(ListArgs),
    Revoke(RevokeArgs),
}

/// Create a key; it is printed once, alone on the last line.
#[derive(FromArgs)]
#[argh(subcommand, name = "create")]
struct CreateArgs {
    /// the org the key belongs to
    #[argh(option)]
    org: String,
    /// a name to recognise and revoke it by [default: key-<time>]
    #[argh(option)]
    name: Option<String>,
    /// data directory [env SPAR_DATA_DIR, default ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
}

/// List keys (never their values).
#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
struct ListArgs {
    /// data directory [env SPAR_DATA_DIR, default ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
}

/// Revoke a key by name or by the start of its prefix; effective at once.
#[derive(FromArgs)]
#[argh(subcommand, name = "revoke")]
struct RevokeArgs {
    /// the key's name, or the start of its prefix (at least 6 characters)
    #[argh(positional)]
    key: String,
    /// data directory [env SPAR_DATA_DIR, default ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
}

pub fn run(args: ApiKeyArgs) -> ExitCode {
    let done = match args.command {
        KeyCommand::Create(a) => create(a),
        KeyCommand::List(a) => list(a),
        KeyCommand::Revoke(a) => revoke(a),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("spar api-key: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn create(args: CreateArgs) -> Result<(), String> {
    let name = args.name.unwrap_or_else(|| format!("key-{}", crate::clock::now_ms() / 1000));
    let body = json!({ "org": args.org, "name": name });
    let created: CreatedKey = match Target::of(&data_dir(args.data_dir)?, true)? {
        Target::Stopped(dir) => {
            local(&dir, |store| async move { admin::create_key(&store, &args.org, &name).await })?
        }
        Target::Running(admin) => decode(admin.call("POST", "/admin/api-keys", Some(body))?)?,
    };
    println!(
        "Created API key '{}' for org {} (prefix {}). Store it now: it is not shown again.",
        created.name, created.org_id, created.prefix
    );
    println!("{}", created.key);
    Ok(())
}

fn list(args: ListArgs) -> Result<(), String> {
    let keys: Vec<KeyView> = match Target::of(&data_dir(args.data_dir)?, false)? {
        Target::Stopped(dir) => local(&dir, |store| async move { admin::list_keys(&store) })?,
        Target::Running(admin) => {
            let answer = admin.call("GET", "/admin/api-keys", None)?;
            decode(answer.get("keys").cloned().unwrap_or(Value::Null))?
        }
    };
    println!("{:<24} {:<24} {:<14} {:<25} STATUS", "NAME", "ORG", "PREFIX", "CREATED");
    for k in keys {
        let status = k.revoked_at.map_or("active".to_owned(), |at| format!("revoked {at}"));
        println!("{:<24} {:<24} {:<14} {:<25} {status}", k.name, k.org_id, k.prefix, k.created_at);
    }
    Ok(())
}

fn revoke(args: RevokeArgs) -> Result<(), String> {
    let wanted = args.key;
    let revoked: KeyView = match Target::of(&data_dir(args.data_dir)?, false)? {
        Target::Stopped(dir) => {
            local(&dir, |store| async move { admin::revoke_key(&store, &wanted).await })?
        }
        Target::Running(admin) => {
            let path = format!("/admin/api-keys/{}", crate::upstream::path_segment(&wanted));
            decode(admin.call("DELETE", &path, None)?)?
        }
    };
    println!("Revoked API key '{}' ({}) of org {}.", revoked.name, revoked.prefix, revoked.org_id);
    Ok(())
}
