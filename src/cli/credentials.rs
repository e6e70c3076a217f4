//! `spar api-key create|list|revoke` (docs/API.md §7.2): keys of the Spike and Potpie dialects;
//! `spar token create|list|revoke` (§1.4): bearer tokens of the CodeSpar API bound to one org.
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
use crate::store::credentials::{ApiKey, Kind, OrgToken};

/// Create, list and revoke API keys of the Spike and Potpie dialects.
#[derive(FromArgs)]
#[argh(subcommand, name = "api-key")]
pub struct ApiKeyArgs {
    #[argh(subcommand)]
    command: CredentialCommand,
}

/// Create, list and revoke tokens of the CodeSpar API, each bound to one org.
#[derive(FromArgs)]
#[argh(subcommand, name = "token")]
pub struct TokenArgs {
    #[argh(subcommand)]
    command: CredentialCommand,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum CredentialCommand {
    Create(CreateArgs),
    List(ListArgs),
    Revoke(RevokeArgs),
}

/// Create one; it is printed once, alone on the last line.
#[derive(FromArgs)]
#[argh(subcommand, name = "create")]
struct CreateArgs {
    /// the org it belongs to
    #[argh(option)]
    org: String,
    /// a name to recognise and revoke it by [default: key-<time> or token-<time>]
    #[argh(option)]
    name: Option<String>,
    /// data directory [env SPAR_DATA_DIR, else $STATE_DIRECTORY, else ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
}

/// List them (never their values).
#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
struct ListArgs {
    /// data directory [env SPAR_DATA_DIR, else $STATE_DIRECTORY, else ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
}

/// Revoke one by name or by the start of its prefix; effective at once.
#[derive(FromArgs)]
#[argh(subcommand, name = "revoke")]
struct RevokeArgs {
    /// its name, or the start of its prefix (at least 6 characters)
    #[argh(positional)]
    key: String,
    /// data directory [env SPAR_DATA_DIR, else $STATE_DIRECTORY, else ./spar-data]
    #[argh(option)]
    data_dir: Option<PathBuf>,
}

pub fn run_api_key(args: ApiKeyArgs) -> ExitCode {
    run::<ApiKey>(args.command)
}

pub fn run_token(args: TokenArgs) -> ExitCode {
    run::<OrgToken>(args.command)
}

fn run<K: Kind>(command: CredentialCommand) -> ExitCode {
    let done = match command {
        CredentialCommand::Create(a) => create::<K>(a),
        CredentialCommand::List(a) => list::<K>(a),
        CredentialCommand::Revoke(a) => revoke::<K>(a),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("spar {}: {msg}", K::COMMAND);
            ExitCode::FAILURE
        }
    }
}

fn create<K: Kind>(args: CreateArgs) -> Result<(), String> {
    let default_name = || {
        let word = if K::COMMAND == "token" { "token" } else { "key" };
        format!("{word}-{}", crate::clock::now_ms() / 1000)
    };
    let name = args.name.unwrap_or_else(default_name);
    let body = json!({ "org": args.org, "name": name });
    let created: CreatedKey =
        match Target::of(&data_dir(args.data_dir)?, true)? {
            Target::Stopped(dir) => local(&dir, |store| async move {
                admin::create_key::<K>(&store, &args.org, &name).await
            })?,
            Target::Running(admin) => decode(admin.call("POST", K::ADMIN_PATH, Some(body))?)?,
        };
    println!(
        "Created {} '{}' for org {} (prefix {}). Store it now: it is not shown again.",
        K::NOUN,
        created.name,
        created.org_id,
        created.prefix
    );
    println!("{}", created.key);
    Ok(())
}

fn list<K: Kind>(args: ListArgs) -> Result<(), String> {
    let keys: Vec<KeyView> = match Target::of(&data_dir(args.data_dir)?, false)? {
        Target::Stopped(dir) => local(&dir, |store| async move { admin::list_keys::<K>(&store) })?,
        Target::Running(admin) => {
            let answer = admin.call("GET", K::ADMIN_PATH, None)?;
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

fn revoke<K: Kind>(args: RevokeArgs) -> Result<(), String> {
    let wanted = args.key;
    let revoked: KeyView = match Target::of(&data_dir(args.data_dir)?, false)? {
        Target::Stopped(dir) => {
            local(&dir, |store| async move { admin::revoke_key::<K>(&store, &wanted).await })?
        }
        Target::Running(admin) => {
            let path = format!("{}/{}", K::ADMIN_PATH, crate::upstream::path_segment(&wanted));
            decode(admin.call("DELETE", &path, None)?)?
        }
    };
    println!(
        "Revoked {} '{}' ({}) of org {}.",
        K::NOUN,
        revoked.name,
        revoked.prefix,
        revoked.org_id
    );
    Ok(())
}
