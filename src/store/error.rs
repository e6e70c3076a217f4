//! Errors of the storage layer. Each says what went wrong in words an operator can act on.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb reported an error (I/O, corruption, lock).
    #[error("storage error: {0}")]
    Db(#[from] redb::Error),
    /// Another process holds the data dir's database open.
    #[error(
        "the database {0} is open in another process; stop the other spar or use another --data-dir"
    )]
    AlreadyOpen(String),
    /// Creating or reading the data dir failed.
    #[error("data dir I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The data dir holds no store.
    #[error("no spar store at {0}: check --data-dir")]
    NoStore(String),
    /// The data dir was written by a newer Spar with an incompatible layout.
    #[error(
        "the data dir was written by a newer spar (schema version {found}); this binary supports up to {supported}: upgrade spar or point --data-dir elsewhere"
    )]
    SchemaTooNew { found: u64, supported: u64 },
    /// A stored record could not be decoded.
    #[error("corrupt record in store: {0}")]
    Corrupt(String),
    /// The writer thread has stopped (the server is shutting down).
    #[error("the store is shutting down")]
    WriterStopped,
    /// The batch's commit failed; nothing in it was stored.
    #[error("commit failed, nothing was stored: {0}")]
    CommitFailed(String),
    /// Code asked for a table it already holds open (a bug, reported instead of a panic).
    #[error("table {0} opened twice in one transaction")]
    TableInUse(String),
    /// The secret key is missing, malformed, or not the one the store's credentials were
    /// sealed with.
    #[error("secret key: {0}")]
    Key(String),
    /// A credential was to be read or written by a view of the store that has no key.
    #[error("this view of the store has no secret key, so it cannot read or write credentials")]
    NoKey,
    /// Long work given up because nobody waits for it any more.
    #[error("cancelled")]
    Cancelled,
    /// A backup or restore cannot go ahead; the message says why.
    #[error("{0}")]
    Backup(String),
}

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
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError,
    redb::CompactionError
);
