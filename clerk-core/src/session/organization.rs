//! The active organization of a session, read from v1 (`org_*`) or v2
//! (`o`) claims.

use super::payload::{ClaimFields, slot};
use super::permissions::v2_permissions;
use super::take_string;
use crate::json::Field;

/// The active organization of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    id: String,
    slug: Option<String>,
    role: Option<String>,
    permissions: Vec<String>,
}

impl Organization {
    /// The organization id, e.g. `org_2d3Z`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The organization slug, when the token carries one.
    pub fn slug(&self) -> Option<&str> {
        self.slug.as_deref()
    }

    /// The member's role with exactly one `org:` prefix, e.g. `org:admin`.
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// The member's permissions, each `org:<feature>:<permission>`.
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }
}

/// `admin` and `org:admin` both become `org:admin`.
fn with_org_prefix(role: &str) -> String {
    if role.starts_with("org:") {
        role.to_owned()
    } else {
        format!("org:{role}")
    }
}

pub(super) fn v1_organization(raw: &mut ClaimFields<'_>) -> Option<Organization> {
    let id = take_string(raw.take(slot::ORG_ID))?;
    let permissions = match raw.take(slot::ORG_PERMISSIONS) {
        Some(Field::Array(items)) => items.into_iter().filter_map(Field::into_string).collect(),
        _ => Vec::new(),
    };
    Some(Organization {
        id,
        slug: take_string(raw.take(slot::ORG_SLUG)),
        role: raw
            .get(slot::ORG_ROLE)
            .and_then(Field::as_str)
            .map(with_org_prefix),
        permissions,
    })
}

pub(super) fn v2_organization(raw: &mut ClaimFields<'_>) -> Option<Organization> {
    let mut o = raw.take(slot::O)?;
    let id = o.take_member("id")?.into_string()?;
    let permissions = match (
        o.member("per").and_then(Field::as_str),
        o.member("fpm").and_then(Field::as_str),
        raw.get(slot::FEA).and_then(Field::as_str),
    ) {
        (Some(per), Some(fpm), Some(fea)) => v2_permissions(per, fpm, fea),
        _ => Vec::new(),
    };
    Some(Organization {
        id,
        slug: o.take_member("slg").and_then(Field::into_string),
        role: o.member("rol").and_then(Field::as_str).map(with_org_prefix),
        permissions,
    })
}
