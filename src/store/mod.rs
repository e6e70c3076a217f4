//! The store: everything Spar knows lives in one redb file, `<data-dir>/spar.redb`.
//!
//! **Invariants**
//! - Only this module touches redb.
//! - Every write goes through [`Store::write`], which runs it in the group-commit writer
//!   (`writer.rs`); a change and its audit entry ([`audit::append`]) commit in one transaction,
//!   and the caller hears back only after the commit is on disk.
//! - Keys start with the org id, except the lookups that find an org (see `tables.rs`).

pub mod a2a;
pub mod agents;
pub mod approvals;
pub mod audit;
pub mod backup;
pub mod channels;
pub mod credentials;
mod error;
pub mod events;
pub mod identity;
pub mod incidents;
pub mod memory;
pub mod orgs;
pub mod outbox;
pub mod potpie;
pub mod projects;
pub mod records;
pub mod retention;
pub mod routes;
pub mod sealed;
pub mod spike;
mod tables;
pub mod tasks;
mod txn;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use redb::ReadableTable;
use tokio::sync::{mpsc, oneshot};

pub use error::StoreError;
pub use txn::{ReadTx, Source, WriteTx};
pub use writer::WriterStats;

use records::OrgRecord;
use sealed::Sealer;
use tables::{KeyCheck, Meta, Orgs, SCHEMA_VERSION_KEY, TableSpec};
use writer::{BoxedJob, TypedJob};

/// The layout version this binary writes. Bump it with a migration in [`Store::open`].
pub const SCHEMA_VERSION: u64 = 1;
const DB_FILE: &str = "spar.redb";
/// redb's page cache; grows lazily up to this.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<redb::Database>,
    /// The key credentials are sealed with; `None` for a store opened without one, which can
    /// read and write everything but credentials.
    sealer: Option<Arc<Sealer>>,
    path: PathBuf,
    jobs: RwLock<Option<mpsc::Sender<BoxedJob>>>,
    stats: Arc<WriterStats>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Store {
    /// Opens (or creates) the store in `data_dir` without a secret key (tools that read and
    /// write no credential: API keys, tokens), and starts its writer thread.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_dir, None)
    }

    /// Opens (or creates) the store in `data_dir` with the key its credentials are sealed with
    /// (checked against the store's key check), seals any credential a store from before
    /// sealing kept in plain text, and starts its writer thread.
    pub fn open_sealed(data_dir: &Path, sealer: Sealer) -> Result<Self, StoreError> {
        Self::open_with(data_dir, Some(Arc::new(sealer)))
    }

    fn open_with(data_dir: &Path, sealer: Option<Arc<Sealer>>) -> Result<Self, StoreError> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let mut db = redb::Database::builder().set_cache_size(CACHE_BYTES).create(&path).map_err(
            |e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::AlreadyOpen(path.display().to_string())
                }
                other => StoreError::Db(other.into()),
            },
        )?;
        let sealed_now = init(&db, sealer.as_deref())?;
        if sealed_now > 0 {
            // The plain text of what was just sealed lies in freed pages: compacting rewrites
            // the file without them.
            db.compact()?;
            tracing::info!(credentials = sealed_now, "sealed the credentials stored in plain text");
        }
        let db = Arc::new(db);
        let (tx, rx) = mpsc::channel(writer::QUEUE_DEPTH);
        let (writer_db, writer_sealer) = (Arc::clone(&db), sealer.clone());
        let stats = Arc::new(WriterStats::default());
        let writer_stats = Arc::clone(&stats);
        let handle = std::thread::Builder::new()
            .name("spar-writer".into())
            .spawn(move || writer::run(writer_db, writer_sealer, rx, writer_stats))?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                sealer,
                path,
                jobs: RwLock::new(Some(tx)),
                stats,
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// A consistent read snapshot.
    pub fn read(&self) -> Result<ReadTx, StoreError> {
        ReadTx::begin(&*self.inner.db, self.inner.sealer.clone())
    }

    /// Runs `change` in the next group-commit batch and returns its result once durable.
    ///
    /// `change` must check everything before its first mutation, and may run more than once
    /// (when another job in its batch fails half-way and the batch is retried).
    pub async fn write<R, E, F>(&self, change: F) -> Result<R, E>
    where
        F: FnMut(&WriteTx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: BoxedJob = Box::new(TypedJob { f: change, out: None, reply });
        let sender = self.sender()?;
        sender.send(job).await.map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    fn sender(&self) -> Result<mpsc::Sender<BoxedJob>, StoreError> {
        let guard = self.inner.jobs.read().map_err(|_| StoreError::WriterStopped)?;
        guard.clone().ok_or(StoreError::WriterStopped)
    }

    /// Stops taking writes, lets the writer finish what is queued, and waits for it.
    pub fn close(&self) {
        if let Ok(mut jobs) = self.inner.jobs.write() {
            jobs.take();
        }
        let handle = self.inner.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Changes whenever a commit lands; for caches derived from the store.
    pub fn generation(&self) -> u64 {
        self.inner.stats.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Group-commit counters since start.
    pub fn writer_stats(&self) -> &WriterStats {
        &self.inner.stats
    }

    /// Writes a consistent snapshot of the store to `out` (see [`backup`]).
    pub fn backup_to(
        &self,
        out: &Path,
        progress: backup::Progress,
    ) -> Result<backup::Copied, StoreError> {
        backup::snapshot(&*self.inner.db, out, progress)
    }

    /// Size of the database file on disk.
    pub fn size_bytes(&self) -> u64 {
        std::fs::metadata(&self.inner.path).map_or(0, |m| m.len())
    }
}

/// Anything consistent snapshots can be taken from: the live store or a read-only one.
pub trait Snapshots {
    fn snapshot(&self) -> Result<ReadTx, StoreError>;
}

impl Snapshots for Store {
    fn snapshot(&self) -> Result<ReadTx, StoreError> {
        self.read()
    }
}

impl Snapshots for ReadOnlyStore {
    fn snapshot(&self) -> Result<ReadTx, StoreError> {
        self.read()
    }
}

/// A read-only view of a data dir, for offline tools such as `spar verify-audit`.
pub struct ReadOnlyStore {
    db: redb::ReadOnlyDatabase,
}

impl ReadOnlyStore {
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(DB_FILE);
        if !path.is_file() {
            return Err(StoreError::NoStore(path.display().to_string()));
        }
        let already_open = |e: redb::DatabaseError| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::AlreadyOpen(path.display().to_string())
            }
            other => StoreError::Db(other.into()),
        };
        let db = match redb::ReadOnlyDatabase::open(&path) {
            // A server that was killed leaves the file needing the repair its next start would
            // make; a read-only open cannot make it. The file is not open elsewhere (redb's lock
            // would say so), so repair it here, the same way, then read.
            Err(redb::DatabaseError::RepairAborted) => {
                tracing::info!(path = %path.display(), "the store was not closed cleanly: repairing it");
                drop(redb::Database::create(&path).map_err(already_open)?);
                redb::ReadOnlyDatabase::open(&path).map_err(already_open)?
            }
            other => other.map_err(already_open)?,
        };
        let store = Self { db };
        let found = store.read()?.open::<Meta>()?.get(SCHEMA_VERSION_KEY)?.map(|v| v.value());
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                Err(StoreError::SchemaTooNew { found: v, supported: SCHEMA_VERSION })
            }
            _ => Ok(store),
        }
    }

    pub fn read(&self) -> Result<ReadTx, StoreError> {
        ReadTx::begin(&self.db, None)
    }

    /// Writes a consistent snapshot of the store to `out` (see [`backup`]).
    pub fn backup_to(
        &self,
        out: &Path,
        progress: backup::Progress,
    ) -> Result<backup::Copied, StoreError> {
        backup::snapshot(&self.db, out, progress)
    }
}

