//! The audit index: one document per audit entry, for filters and full-text `q`.

use std::ops::Bound;

use serde_json::Value;
use tantivy::collector::Count;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery};
use tantivy::schema::{FAST, Field, INDEXED, STRING, Schema, TEXT};
use tantivy::{Order, TantivyDocument, Term};

use super::SearchError;
use super::seq_index::{SeqIndex, Stream};
use crate::clock;
use crate::store::ReadTx;
use crate::store::audit::{self, AuditEntry};

/// Filters of `GET /api/audit` (docs/API.md §2.4). Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub risk: Option<String>,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<ActionMatch>,
    pub result: Option<String>,
    pub agent_id: Option<String>,
    /// Any of these as `metadata.projectId` or `metadata.project` (a project's id and the
    /// names CodeSpar recorded it by); empty matches everything.
    pub project: Vec<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionMatch {
    Exact(String),
    /// `action=agent.*`
    Prefix(String),
}

impl AuditFilter {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The same test as the index query, for entries not indexed yet.
    pub fn matches(&self, e: &AuditEntry) -> bool {
        let meta = |key: &str| e.metadata.get(key).and_then(Value::as_str);
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        let ts = clock::parse_rfc3339(&e.timestamp).unwrap_or(0);
        eq(&self.risk, Some(risk_of(e)))
            && eq(&self.actor_type, Some(e.actor_type.as_str()))
            && eq(&self.actor_id, Some(&e.actor_id))
            && eq(&self.result, Some(e.result.as_str()))
            && eq(&self.agent_id, meta("agentId"))
            && (self.project.is_empty()
                || project_of(e).is_some_and(|p| self.project.iter().any(|w| w == p)))
            && self.since_ms.is_none_or(|s| ts >= s)
            && self.until_ms.is_none_or(|u| ts <= u)
            && match &self.action {
                None => true,
                Some(ActionMatch::Exact(a)) => e.action == *a,
                Some(ActionMatch::Prefix(p)) => e.action.starts_with(p.as_str()),
            }
    }
}

fn risk_of(e: &AuditEntry) -> &str {
    e.metadata.get("risk").and_then(Value::as_str).unwrap_or("low")
}

/// `metadata.projectId`, or CodeSpar's `metadata.project`.
fn project_of(e: &AuditEntry) -> Option<&str> {
    let meta = |key: &str| e.metadata.get(key).and_then(Value::as_str);
    meta("projectId").or_else(|| meta("project"))
}

pub struct AuditStream {
    schema: Schema,
    seq: Field,
    org: Field,
    actor_type: Field,
    actor_id: Field,
    action: Field,
    result: Field,
    risk: Field,
    agent_id: Field,
    project: Field,
    ts: Field,
    text: Field,
}

impl AuditStream {
    pub fn new() -> Self {
        let mut b = Schema::builder();
        let seq = b.add_u64_field("seq", INDEXED | FAST);
        let org = b.add_text_field("org", STRING);
        let actor_type = b.add_text_field("actorType", STRING);
        let actor_id = b.add_text_field("actorId", STRING);
        let action = b.add_text_field("action", STRING);
        let result = b.add_text_field("result", STRING);
        let risk = b.add_text_field("risk", STRING);
        let agent_id = b.add_text_field("agentId", STRING);
        let project = b.add_text_field("project", STRING);
        let ts = b.add_i64_field("ts", INDEXED | FAST);
        let text = b.add_text_field("text", TEXT);
        let schema = b.build();
        Self {
            schema,
            seq,
            org,
            actor_type,
            actor_id,
            action,
            result,
            risk,
            agent_id,
            project,
            ts,
            text,
        }
    }

