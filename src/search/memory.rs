//! The memory index: full-text search over memory entries, ranked by relevance (BM25).

use tantivy::TantivyDocument;
use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser};
use tantivy::schema::{FAST, Field, INDEXED, STRING, Schema, TEXT};

use super::SearchError;
use super::seq_index::{SeqIndex, Stream};
use crate::store::ReadTx;
use crate::store::memory;
use crate::store::records::MemoryEntry;

/// Narrowing of a memory search; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct MemoryFilter {
    pub agent_id: Option<String>,
    pub project_id: Option<String>,
    pub category: Option<String>,
}

pub struct MemoryStream {
    schema: Schema,
    seq: Field,
    org: Field,
    agent_id: Field,
    project_id: Field,
    category: Field,
    text: Field,
}

impl MemoryStream {
    pub fn new() -> Self {
        let mut b = Schema::builder();
        let seq = b.add_u64_field("seq", INDEXED | FAST);
        let org = b.add_text_field("org", STRING);
        let agent_id = b.add_text_field("agentId", STRING);
        let project_id = b.add_text_field("projectId", STRING);
        let category = b.add_text_field("category", STRING);
        let text = b.add_text_field("text", TEXT);
        let schema = b.build();
        Self { schema, seq, org, agent_id, project_id, category, text }
    }

    fn document(&self, e: &MemoryEntry) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_u64(self.seq, e.seq);
        doc.add_text(self.org, &e.org_id);
        if let Some(a) = &e.agent_id {
            doc.add_text(self.agent_id, a);
        }
        if let Some(p) = &e.project_id {
            doc.add_text(self.project_id, p);
        }
        doc.add_text(self.category, &e.category);
        doc.add_text(self.text, &e.content);
        doc
    }
}

impl Default for MemoryStream {
    fn default() -> Self {
        Self::new()
    }
}

impl Stream for MemoryStream {
    fn name(&self) -> &'static str {
        "memory"
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
        Ok(memory::entries_after(tx, after, limit)?
            .iter()
            .map(|e| (e.seq, self.document(e)))
            .collect())
    }

    fn count_upto(&self, tx: &ReadTx, seq: u64) -> Result<u64, SearchError> {
        Ok(memory::count_upto(tx, seq)?)
    }

    fn last_seq(&self, tx: &ReadTx) -> Result<u64, SearchError> {
        Ok(memory::last_seq(tx)?)
    }
}

impl SeqIndex<MemoryStream> {
    /// Best-first `(seq, score)` of entries of `org` (every org when `None`) matching `q` and
    /// the filter, after skipping `offset`; and how many match in all.
    pub fn search(
        &self,
        org: Option<&str>,
        q: &str,
        filter: &MemoryFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<(u64, f32)>, u64), SearchError> {
        let s = &self.stream;
        let parser = QueryParser::for_index(&self.index, vec![s.text]);
        let parsed = parser.parse_query(q).map_err(|e| SearchError::InvalidQuery(e.to_string()))?;
        let mut must: Vec<Box<dyn Query>> = vec![parsed];
        // The org filter lives here, so no caller can forget it.
        if let Some(org) = org {
            must.push(super::term(s.org, org));
        }
        for (field, value) in [
            (s.agent_id, &filter.agent_id),
            (s.project_id, &filter.project_id),
            (s.category, &filter.category),
        ] {
            if let Some(v) = value {
                must.push(super::term(field, v));
            }
        }
        let query = BooleanQuery::new(must.into_iter().map(|q| (Occur::Must, q)).collect());
        let searcher = self.reader().searcher();
        let top = super::window(offset, limit)?.order_by_score();
        let (hits, total) = searcher.search(&query, &(top, Count))?;
        let mut out = Vec::with_capacity(hits.len());
        for (score, address) in hits.into_iter().take(limit) {
            let seqs = searcher.segment_reader(address.segment_ord).fast_fields().u64("seq")?;
            if let Some(seq) = seqs.first(address.doc_id) {
                out.push((seq, score));
            }
        }
        Ok((out, total as u64))
    }
}
