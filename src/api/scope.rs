//! Which org a request sees (contract 2.4).

use super::ApiError;
use crate::store::{Store, orgs};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// No `x-org-id`: reads see every org, writes go to `default`.
    All,
    /// `x-org-id` named an existing org: everything is confined to it.
    Org(String),
}

impl Scope {
    pub fn resolve(store: &Store, header: Option<&str>) -> Result<Self, ApiError> {
        let Some(org) = header else {
            return Ok(Self::All);
        };
        if !valid_org_id(org) {
            return Err(ApiError::InvalidOrgId);
        }
        if org != orgs::DEFAULT_ORG && !orgs::exists(&store.read()?, org)? {
            return Err(ApiError::OrgNotFound(org.to_owned()));
        }
        Ok(Self::Org(org.to_owned()))
    }

    /// The org a write lands in.
    pub fn write_org(&self) -> &str {
        match self {
            Self::All => orgs::DEFAULT_ORG,
            Self::Org(org) => org,
        }
    }

    /// The org reads are confined to, if any.
    pub fn filter(&self) -> Option<&str> {
        match self {
            Self::All => None,
            Self::Org(org) => Some(org),
        }
    }

    /// The org to look a record up in by id: the request's org, or without a header the org
    /// the id was registered in (`registered`, from the id registry); `None`: no such record.
    pub fn org_for_id<E>(
        &self,
        registered: impl FnOnce() -> Result<Option<String>, E>,
    ) -> Result<Option<String>, E> {
        match self {
            Self::Org(org) => Ok(Some(org.clone())),
            Self::All => registered(),
        }
    }

    /// Whether a record of `org` is visible in this scope.
    pub fn sees(&self, org: &str) -> bool {
        self.filter().is_none_or(|mine| mine == org)
    }
}

/// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`
pub fn valid_org_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::valid_org_id;

    #[test]
    fn org_id_rule() {
        for ok in ["default", "org-acme", "A.b_c-1", &"a".repeat(64)] {
            assert!(valid_org_id(ok), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "é", &"a".repeat(65), "a\0"] {
            assert!(!valid_org_id(bad), "{bad:?}");
        }
    }
}
