//! Errors of the storage layer. Each says what went wrong in words an operator can act on.

use std::fmt;

#[derive(Debug)]
pub enum StoreError {
    /// redb reported an error (I/O, corruption, lock).
    Db(redb::Error),
    /// Another process holds the data dir's database open.
    AlreadyOpen(String),
    /// Creating or reading the data dir failed.
    Io(std::io::Error),
    /// The data dir holds no store.
    NoStore(String),
    /// The data dir was written by a newer Spar with an incompatible layout.
    SchemaTooNew { found: u64, supported: u64 },
    /// A stored record could not be decoded.
    Corrupt(String),
    /// The writer thread has stopped (the server is shutting down).
    WriterStopped,
    /// The batch's commit failed; nothing in it was stored.
    CommitFailed(String),
    /// Code asked for a table it already holds open (a bug, reported instead of a panic).
    TableInUse(String),
    /// A backup or restore cannot go ahead; the message says why.
    Backup(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Db(e) => write!(f, "storage error: {e}"),
            Self::AlreadyOpen(path) => write!(
                f,
                "the database {path} is open in another process; stop the other spar or use another --data-dir"
            ),
            Self::Io(e) => write!(f, "data dir I/O error: {e}"),
            Self::NoStore(path) => write!(f, "no spar store at {path}: check --data-dir"),
            Self::SchemaTooNew { found, supported } => write!(
                f,
                "the data dir was written by a newer spar (schema version {found}); this binary supports up to {supported}: upgrade spar or point --data-dir elsewhere"
            ),
            Self::Corrupt(what) => write!(f, "corrupt record in store: {what}"),
            Self::WriterStopped => write!(f, "the store is shutting down"),
            Self::CommitFailed(e) => write!(f, "commit failed, nothing was stored: {e}"),
            Self::TableInUse(t) => write!(f, "table {t} opened twice in one transaction"),
            Self::Backup(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for StoreError {}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                Self::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError
);

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}