/// The data dir, readable by its owner only (it holds the store and the key).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Creates every table, checks the schema version, makes sure org `default` exists and, with
/// a key, checks it is the store's and seals what was stored in plain text (how many).
fn init(db: &redb::Database, sealer: Option<&Sealer>) -> Result<usize, StoreError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(Meta::DEF)?;
        let found = meta.get(SCHEMA_VERSION_KEY)?.map(|v| v.value());
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::SchemaTooNew { found: v, supported: SCHEMA_VERSION });
            }
            Some(_) => {}
            None => {
                meta.insert(SCHEMA_VERSION_KEY, SCHEMA_VERSION)?;
            }
        }
    }
    tables::create_all(&txn)?;
    let mut sealed_now = 0;
    {
        // Derived rows a store from before them lacks, rebuilt once from what it holds.
        let tx = WriteTx::new(&txn, sealer);
        let read = agents::build_indexes_once(&tx)?;
        if read > 0 {
            tracing::info!(agents = read, "agents: built the project and incident-agent indexes");
        }
        if memory::totals_missing(&tx)? {
            let rebuilt = memory::rebuild_totals(&tx)?;
            tracing::info!(entries = rebuilt, "memory: built the agent index and the totals");
        }
        if let Some(sealer) = sealer {
            check_key(&txn, sealer)?;
            sealed_now =
                channels::seal_legacy(&tx)? + potpie::seal_legacy(&tx)? + tasks::seal_legacy(&tx)?;
        }
    }
    {
        let mut orgs = txn.open_table(Orgs::DEF)?;
        if orgs.get(orgs::DEFAULT_ORG)?.is_none() {
            let default = OrgRecord {
                id: orgs::DEFAULT_ORG.into(),
                name: "Default".into(),
                slug: orgs::DEFAULT_ORG.into(),
                created_at_ms: crate::clock::now_ms(),
            };
            orgs.insert(orgs::DEFAULT_ORG, txn::encode(&default).as_slice())?;
        }
    }
    txn.commit()?;
    Ok(sealed_now)
}

/// The store's key check opens with `sealer`, or is written with it the first time.
fn check_key(txn: &redb::WriteTransaction, sealer: &Sealer) -> Result<(), StoreError> {
    let mut check = txn.open_table(KeyCheck::DEF)?;
    let stored = check.get("check")?.map(|v| v.value().to_owned());
    match stored {
        Some(sealed) => match sealer.unseal(&sealed) {
            Ok(text) if text == sealed::CHECK_TEXT => Ok(()),
            _ => Err(StoreError::Key(format!(
                "the store's credentials were sealed with another key: set SPAR_SECRET_KEY to it, or put its {} back in the data dir",
                sealed::KEY_FILE
            ))),
        },
        None => {
            check.insert("check", sealer.seal(sealed::CHECK_TEXT)?.as_str())?;
            Ok(())
        }
    }
}
