//! `spar api-key create|list|revoke` (contract 9): keys for the Spike and Potpie dialects.
//!
//! On a stopped server's data dir the command opens the store itself. While a server runs on it
//! (redb lets one process open the file), it goes through that server's loopback admin listener,
//! whose address and token the server keeps in `<data-dir>/spar.admin` (mode 0600).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use argh::FromArgs;
use serde_json::{Value, json};

use super::data_dir;
use super::serve::ADMIN_FILE;
use crate::api::ApiError;
use crate::api::admin::{self, CreatedKey, KeyView};
use crate::store::{Store, StoreError};

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

/// Where the command does its work.
enum Target {
    /// No server holds the store: open it here.
    Stopped(PathBuf),
    /// A server runs on the data dir: its admin listener.
    Running(AdminClient),
}

impl Target {
    fn of(dir: &Path, may_create: bool) -> Result<Self, String> {
        if !may_create && !dir.join("spar.redb").is_file() {
            return Err(format!("no store in {} (is --data-dir right?)", dir.display()));
        }
        // A server writes the admin file on start and removes it on a clean stop; after a
        // crash it is stale, and opening the store then works.
        match Store::open(dir) {
            Ok(store) => {
                store.close();
                Ok(Self::Stopped(dir.to_owned()))
            }
            Err(StoreError::AlreadyOpen(_)) => AdminClient::read(dir).map(Self::Running),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Runs `work` on the data dir's store, then closes it.
fn local<T, F, Fut>(dir: &Path, work: F) -> Result<T, String>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let store = Store::open(dir).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let result = runtime.block_on(work(store.clone()));
    store.close();
    result.map_err(|e| e.to_string())
}

struct AdminClient {
    addr: String,
    token: String,
}

impl AdminClient {
    fn read(dir: &Path) -> Result<Self, String> {
        let path = dir.join(ADMIN_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "a server holds {} but its admin file {} cannot be read: {e}",
                dir.display(),
                path.display()
            )
        })?;
        let (addr, token) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("{} is malformed", path.display()))?;
        Ok(Self { addr: addr.to_owned(), token: token.to_owned() })
    }

    /// One admin call; the answer's JSON, or its error message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("http://{}{path}", self.addr);
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("X-Spar-Admin-Token", self.token.as_str())
            .header("Content-Type", "application/json");
        let sent = match body {
            Some(b) => agent.run(request.body(b.to_string()).map_err(|e| e.to_string())?),
            None => agent.run(request.body(()).map_err(|e| e.to_string())?),
        };
        let mut response = sent.map_err(|e| format!("cannot reach the running server: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().unwrap_or_default();
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(answer["error"]
                .as_str()
                .map_or_else(|| format!("the server answered {status}"), str::to_owned))
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("unexpected answer from the server: {e}"))
}
