//! Who a request acts as and which orgs it reads and writes (docs/API.md §1.4, §1.5).
//!
//! **A credential, not a header, picks the org.** An org token ([`Caller::Org`]) confines its
//! request to its org whatever `x-org-id` says: the header may name that org, or nothing, and
//! any other org is 403 `FORBIDDEN`. The operator (`ENGINE_API_TOKEN`, or anyone on a server
//! without it) names the org with `x-org-id`.
//!
//! What a request *without* the header sees is the endpoint's choice, made where the family
//! dispatches it by asking for one of two types:
//! - [`Scope`]: the endpoints that span orgs. Without the header, lists show every org's records
//!   and a record is found by id in whichever org holds it.
//! - [`OrgId`]: the endpoints of one org. Without the header, org `default`
//!   ([`OrgId::header_or_default`]), or 400 `MISSING_ORG_ID` where the org must be named
//!   ([`OrgId::from_header`]). Every write lands in one `OrgId`.

use std::fmt;

use crate::store::{Store, StoreError, orgs};

/// Who a request acts as, decided by its credential before the handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credential, where none is needed: every org, as the operator, except what only an
    /// authenticated operator may see (per-org series of `/metrics`).
    Anonymous,
    /// No valid credential on a public endpoint of a server that requires one. Only public
    /// endpoints ever see it (`http::service::caller_of` refuses it everywhere else), and none
    /// of them reads a scope: it reaches `/health`, `/metrics` totals and `/api/session`.
    Unauthenticated,
    /// `ENGINE_API_TOKEN`: every org.
    Operator,
    /// An org token: this org only.
    Org(OrgId),
}

impl Caller {
    /// The org a token binds the request to, if any.
    fn bound_org(&self) -> Option<&OrgId> {
        match self {
            Self::Org(org) => Some(org),
            Self::Anonymous | Self::Unauthenticated | Self::Operator => None,
        }
    }

    /// For what spans or creates orgs (`POST /api/orgs`, server-wide figures): not an org token.
    pub fn require_operator(&self) -> Result<(), ScopeError> {
        match self.bound_org() {
            Some(org) => Err(ScopeError::OperatorOnly { token_org: org.0.clone() }),
            None => Ok(()),
        }
    }

    /// Whether the request may act across orgs (link a repository another org has).
    pub fn spans_orgs(&self) -> bool {
        self.bound_org().is_none()
    }

    /// The org a token binds to, checked against the header: `None` for the operator.
    fn confine(&self, header: Option<&str>) -> Result<Option<OrgId>, ScopeError> {
        let Some(org) = self.bound_org() else { return Ok(None) };
        match header {
            Some(named) if named != org.0 => {
                Err(ScopeError::Forbidden { token_org: org.0.clone(), named: named.to_owned() })
            }
            _ => Ok(Some(org.clone())),
        }
    }
}

/// The orgs a cross-org endpoint reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The operator without `x-org-id`: every org.
    EveryOrg,
    /// One org: named by `x-org-id`, or by an org token. Everything is confined to it, and
    /// another org's record by id is answered as not found.
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
    /// An org token used for another org.
    #[error("This token belongs to org '{token_org}'; it cannot act for org '{named}'")]
    Forbidden { token_org: String, named: String },
    /// An org token used for what only the operator may do.
    #[error("This token belongs to org '{token_org}'; this needs the operator token")]
    OperatorOnly { token_org: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Scope {
    /// The caller's org (a token's, or the header's); every org for the operator without one.
    pub fn of(store: &Store, caller: &Caller, header: Option<&str>) -> Result<Self, ScopeError> {
        if let Some(org) = caller.confine(header)? {
            return Ok(Self::Org(org));
        }
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

    /// The org of a stored record (a token's): checked when it was written.
    pub fn trusted(id: String) -> Self {
        Self(id)
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

    /// The caller's org (a token's, or the header's), else `default`.
    pub fn header_or_default(
        store: &Store,
        caller: &Caller,
        header: Option<&str>,
    ) -> Result<Self, ScopeError> {
        if let Some(org) = caller.confine(header)? {
            return Ok(org);
        }
        header.map_or_else(|| Ok(Self::default_org()), |org| Self::existing(store, org))
    }

    /// The caller's org (a token's, or the header's); without either, 400 `MISSING_ORG_ID`.
    pub fn from_header(
        store: &Store,
        caller: &Caller,
        header: Option<&str>,
    ) -> Result<Self, ScopeError> {
        if let Some(org) = caller.confine(header)? {
            return Ok(org);
        }
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
    use super::{Caller, OrgId, ScopeError};

    #[test]
    fn org_id_rule() {
        for ok in ["default", "org-acme", "A.b_c-1", &"a".repeat(64)] {
            assert!(OrgId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "é", &"a".repeat(65), "a\0"] {
            assert!(OrgId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_token_confines_to_its_org_whatever_the_header_says() {
        let acme = Caller::Org(OrgId::trusted("org-acme".into()));
        assert_eq!(acme.confine(None).ok().flatten().as_deref(), Some("org-acme"));
        assert_eq!(acme.confine(Some("org-acme")).ok().flatten().as_deref(), Some("org-acme"));
        assert!(matches!(acme.confine(Some("org-beta")), Err(ScopeError::Forbidden { .. })));
        assert!(acme.require_operator().is_err());
        assert_eq!(Caller::Operator.confine(Some("org-beta")).ok().flatten(), None);
        assert!(Caller::Anonymous.require_operator().is_ok());
    }
}
