//! Errors of the search layer.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The `q` string is not valid query syntax.
    #[error("invalid search query: {0}")]
    InvalidQuery(String),
    /// A page lies deeper than a ranked or filtered search will go (its cost grows with depth).
    #[error("searches page at most {max} results deep")]
    TooDeep { max: usize },
    /// tantivy failed (I/O or a damaged index).
    #[error("search index error: {0}")]
    Index(String),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        Self::Index(e.to_string())
    }
}
