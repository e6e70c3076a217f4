//! Which orgs a request reads and writes (docs/API.md §1.5).
//!
//! `x-org-id` names the org. What a request *without* it sees is the endpoint's choice, made
//! where the family dispatches it by asking for one of two types:
//! - [`Scope`]: the endpoints that span orgs. Without the header, lists show every org's records
//!   and a record is found by id in whichever org holds it.
//! - [`OrgId`]: the endpoints of one org. Without the header, org `default`
//!   ([`OrgId::header_or_default`]), or 400 `MISSING_ORG_ID` where the org must be named
//!   ([`OrgId::from_header`]). Every write lands in one `OrgId`.

use std::fmt;

use crate::store::{Store, StoreError, orgs};

/// The orgs a cross-org endpoint reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// No `x-org-id`: every org.
    EveryOrg,
    /// `x-org-id` named this org: everything is confined to it, and another org's record by id
    /// is answered as not found.
    Org(OrgId),
}

/// An org id of valid form (`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`). One obtained from a request
/// names an org that existed when the request began.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgId(String);

/// Why a request names no usable org.
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    #[error(
        "Invalid x-org-id: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    InvalidOrgId,
    #[error("Organization not found")]
    OrgNotFound(String),
    /// The endpoint needs `x-org-id` and the request has none.
    #[error("The x-org-id header is required for this endpoint")]
    MissingOrgId,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Scope {
    /// Every org without a header, else the header's org.
    pub fn from_header(store: &Store, header: Option<&str>) -> Result<Self, ScopeError> {
        match header {
            None => Ok(Self::EveryOrg),
            Some(org) => OrgId::existing(store, org).map(Self::Org),
        }
    }

    /// The org reads are confined to, if any.
    pub fn filter(&self) -> Option<&str> {
        match self {
            Self::EveryOrg => None,
            Self::Org(org) => Some(org.as_str()),
        }
    }

    /// The org to look a record up in by id: the request's org, or without a header the org
    /// the id was registered in (`registered`, from the id registry); `None`: no such record.
    pub fn org_for_id<E>(
        &self,
        registered: impl FnOnce() -> Result<Option<String>, E>,
    ) -> Result<Option<String>, E> {
        match self {
            Self::Org(org) => Ok(Some(org.0.clone())),
            Self::EveryOrg => registered(),
        }
    }

    /// Whether a record of `org` is visible in this scope.
    pub fn sees(&self, org: &str) -> bool {
        self.filter().is_none_or(|mine| mine == org)
    }
}

impl OrgId {
    /// Org `default`, which always exists.
    pub fn default_org() -> Self {
        Self(orgs::DEFAULT_ORG.to_owned())
    }

    /// An id of valid form, or 400 `INVALID_ORG_ID`.
    pub fn parse(id: &str) -> Result<Self, ScopeError> {
        let b = id.as_bytes();
        let valid = !b.is_empty()
            && b.len() <= 64
            && b[0].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if valid { Ok(Self(id.to_owned())) } else { Err(ScopeError::InvalidOrgId) }
    }

    /// An org that exists: `default`, or one created with `POST /api/orgs` (else 404
    /// `ORG_NOT_FOUND`).
    pub fn existing(store: &Store, id: &str) -> Result<Self, ScopeError> {
        let org = Self::parse(id)?;
        if org.0 != orgs::DEFAULT_ORG && !orgs::exists(&store.read()?, &org.0)? {
            return Err(ScopeError::OrgNotFound(org.0));
        }
        Ok(org)
    }

    /// The header's org, else `default`.
    pub fn header_or_default(store: &Store, header: Option<&str>) -> Result<Self, ScopeError> {
        header.map_or_else(|| Ok(Self::default_org()), |org| Self::existing(store, org))
    }

    /// The header's org; without one, 400 `MISSING_ORG_ID`.
    pub fn from_header(store: &Store, header: Option<&str>) -> Result<Self, ScopeError> {
        Self::existing(store, header.ok_or(ScopeError::MissingOrgId)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for OrgId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::OrgId;

    #[test]
    fn org_id_rule() {
        for ok in ["default", "org-acme", "A.b_c-1", &"a".repeat(64)] {
            assert!(OrgId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "é", &"a".repeat(65), "a\0"] {
            assert!(OrgId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
