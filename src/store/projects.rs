//! Project rows: `(org, id) -> ProjectRecord`, the id registry, and the repo index that keeps one
//! project per repository in an org and routes GitHub deliveries to their org.

use redb::ReadableTable;

use super::StoreError;
use super::records::ProjectRecord;
use super::tables::{PROJECT_SEQ_KEY, ProjectIds, Projects, RepoProjects};
use super::txn::{Source, WriteTx, encode, get_record, records_of};

pub fn get(src: &impl Source, org: &str, id: &str) -> Result<Option<ProjectRecord>, StoreError> {
    get_record::<Projects, _>(src, (org, id), "project")
}

/// The org a project id was issued in, if it ever was (deleted projects included).
pub fn org_of(src: &impl Source, id: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open::<ProjectIds>()?.get(id)?.map(|v| v.value().to_owned()))
}

/// Projects of one org, or of every org when `org` is `None`, oldest first.
pub fn list(src: &impl Source, org: Option<&str>) -> Result<Vec<ProjectRecord>, StoreError> {
    let mut projects: Vec<ProjectRecord> = records_of::<Projects, _>(src, org, "project")?;
    projects.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
    Ok(projects)
}

/// The org's project for a repository (`owner/name`, any case).
pub fn by_repo(
    src: &impl Source,
    org: &str,
    repo: &str,
) -> Result<Option<ProjectRecord>, StoreError> {
    let key = repo.to_ascii_lowercase();
    let id = src.open::<RepoProjects>()?.get((key.as_str(), org))?.map(|v| v.value().to_owned());
    match id {
        Some(id) => get(src, org, &id),
        None => Ok(None),
    }
}

/// The orgs that have a project for this repository, in id order.
pub fn orgs_of_repo(src: &impl Source, repo: &str) -> Result<Vec<String>, StoreError> {
    let key = repo.to_ascii_lowercase();
    let table = src.open::<RepoProjects>()?;
    let rows = table.range((key.as_str(), "")..(format!("{key}\0").as_str(), ""))?;
    rows.map(|row| Ok(row?.0.value().1.to_owned())).collect()
}

/// Issues a new project id, `proj-<NNN>` (at least three digits), never issued before.
pub fn issue_id(tx: &WriteTx<'_>) -> Result<String, StoreError> {
    let seq = tx.next_in_sequence(PROJECT_SEQ_KEY)?;
    Ok(format!("proj-{seq:03}"))
}

/// Inserts or replaces a project and its indexes.
pub fn put(tx: &WriteTx<'_>, project: &ProjectRecord) -> Result<(), StoreError> {
    let org = project.org_id.as_str();
    let repo = project.repo.to_ascii_lowercase();
    tx.table_mut::<Projects>()?.insert((org, project.id.as_str()), encode(project).as_slice())?;
    tx.table_mut::<ProjectIds>()?.insert(project.id.as_str(), org)?;
    tx.table_mut::<RepoProjects>()?.insert((repo.as_str(), org), project.id.as_str())?;
    Ok(())
}

/// Removes a project; its id stays issued so it is never reused.
pub fn remove(tx: &WriteTx<'_>, project: &ProjectRecord) -> Result<(), StoreError> {
    let org = project.org_id.as_str();
    let repo = project.repo.to_ascii_lowercase();
    tx.table_mut::<Projects>()?.remove((org, project.id.as_str()))?;
    tx.table_mut::<RepoProjects>()?.remove((repo.as_str(), org))?;
    Ok(())
}
