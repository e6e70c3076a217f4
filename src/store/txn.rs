//! Read and write views over redb transactions. Query functions in the sibling modules take any
//! [`Source`], so the same code reads from a snapshot or from inside the write batch.

use std::cell::{Cell, RefCell, RefMut};
use std::ops::Deref;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, Table};

use super::StoreError;
use super::sealed::Sealer;
use super::tables::{Meta, OpenTables, TableSpec};

/// Something tables can be read from: a read snapshot or the open write batch.
pub trait Source {
    fn open<T: TableSpec>(
        &self,
    ) -> Result<impl Deref<Target = impl ReadableTable<T::K, T::V>> + '_, StoreError>;

    /// The key credentials are sealed with; an offline view of a store has none (and reads no
    /// credential).
    fn sealer(&self) -> Result<&Sealer, StoreError>;
}

/// A consistent snapshot. Cheap to take; never blocks the writer.
pub struct ReadTx {
    txn: redb::ReadTransaction,
    sealer: Option<Arc<Sealer>>,
}

impl ReadTx {
    pub(super) fn begin(
        db: &impl ReadableDatabase,
        sealer: Option<Arc<Sealer>>,
    ) -> Result<Self, StoreError> {
        Ok(Self { txn: db.begin_read()?, sealer })
    }
}

/// Owns a table opened for reading (a `Deref` so both views return the same shape).
pub struct Opened<T>(T);

impl<T> Deref for Opened<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl Source for ReadTx {
    fn open<T: TableSpec>(
        &self,
    ) -> Result<impl Deref<Target = impl ReadableTable<T::K, T::V>> + '_, StoreError> {
        Ok(Opened(self.txn.open_table(T::DEF)?))
    }

    fn sealer(&self) -> Result<&Sealer, StoreError> {
        self.sealer.as_deref().ok_or(StoreError::NoKey)
    }
}

/// A batch's exclusive handle on one open table.
pub type TableMut<'a, 't, T> = RefMut<'a, Table<'t, <T as TableSpec>::K, <T as TableSpec>::V>>;

/// The write transaction shared by one group-commit batch. Each job sees the writes of the jobs
/// before it in the batch. Invariant: a job that fails must fail before its first mutation
/// (`dirty`), otherwise the whole batch is rolled back and the other jobs are run again.
pub struct WriteTx<'t> {
    txn: &'t redb::WriteTransaction,
    sealer: Option<&'t Sealer>,
    tables: OpenTables<'t>,
    dirty: Cell<bool>,
    audited: Cell<bool>,
}

impl<'t> WriteTx<'t> {
    pub(super) fn new(txn: &'t redb::WriteTransaction, sealer: Option<&'t Sealer>) -> Self {
        Self {
            txn,
            sealer,
            tables: OpenTables::default(),
            dirty: Cell::new(false),
            audited: Cell::new(false),
        }
    }

    /// The batch's handle on a table, opened on first use. Two handles on one table at once
    /// are refused (an error, not a panic).
    fn table<T: TableSpec>(&self) -> Result<TableMut<'_, 't, T>, StoreError> {
        let slot = T::slot(&self.tables);
        if slot.get().is_none() {
            let table = self.txn.open_table(T::DEF)?;
            let _ = slot.set(RefCell::new(table));
        }
        slot.get()
            .ok_or_else(|| StoreError::Corrupt("table slot empty after open".into()))?
            .try_borrow_mut()
            .map_err(|_| StoreError::TableInUse(T::DEF.to_string()))
    }

    /// Opens a table for mutation. Marks the current job dirty.
    pub(super) fn table_mut<T: TableSpec>(&self) -> Result<TableMut<'_, 't, T>, StoreError> {
        self.dirty.set(true);
        self.table::<T>()
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

    /// Advances the server-wide counter `key` (in the `meta` table) and returns its new value:
    /// 1 the first time. Counters never go back, so the ids made from them are never reused.
    pub(super) fn next_in_sequence(&self, key: &'static str) -> Result<u64, StoreError> {
        let mut meta = self.table_mut::<Meta>()?;
        let next = meta.get(key)?.map_or(0, |v| v.value()) + 1;
        meta.insert(key, next)?;
        Ok(next)
    }
}

impl Source for WriteTx<'_> {
    fn open<T: TableSpec>(
        &self,
    ) -> Result<impl Deref<Target = impl ReadableTable<T::K, T::V>> + '_, StoreError> {
        self.table::<T>()
    }

    fn sealer(&self) -> Result<&Sealer, StoreError> {
        self.sealer.ok_or(StoreError::NoKey)
    }
}

/// Encodes a record as stored (JSON: readable in a hex dump, and tolerant of added fields).
pub(super) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain derive(Serialize) structs into a Vec cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// The JSON record stored under `key` in table `T`, decoded (`what` names it in a corruption
/// error).
pub(super) fn get_record<'k, T, R>(
    src: &impl Source,
    key: impl std::borrow::Borrow<<T::K as redb::Value>::SelfType<'k>>,
    what: &str,
) -> Result<Option<R>, StoreError>
where
    T: TableSpec<V = &'static [u8]>,
    R: serde::de::DeserializeOwned,
{
    match src.open::<T>()?.get(key)? {
        Some(v) => Ok(Some(decode(what, v.value())?)),
        None => Ok(None),
    }
}

/// Every JSON record of `org` in table `T` (keyed `(org, name)`), or of every org when `org` is
/// `None`, in key order.
pub(super) fn records_of<T, R>(
    src: &impl Source,
    org: Option<&str>,
    what: &str,
) -> Result<Vec<R>, StoreError>
where
    T: TableSpec<K = (&'static str, &'static str), V = &'static [u8]>,
    R: serde::de::DeserializeOwned,
{
    let table = src.open::<T>()?;
    let rows = match org {
        // `\0` sorts before every character an org id may contain.
        Some(org) => table.range((org, "")..(format!("{org}\0").as_str(), ""))?,
        None => table.iter()?,
    };
    rows.map(|row| decode(what, row?.1.value())).collect()
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}
