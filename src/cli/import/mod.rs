//! `spar import codespar <dir> --data-dir NEW` (docs/MIGRATING.md): another system's data into
//! a new data dir, all or nothing.
//!
//! The import reads and checks everything first ([`codespar::read`]), then builds the store in
//! a hidden directory beside the target, writes every record in one transaction (each org's
//! old trail re-chained with SHA-256, then one `import.codespar` entry), builds the search
//! indexes, and only then renames the directory into place. So a failure at any step leaves no
//! data dir behind, and a data dir that exists was imported whole.

mod codespar;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use argh::FromArgs;

use super::reindex::rebuild_indexes;
use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{ChannelConfigRecord, RouteRecord};
use crate::store::sealed::{KeyOrigin, Sealer};
use crate::store::{Store, StoreError, WriteTx, agents, channels, identity, memory, orgs};
use crate::store::{projects, routes};

use codespar::{OrgPlan, Plan};

/// Import another system's data into a new data dir.
#[derive(FromArgs)]
#[argh(subcommand, name = "import")]
pub struct ImportArgs {
    #[argh(subcommand)]
    source: Source,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Source {
    Codespar(CodesparArgs),
}

/// Import a CodeSpar data directory (its CODESPAR_STORAGE_DIR, usually .codespar) into a new
/// data dir; prints what it imported and what it skipped.
#[derive(FromArgs)]
#[argh(subcommand, name = "codespar")]
struct CodesparArgs {
    /// the CodeSpar data directory
    #[argh(positional)]
    dir: PathBuf,
    /// the data directory to create (must not exist, or be empty); its credentials are sealed
    /// with SPAR_SECRET_KEY, else a new secret.key in it
    #[argh(option)]
    data_dir: PathBuf,
}

pub fn run(args: ImportArgs) -> ExitCode {
    let Source::Codespar(args) = args.source;
    match import_codespar(&args.dir, &args.data_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("spar import codespar: {msg}");
            eprintln!("nothing was imported");
            ExitCode::FAILURE
        }
    }
}

fn import_codespar(from: &Path, data_dir: &Path) -> Result<(), String> {
    check_target(data_dir)?;
    let now = clock::now_ms();
    let plan = codespar::read(from, now).map_err(|e| e.to_string())?;
    let staging = staging_dir(data_dir)?;
    let built = build(&staging, plan, now);
    let plan = match built {
        Ok(plan) => plan,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // An empty directory the user made is replaced; `check_target` refused any other.
    let _ = std::fs::remove_dir(data_dir);
    if let Err(e) = std::fs::rename(&staging, data_dir) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!("cannot move the import into {}: {e}", data_dir.display()));
    }
    report(from, data_dir, &plan);
    Ok(())
}

/// The target must hold nothing yet: an import never merges into a store.
fn check_target(data_dir: &Path) -> Result<(), String> {
    if data_dir.join("spar.redb").exists() {
        return Err(format!(
            "{} already holds a store: import into a new, empty --data-dir",
            data_dir.display()
        ));
    }
    match std::fs::read_dir(data_dir).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(format!(
            "{} exists and is not empty: import into a new, empty --data-dir",
            data_dir.display()
        )),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot use {} as the data dir: {e}", data_dir.display())),
    }
}

