//! Organization sync by URL (Clerk's `organizationSyncOptions`,
//! `tokens/organizationMatcher.ts` and `handleMaybeOrganizationSyncHandshake`
//! in `tokens/request.ts`): a page whose URL names another organization
//! than the session's active one goes through a handshake that activates
//! it.

use crate::error::ConfigError;
use crate::protect::routes::{capturing, routed_reading};
use crate::session::Session;

/// The organization a request's URL names by the organization-sync
/// patterns (Clerk's `OrganizationSyncTarget`). The authenticating layer
/// puts it in the request extensions when a pattern matches: read it with
/// axum's `Extension<OrganizationTarget>` or actix's
/// `web::ReqData<OrganizationTarget>`.
///
/// The handshake activates it when the visitor is a member; when they are
/// not, Clerk's Frontend API leaves the session as it was and the page is
/// served signed in with no switch, as Clerk does: check
/// [`OrganizationTarget::is_active_in`] before showing the organization.
///
/// ```
/// use clerk_core::browser::OrganizationTarget;
///
/// let target = OrganizationTarget::Slug("acme".into());
/// assert_eq!(target, OrganizationTarget::Slug("acme".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrganizationTarget {
    /// A pattern's `:id` parameter matched: an organization id.
    Id(String),
    /// A pattern's `:slug` parameter matched: an organization slug.
    Slug(String),
    /// A personal-account pattern matched: no active organization.
    PersonalAccount,
}

impl OrganizationTarget {
    /// True when `session`'s active organization is the one this names
    /// (exact comparison, as Clerk's); for the personal account, when the
    /// session has no active organization.
    pub fn is_active_in(&self, session: &Session) -> bool {
        let active = session.organization();
        match self {
            Self::Id(id) => active.is_some_and(|o| o.id() == id),
            Self::Slug(slug) => active.and_then(|o| o.slug()) == Some(slug.as_str()),
            Self::PersonalAccount => active.is_none(),
        }
    }

    /// The handshake's `organization_id` parameter (`handshake.ts`
    /// `getOrganizationSyncQueryParams`: the id or the slug, or empty for
    /// the personal account).
    pub(crate) fn query_value(&self) -> &str {
        match self {
            Self::Id(v) | Self::Slug(v) => v,
            Self::PersonalAccount => "",
        }
    }
}

/// The compiled organization-sync patterns of a `Clerk`.
#[derive(Debug, Clone)]
pub(crate) struct OrganizationSync {
    organizations: Vec<regex::Regex>,
    personal_account: Vec<regex::Regex>,
}

/// Clerk documents no alphabet or length for slugs; ids are `org_…`. A
/// value is taken as Clerk could send it, refusing only what is clearly
/// not one: empty, over 256 bytes, or holding a control, whitespace, a
/// separator or an escape (`/ \ ? # %`), which could only come from a
/// hostile URL.
const MAX_VALUE: usize = 256;

fn plausible(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_VALUE
        && !value
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "/\\?#%".contains(c))
}

impl OrganizationSync {
    /// Compiles Clerk's `organizationPatterns` and
    /// `personalAccountPatterns`; `None` when both are empty.
    pub(crate) fn new(
        organizations: &[String],
        personal_account: &[String],
    ) -> Result<Option<Self>, ConfigError> {
        if organizations.is_empty() && personal_account.is_empty() {
            return Ok(None);
        }
        let compile = |patterns: &[String]| {
            patterns
                .iter()
                .map(|p| capturing(p).map_err(|e| ConfigError::OrganizationSync(e.to_string())))
                .collect::<Result<Vec<_>, _>>()
        };
        // Clerk's matcher finds no target in a pattern without `:id` or
        // `:slug`: a pattern that can never sync is a mistake, refused here.
        let compiled = compile(organizations)?;
        let names = |re: &regex::Regex| {
            re.capture_names()
                .flatten()
                .any(|n| n == "id" || n == "slug")
        };
        if let Some((p, _)) = organizations
            .iter()
            .zip(&compiled)
            .find(|(_, re)| !names(re))
        {
            return Err(ConfigError::OrganizationSync(format!(
                "organization pattern {p:?} has no :id or :slug parameter"
            )));
        }
        Ok(Some(Self {
            organizations: compiled,
            personal_account: compile(personal_account)?,
        }))
    }

    /// The organization `raw_path` names (`findTarget`: organization
    /// patterns first, `:id` before `:slug`, then the personal account);
    /// `None` when nothing matches, the path is malformed or its value
    /// is not plausible.
    pub(crate) fn target(&self, raw_path: &str) -> Option<OrganizationTarget> {
        let path = routed_reading(raw_path)?;
        for re in &self.organizations {
            if let Some(caps) = re.captures(&path) {
                if let Some(id) = caps
                    .name("id")
                    .map(|m| m.as_str())
                    .filter(|v| !v.is_empty())
                {
                    return plausible(id).then(|| OrganizationTarget::Id(id.to_owned()));
                }
                if let Some(slug) = caps
                    .name("slug")
                    .map(|m| m.as_str())
                    .filter(|v| !v.is_empty())
                {
                    return plausible(slug).then(|| OrganizationTarget::Slug(slug.to_owned()));
                }
                return None;
            }
        }
        self.personal_account
            .iter()
            .any(|re| re.is_match(&path))
            .then_some(OrganizationTarget::PersonalAccount)
    }
}
