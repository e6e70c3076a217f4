//! Incidents: `(org, seq) -> IncidentRecord`, the `seq -> org` registry, the open incident of each
//! group, and the fingerprints a Linear issue was already requested for.

use redb::ReadableTable;

use super::StoreError;
use super::records::{IncidentRecord, IncidentStatus};
use super::tables::{
    INCIDENT_SEQ_KEY, IncidentAgents, IncidentGroups, IncidentIds, Incidents, LinearTickets,
};
use super::txn::{Source, WriteTx, decode, encode, get_record};

pub fn next_seq(tx: &WriteTx<'_>) -> Result<u64, StoreError> {
    tx.next_in_sequence(INCIDENT_SEQ_KEY)
}

/// The agent recorded as `project`'s incident agent (`""`: the org's, without a project).
pub fn agent_of(src: &impl Source, org: &str, project: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open::<IncidentAgents>()?.get((org, project))?.map(|v| v.value().to_owned()))
}

pub fn set_agent_of(
    tx: &WriteTx<'_>,
    org: &str,
    project: &str,
    agent: &str,
) -> Result<(), StoreError> {
    tx.table_mut::<IncidentAgents>()?.insert((org, project), agent)?;
    Ok(())
}

pub fn get(src: &impl Source, org: &str, seq: u64) -> Result<Option<IncidentRecord>, StoreError> {
    get_record::<Incidents, _>(src, (org, seq), "incident")
}

pub fn org_of(src: &impl Source, seq: u64) -> Result<Option<String>, StoreError> {
    Ok(src.open::<IncidentIds>()?.get(seq)?.map(|v| v.value().to_owned()))
}

/// The incident still open (or acknowledged) for a group.
pub fn open_in_group(
    src: &impl Source,
    org: &str,
    group_key: &str,
) -> Result<Option<IncidentRecord>, StoreError> {
    let seq = src.open::<IncidentGroups>()?.get((org, group_key))?.map(|v| v.value());
    match seq {
        Some(seq) => get(src, org, seq),
        None => Ok(None),
    }
}

/// Stores an incident and keeps its group pointing at it while it is not resolved.
pub fn put(tx: &WriteTx<'_>, incident: &IncidentRecord) -> Result<(), StoreError> {
    let org = incident.org_id.as_str();
    tx.table_mut::<Incidents>()?.insert((org, incident.seq), encode(incident).as_slice())?;
    tx.table_mut::<IncidentIds>()?.insert(incident.seq, org)?;
    let mut groups = tx.table_mut::<IncidentGroups>()?;
    if incident.status == IncidentStatus::Resolved {
        groups.remove((org, incident.group_key.as_str()))?;
    } else {
        groups.insert((org, incident.group_key.as_str()), incident.seq)?;
    }
    Ok(())
}

/// An org's incidents, newest first, that `keep` accepts: (the first `limit`, total).
pub fn list(
    src: &impl Source,
    org: &str,
    keep: impl Fn(&IncidentRecord) -> bool,
    limit: usize,
) -> Result<(Vec<IncidentRecord>, u64), StoreError> {
    let table = src.open::<Incidents>()?;
    let (mut page, mut total) = (Vec::new(), 0);
    for row in table.range((org, 0)..=(org, u64::MAX))?.rev() {
        let incident: IncidentRecord = decode("incident", row?.1.value())?;
        if keep(&incident) {
            total += 1;
            if page.len() < limit {
                page.push(incident);
            }
        }
    }
    Ok((page, total))
}

/// Records that a Linear issue was requested for `fingerprint`; false if one already was.
pub fn claim_linear_ticket(
    tx: &WriteTx<'_>,
    org: &str,
    fingerprint: &str,
    delivery_id: &str,
) -> Result<bool, StoreError> {
    if tx.open::<LinearTickets>()?.get((org, fingerprint))?.is_some() {
        return Ok(false);
    }
    tx.table_mut::<LinearTickets>()?.insert((org, fingerprint), delivery_id)?;
    Ok(true)
}