/// A directory beside the target (same file system, so the final rename is atomic).
fn staging_dir(data_dir: &Path) -> Result<PathBuf, String> {
    let name =
        data_dir.file_name().ok_or_else(|| format!("{} names no directory", data_dir.display()))?;
    let parent = data_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let staging =
        parent.join(format!(".{}.importing-{}", name.to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    Ok(staging)
}

/// The store in `dir`, with every record of `plan`, and its search indexes.
fn build(dir: &Path, plan: Plan, now: i64) -> Result<Arc<Plan>, String> {
    let key = std::env::var("SPAR_SECRET_KEY").ok().filter(|k| !k.trim().is_empty());
    let (sealer, origin) = Sealer::for_data_dir(dir, key.as_deref()).map_err(|e| e.to_string())?;
    if let KeyOrigin::Made(path) = &origin {
        let shown = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        println!("made a new key for the imported credentials: {shown} in the data dir");
    }
    let store = Store::open_sealed(dir, sealer).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let plan = Arc::new(plan);
    let job = Arc::clone(&plan);
    let written = runtime.block_on(store.write(move |tx| write_all(tx, &job, now)));
    store.close();
    drop(store);
    written.map_err(|e: StoreError| format!("cannot write the store: {e}"))?;
    rebuild_indexes(dir)?;
    Ok(plan)
}

/// Every record in one transaction: orgs, agents, projects, configurations, routes,
/// identities, memory, then the trails interleaved by time (each org's in its own order).
fn write_all(tx: &WriteTx<'_>, plan: &Plan, now: i64) -> Result<(), StoreError> {
    for org in &plan.orgs {
        write_org(tx, org, now)?;
    }
    for (i, entry) in interleaved(&plan.orgs) {
        let org = &plan.orgs[i].org.id;
        let mut draft =
            AuditDraft::imported(entry.actor_type, &entry.actor_id, entry.action.clone());
        draft.result = entry.result;
        draft.metadata = entry.metadata.clone();
        audit::append_imported(tx, org, draft, entry.at_ms)?;
    }
    for org in &plan.orgs {
        let draft = AuditDraft::new(ActorType::System, "import", "import.codespar")
            .meta("auditEntries", org.audit.len())
            .meta("agents", org.agents.len())
            .meta("projects", org.projects.len())
            .meta("configs", org.configs.iter().map(|c| c.channel.clone()).collect::<Vec<_>>())
            .meta("routes", org.routes.len())
            .meta("identities", org.identities.len())
            .meta("memoryEntries", org.memory.len());
        audit::append(tx, &org.org.id, draft)?;
    }
    Ok(())
}

fn write_org(tx: &WriteTx<'_>, org: &OrgPlan, now: i64) -> Result<(), StoreError> {
    let id = org.org.id.as_str();
    if id != orgs::DEFAULT_ORG {
        orgs::put(tx, &org.org)?;
    }
    for agent in &org.agents {
        agents::put(tx, agent)?;
    }
    for project in &org.projects {
        projects::put(tx, project)?;
    }
    for c in &org.configs {
        let record = ChannelConfigRecord {
            channel: c.channel.clone(),
            config: c.config.clone(),
            configured_at_ms: c.configured_at_ms,
            configured_by: c.configured_by.clone(),
        };
        channels::put_config(tx, id, &record)?;
    }
    for r in &org.routes {
        let route = RouteRecord {
            id: routes::issue_id(tx)?,
            org_id: id.to_owned(),
            event_type: r.event_type.to_owned(),
            channel: r.channel.clone(),
            channel_id: r.channel_id.clone(),
            project_id: r.project_id.clone(),
            enabled: true,
            created_at_ms: now,
        };
        routes::put(tx, &route)?;
    }
    for person in &org.identities {
        identity::put(tx, person)?;
    }
    for m in &org.memory {
        let new = memory::NewMemory {
            org: id,
            agent_id: m.agent_id.clone(),
            project_id: None,
            category: "pattern",
            content: m.content.clone(),
            metadata: m.metadata.clone(),
        };
        memory::add(tx, new)?;
    }
    Ok(())
}

/// The orgs' trails merged oldest first, each org's entries kept in its file's order (the
/// order its chain links them), so the global sequence reads as one history.
fn interleaved(orgs: &[OrgPlan]) -> Vec<(usize, &codespar::OldAudit)> {
    let mut next = vec![0usize; orgs.len()];
    let total: usize = orgs.iter().map(|o| o.audit.len()).sum();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let pick = (0..orgs.len())
            .filter(|&i| next[i] < orgs[i].audit.len())
            .min_by_key(|&i| (orgs[i].audit[next[i]].at_ms, i));
        let Some(i) = pick else { break };
        out.push((i, &orgs[i].audit[next[i]]));
        next[i] += 1;
    }
    out
}

fn report(from: &Path, data_dir: &Path, plan: &Plan) {
    println!("imported {} into {}", from.display(), data_dir.display());
    for org in &plan.orgs {
        let configs: Vec<&str> = org.configs.iter().map(|c| c.channel.as_str()).collect();
        println!(
            "  org {}: {} agents, {} projects, {} configurations ({}), {} routes, {} identities, {} memory entries, {} audit entries",
            org.org.id,
            org.agents.len(),
            org.projects.len(),
            org.configs.len(),
            if configs.is_empty() { "none".to_owned() } else { configs.join(", ") },
            org.routes.len(),
            org.identities.len(),
            org.memory.len(),
            org.audit.len(),
        );
    }
    if plan.skipped.is_empty() {
        println!("skipped nothing");
    } else {
        println!("skipped {}:", plan.skipped.len());
        for s in &plan.skipped {
            println!("  {}: {}", s.what, s.why);
        }
    }
    println!(
        "the old trails are re-chained with SHA-256 (each entry's CodeSpar id and hash are in its metadata.codespar): `spar verify-audit --data-dir {}` checks them",
        data_dir.display()
    );
}
