//! Backups (docs/API.md §7.3: `spar backup` / `spar restore`): a consistent snapshot of the store as
//! one redb file, taken from a read transaction, so it is exactly the state of one commit and
//! holds every write acknowledged before it began. The search indexes are not in it: they are
//! derived and rebuilt from the store after a restore.
//!
//! **Invariant:** a backup or restore is written under a temporary name and renamed into place
//! after it was synced, so a crash never leaves a partial file under the final name.

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::tables::{self, Meta, SCHEMA_VERSION_KEY, TableSpec};
use super::{DB_FILE, SCHEMA_VERSION, StoreError};

/// What a backup or restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub rows: u64,
    pub bytes: u64,
}

/// Hears `(rows copied, rows in all)` now and then.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// How often progress is reported, in rows.
const PROGRESS_EVERY: u64 = 10_000;

/// Writes a snapshot of `db` to `out`, which must not exist yet.
pub fn snapshot(
    db: &impl ReadableDatabase,
    out: &Path,
    progress: Progress,
) -> Result<Copied, StoreError> {
    if out.exists() {
        return Err(StoreError::Backup(format!(
            "{} already exists: remove it or choose another --out",
            out.display()
        )));
    }
    let src = db.begin_read()?;
    write_copy(&src, out, progress)
}

/// Restores the backup `file` into `data_dir`, which must hold no store yet.
pub fn restore(file: &Path, data_dir: &Path, progress: Progress) -> Result<Copied, StoreError> {
    let target = data_dir.join(DB_FILE);
    if target.exists() {
        return Err(StoreError::Backup(format!(
            "{} already holds a store: restore into a new, empty --data-dir",
            data_dir.display()
        )));
    }
    let backup = redb::ReadOnlyDatabase::open(file).map_err(|e| {
        StoreError::Backup(format!("{} is not a spar backup (cannot open it: {e})", file.display()))
    })?;
    let src = backup.begin_read()?;
    let version = src
        .open_table(Meta::DEF)
        .ok()
        .and_then(|meta| meta.get(SCHEMA_VERSION_KEY).ok().flatten().map(|v| v.value()));
    match version {
        None => {
            return Err(StoreError::Backup(format!(
                "{} is not a spar backup (no schema version)",
                file.display()
            )));
        }
        Some(v) if v > SCHEMA_VERSION => {
            return Err(StoreError::SchemaTooNew { found: v, supported: SCHEMA_VERSION });
        }
        Some(_) => {}
    }
    super::create_private_dir(data_dir)?;
    write_copy(&src, &target, progress)
}

/// Copies every table of `src` into a new database at `out` (via `<out>.partial`).
fn write_copy(
    src: &redb::ReadTransaction,
    out: &Path,
    progress: Progress,
) -> Result<Copied, StoreError> {
    let partial = partial_name(out);
    let _ = std::fs::remove_file(&partial);
    let total = tables::count_all(src)?;
    let mut rows = 0u64;
    progress(0, total);
    {
        let db = redb::Database::create(&partial)?;
        // Only the owner reads a copy of the store, like the store itself.
        std::fs::set_permissions(&partial, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let dst = db.begin_write()?;
        tables::create_all(&dst)?;
        tables::copy_all(src, &dst, &mut || {
            rows += 1;
            if rows.is_multiple_of(PROGRESS_EVERY) {
                progress(rows, total);
            }
        })?;
        dst.commit()?;
    }
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, out)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    progress(rows, total);
    Ok(Copied { rows, bytes: std::fs::metadata(out)?.len() })
}

fn partial_name(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

pub(super) fn rows<T: TableSpec>(src: &redb::ReadTransaction) -> Result<u64, StoreError> {
    match src.open_table(T::DEF) {
        Ok(table) => Ok(table.len()?),
        // A table this version knows but the source never created: nothing to copy.
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn copy<T: TableSpec>(
    src: &redb::ReadTransaction,
    dst: &redb::WriteTransaction,
    copied: &mut dyn FnMut(),
) -> Result<(), StoreError> {
    let from = match src.open_table(T::DEF) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut to = dst.open_table(T::DEF)?;
    for row in from.iter()? {
        let (key, value) = row?;
        to.insert(key.value(), value.value())?;
        copied();
    }
    Ok(())
}