    fn document(&self, e: &AuditEntry) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_u64(self.seq, e.seq);
        doc.add_text(self.org, &e.org_id);
        doc.add_text(self.actor_type, e.actor_type.as_str());
        doc.add_text(self.actor_id, &e.actor_id);
        doc.add_text(self.action, &e.action);
        doc.add_text(self.result, e.result.as_str());
        doc.add_text(self.risk, risk_of(e));
        if let Some(agent) = e.metadata.get("agentId").and_then(Value::as_str) {
            doc.add_text(self.agent_id, agent);
        }
        if let Some(project) = project_of(e) {
            doc.add_text(self.project, project);
        }
        doc.add_i64(self.ts, clock::parse_rfc3339(&e.timestamp).unwrap_or(0));
        let mut text = format!("{} {} {}", e.action, e.actor_id, e.actor_type.as_str());
        flatten_text(&e.metadata, &mut text);
        doc.add_text(self.text, &text);
        doc
    }

    /// The clauses every document must match: org, filters, seq bound, and `q`.
    fn query(
        &self,
        index: &tantivy::Index,
        org: Option<&str>,
        filter: &AuditFilter,
        q: Option<&str>,
        max_seq: Option<u64>,
    ) -> Result<BooleanQuery, SearchError> {
        let mut must: Vec<Box<dyn Query>> = Vec::new();
        // The org filter lives here, so no caller can forget it.
        if let Some(org) = org {
            must.push(super::term(self.org, org));
        }
        let exact = [
            (self.risk, &filter.risk),
            (self.actor_type, &filter.actor_type),
            (self.actor_id, &filter.actor_id),
            (self.result, &filter.result),
            (self.agent_id, &filter.agent_id),
        ];
        for (field, value) in exact {
            if let Some(v) = value {
                must.push(super::term(field, v));
            }
        }
        if !filter.project.is_empty() {
            let any: Vec<(Occur, Box<dyn Query>)> = filter
                .project
                .iter()
                .map(|p| (Occur::Should, super::term(self.project, p)))
                .collect();
            must.push(Box::new(BooleanQuery::new(any)));
        }
        match &filter.action {
            Some(ActionMatch::Exact(a)) => must.push(super::term(self.action, a)),
            Some(ActionMatch::Prefix(p)) => must.push(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_text(self.action, p)),
                Bound::Excluded(Term::from_field_text(self.action, &format!("{p}\u{10FFFF}"))),
            ))),
            None => {}
        }
        if filter.since_ms.is_some() || filter.until_ms.is_some() {
            let bound = |v: Option<i64>| {
                v.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(self.ts, v)))
            };
            must.push(Box::new(RangeQuery::new(bound(filter.since_ms), bound(filter.until_ms))));
        }
        if let Some(max_seq) = max_seq {
            must.push(Box::new(RangeQuery::new(
                Bound::Unbounded,
                Bound::Included(Term::from_field_u64(self.seq, max_seq)),
            )));
        }
        if let Some(q) = q {
            let parser = QueryParser::for_index(index, vec![self.text]);
            let parsed =
                parser.parse_query(q).map_err(|e| SearchError::InvalidQuery(e.to_string()))?;
            must.push(parsed);
        }
        if must.is_empty() {
            must.push(Box::new(AllQuery));
        }
        Ok(BooleanQuery::new(must.into_iter().map(|q| (Occur::Must, q)).collect()))
    }
}

impl Default for AuditStream {
    fn default() -> Self {
        Self::new()
    }
}

/// Every key, string and number of a metadata value, space separated.
fn flatten_text(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push(' ');
            out.push_str(s);
        }
        Value::Number(n) => {
            out.push(' ');
            out.push_str(&n.to_string());
        }
        Value::Array(items) => items.iter().for_each(|v| flatten_text(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(' ');
                out.push_str(k);
                flatten_text(v, out);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

impl Stream for AuditStream {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn schema(&self) -> Schema {
        self.schema.clone()
    }

    fn read_after(
        &self,
        tx: &ReadTx,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, TantivyDocument)>, SearchError> {
        Ok(audit::entries_after(tx, after, limit)?
            .iter()
            .map(|e| (e.seq, self.document(e)))
            .collect())
    }

    fn count_upto(&self, tx: &ReadTx, seq: u64) -> Result<u64, SearchError> {
        Ok(audit::count_upto(tx, seq)?)
    }

    fn last_seq(&self, tx: &ReadTx) -> Result<u64, SearchError> {
        Ok(audit::last_seq(tx)?)
    }
}

impl SeqIndex<AuditStream> {
    /// Newest-first seqs of indexed entries (`seq <= max_seq`, below `before` when given)
    /// matching org, filter and `q`, after skipping `offset`; and how many match in all.
    #[allow(clippy::too_many_arguments)]
    pub fn search(
        &self,
        org: Option<&str>,
        filter: &AuditFilter,
        q: Option<&str>,
        max_seq: u64,
        before: Option<u64>,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<u64>, u64), SearchError> {
        let max_seq = match before {
            Some(b) => max_seq.min(b.saturating_sub(1)),
            None => max_seq,
        };
        let (searcher, holds) = self.searcher();
        // A bound every document of the searcher meets is left out: on 10 million documents
        // it is a scan of the `seq` column per query (BENCHMARKS.md, "Audit at 10,000,000").
        let bound = (holds > max_seq).then_some(max_seq);
        let query = self.stream.query(&self.index, org, filter, q, bound)?;
        let top = super::window(offset, limit)?.order_by_fast_field::<u64>("seq", Order::Desc);
        let (hits, total) = searcher.search(&query, &(top, Count))?;
        let seqs = hits.into_iter().filter_map(|(seq, _)| seq).take(limit).collect();
        Ok((seqs, total as u64))
    }

    /// Drops the documents of `org` with seq at most `upto` (after retention removed them).
    pub fn forget(&self, org: &str, upto: u64) -> Result<(), SearchError> {
        let s = &self.stream;
        let query = BooleanQuery::new(vec![
            (Occur::Must, super::term(s.org, org)),
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Unbounded,
                    Bound::Included(Term::from_field_u64(s.seq, upto)),
                )),
            ),
        ]);
        self.delete(Box::new(query))
    }
}
