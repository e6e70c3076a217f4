//! Read and write views over redb transactions. Query functions in the sibling modules take any
//! [`Source`], so the same code reads from a snapshot or from inside the write batch.

use std::cell::Cell;

use redb::{Key, ReadableDatabase, ReadableTable, Table, TableDefinition, Value};

use super::StoreError;

/// Something tables can be read from: a read snapshot or the open write transaction.
pub trait Source {
    fn open<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError>;
}

/// A consistent snapshot. Cheap to take; never blocks the writer.
pub struct ReadTx {
    txn: redb::ReadTransaction,
}

impl ReadTx {
    pub(super) fn begin(db: &redb::Database) -> Result<Self, StoreError> {
        Ok(Self { txn: db.begin_read()? })
    }
}

impl Source for ReadTx {
    fn open<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError> {
        Ok(self.txn.open_table(def)?)
    }
}

/// The write transaction shared by one group-commit batch. Each job sees the writes of the jobs
/// before it in the batch. Invariant: a job that fails must fail before its first mutation
/// (`dirty`), otherwise the whole batch is rolled back and the other jobs are run again.
pub struct WriteTx {
    pub(super) txn: redb::WriteTransaction,
    dirty: Cell<bool>,
    audited: Cell<bool>,
}

impl WriteTx {
    pub(super) fn new(txn: redb::WriteTransaction) -> Self {
        Self { txn, dirty: Cell::new(false), audited: Cell::new(false) }
    }

    /// Opens a table for mutation. Marks the current job dirty.
    pub(super) fn table_mut<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<Table<'_, K, V>, StoreError> {
        self.dirty.set(true);
        Ok(self.txn.open_table(def)?)
    }

    pub(super) fn start_job(&self) {
        self.dirty.set(false);
        self.audited.set(false);
    }

    pub(super) fn dirty(&self) -> bool {
        self.dirty.get()
    }

    pub(super) fn audited(&self) -> bool {
        self.audited.get()
    }

    pub(super) fn mark_audited(&self) {
        self.audited.set(true);
    }
}

impl Source for WriteTx {
    fn open<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V> + '_, StoreError> {
        Ok(self.txn.open_table(def)?)
    }
}

/// Encodes a record as stored (JSON: readable in a hex dump, and tolerant of added fields).
pub(super) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain derive(Serialize) structs into a Vec cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}
