//! Errors of the search layer.

use std::fmt;

use crate::store::StoreError;

#[derive(Debug)]
pub enum SearchError {
    /// The `q` string is not valid query syntax.
    InvalidQuery(String),
    /// A page lies deeper than a ranked or filtered search will go (its cost grows with depth).
    TooDeep { max: usize },
    /// tantivy failed (I/O or a damaged index).
    Index(String),
    /// Reading the store failed.
    Store(StoreError),
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidQuery(e) => write!(f, "invalid search query: {e}"),
            Self::TooDeep { max } => write!(f, "searches page at most {max} results deep"),
            Self::Index(e) => write!(f, "search index error: {e}"),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SearchError {}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        Self::Index(e.to_string())
    }
}

impl From<StoreError> for SearchError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
