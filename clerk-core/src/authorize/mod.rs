//! Authorization: [`Requirement`]s and Clerk's `has()` rules.
//!
//! A requirement is a role, permission, plan, feature, reverification window,
//! MFA, or your own predicate, combined with `and` / `or` / `not`. The rules
//! follow Clerk's `has()`: role and permission checks need an active
//! organization and compare with `org:` normalisation on both sides; system
//! permissions (`org:sys_*`) are never in a token and always fail; plans and
//! features are `scope:value` queries; a factor is fresh when its age is
//! strictly below the window. An empty `all`/`any` is false.
//!
//! ```
//! use clerk_core::authorize::{Preset, Requirement};
//! use clerk_core::Session;
//! use serde_json::json;
//!
//! let claims = Session::from_payload(json!({
//!     "sub": "user_1", "sid": "sess_1", "exp": 2_000_000_000,
//!     "org_id": "org_1", "org_role": "org:admin", "fva": [3, 3]
//! }).as_object().unwrap().clone())?;
//!
//! let admin_step_up = Requirement::role("admin").and(Requirement::reverification(Preset::Strict));
//! assert!(admin_step_up.is_met_by(&claims));
//! assert!(!Requirement::plan("pro").is_met_by(&claims));
//! # Ok::<(), clerk_core::VerifyError>(())
//! ```

use std::fmt;
use std::sync::Arc;

use crate::session::{ScopedList, Session};

mod policy;
mod reverification;

pub use policy::Policy;
pub use reverification::{Level, Preset, Reverification};

/// What a signed-in session must satisfy.
#[derive(Clone)]
#[non_exhaustive]
pub enum Requirement {
    /// Any signed-in session.
    SignedIn,
    /// The organization role, e.g. `org:admin` (or `admin`).
    Role(String),
    /// An organization permission, e.g. `org:invoices:read`.
    Permission(String),
    /// A plan, `scope:value` or unscoped (`pro`, `o:pro`, `user:free`).
    Plan(String),
    /// A feature, `scope:value` or unscoped.
    Feature(String),
    /// Recent verification of the given factors.
    Reverification(Reverification),
    /// A second factor was verified in this session (ours).
    Mfa,
    /// A machine token grants this scope (machines only; false for sessions).
    Scope(String),
    /// A check on the user's Backend API record (costs one cached lookup),
    /// with a name for logs.
    User(
        &'static str,
        Arc<dyn Fn(&crate::api::User) -> bool + Send + Sync>,
    ),
    /// Your own check, with a name for logs and `Debug`.
    Custom(&'static str, Arc<dyn Fn(&Session) -> bool + Send + Sync>),
    /// Every one of these (empty is false).
    All(Vec<Requirement>),
    /// At least one of these (empty is false).
    Any(Vec<Requirement>),
    /// The opposite of this (still false when signed out).
    Not(Box<Requirement>),
}

/// The outcome of checking a requirement, with what would fix a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The requirement is met.
    Allowed,
    /// The requirement is not met and re-verifying would not help.
    Denied,
    /// Only a reverification window failed: the user can step up.
    NeedsReverification(Reverification),
    /// The answer depends on the user's Backend API record: check again
    /// with it (`check_with_user`).
    NeedsUser,
}

impl Requirement {
    /// Organization role.
    pub fn role(role: impl Into<String>) -> Self {
        Self::Role(role.into())
    }

    /// Organization permission.
    pub fn permission(permission: impl Into<String>) -> Self {
        Self::Permission(permission.into())
    }

    /// Plan.
    pub fn plan(plan: impl Into<String>) -> Self {
        Self::Plan(plan.into())
    }

    /// Feature.
    pub fn feature(feature: impl Into<String>) -> Self {
        Self::Feature(feature.into())
    }

    /// Reverification with a preset or an explicit window.
    pub fn reverification(window: impl Into<Reverification>) -> Self {
        Self::Reverification(window.into())
    }

    /// A second factor was verified in this session (`fva[1] != -1`).
    pub fn mfa() -> Self {
        Self::Mfa
    }

    /// A check on the user's Backend API record, e.g. "MFA enrolled". Costs
    /// one cached lookup per user (see [`UserDirectory`](crate::api::UserDirectory)); the token-only
    /// [`Requirement::mfa`] costs nothing.
    pub fn user(
        name: &'static str,
        predicate: impl Fn(&crate::api::User) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self::User(name, Arc::new(predicate))
    }

    /// The user has a second factor enrolled (`two_factor_enabled`), for
    /// "enforced MFA" policies. One cached Backend API lookup.
    pub fn mfa_enrolled() -> Self {
        Self::user("mfa_enrolled", |u| u.two_factor_enabled)
    }

    /// True when checking needs the user's Backend API record.
    pub(crate) fn needs_user(&self) -> bool {
        match self {
            Self::User(..) => true,
            Self::All(v) | Self::Any(v) => v.iter().any(Self::needs_user),
            Self::Not(r) => r.needs_user(),
            _ => false,
        }
    }

    /// A machine token that grants `scope` (never met by a session).
    pub fn scope(scope: impl Into<String>) -> Self {
        Self::Scope(scope.into())
    }

    /// The scopes this requirement asks a machine for (its `Scope` leaves
    /// outside `Not`), for an `insufficient_scope` challenge.
    pub(crate) fn scopes<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Self::Scope(s) => out.push(s),
            Self::All(rs) | Self::Any(rs) => rs.iter().for_each(|r| r.scopes(out)),
            _ => {}
        }
    }

    /// Checks `self` against a machine identity: only [`Requirement::Scope`]
    /// and [`Requirement::SignedIn`] (any verified identity of an accepted
    /// kind) can hold; roles, plans, reverification, custom predicates and
    /// negations never do for machines.
    pub(crate) fn check_machine(&self, machine: &crate::machine::MachineAuth) -> Verdict {
        let from_bool = Verdict::from_bool;
        match self {
            Self::SignedIn => Verdict::Allowed,
            Self::Scope(s) => from_bool(machine.has_scope(s)),
            Self::All(reqs) => from_bool(
                !reqs.is_empty()
                    && reqs
                        .iter()
                        .all(|r| r.check_machine(machine) == Verdict::Allowed),
            ),
            Self::Any(reqs) => from_bool(
                reqs.iter()
                    .any(|r| r.check_machine(machine) == Verdict::Allowed),
            ),
            _ => Verdict::Denied,
        }
    }

    /// Any signed-in session.
    pub fn signed_in() -> Self {
        Self::SignedIn
    }

    /// Your own predicate over the claims.
    pub fn custom(
        name: &'static str,
        predicate: impl Fn(&Session) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self::Custom(name, Arc::new(predicate))
    }

    /// Every requirement must hold; an empty list is false.
    pub fn all(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Self::All(requirements.into_iter().collect())
    }

    /// At least one requirement must hold; an empty list is false.
    pub fn any(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Self::Any(requirements.into_iter().collect())
    }

    /// Both `self` and `other`.
    #[must_use]
    pub fn and(self, other: Requirement) -> Self {
        match self {
            Self::All(mut v) if !v.is_empty() => {
                v.push(other);
                Self::All(v)
            }
            first => Self::All(vec![first, other]),
        }
    }

    /// `self` or `other`.
    #[must_use]
    pub fn or(self, other: Requirement) -> Self {
        match self {
            Self::Any(mut v) if !v.is_empty() => {
                v.push(other);
                Self::Any(v)
            }
            first => Self::Any(vec![first, other]),
        }
    }

    /// The negation of `self`.
    #[allow(clippy::should_implement_trait)] // `!req` would read as "not required"
    #[must_use]
    pub fn not(self) -> Self {
        Self::Not(Box::new(self))
    }

    /// Clerk's `has()`: true when the signed-in session satisfies `self`.
    pub fn is_met_by(&self, claims: &Session) -> bool {
        self.check(claims) == Verdict::Allowed
    }

    /// Checks `self` and says whether stepping up would help, or whether
    /// the user's record is needed (`Verdict::NeedsUser`).
    pub(crate) fn check(&self, claims: &Session) -> Verdict {
        self.check_with_user(claims, None)
    }

    /// The one evaluator of a requirement for a session, used by the guard
    /// ([`Protect`](crate::Protect)) and by [`Auth::require`](crate::Auth::require)
    /// alike: the token-only check, and only when that needs the user's
    /// record, one (cached) lookup and the check again with it.
    pub(crate) async fn evaluate(
        &self,
        session: &Session,
    ) -> Result<Verdict, crate::api::ApiError> {
        match self.check(session) {
            Verdict::NeedsUser => {
                let user = session.user().await?;
                Ok(self.check_with_user(session, Some(&user)))
            }
            verdict => Ok(verdict),
        }
    }

    /// Checks `self` with the user's Backend API record when at hand.
    pub(crate) fn check_with_user(
        &self,
        claims: &Session,
        user: Option<&crate::api::User>,
    ) -> Verdict {
        let from_bool = Verdict::from_bool;
        match self {
            Self::User(_, pred) => user.map_or(Verdict::NeedsUser, |u| from_bool(pred(u))),
            Self::SignedIn => Verdict::Allowed,
            Self::Role(role) => from_bool(
                claims
                    .organization()
                    .and_then(|o| o.role())
                    .is_some_and(|r| is_org_name(r, role)),
            ),
            Self::Permission(p) => from_bool(has_permission(claims, p)),
            Self::Plan(p) => from_bool(has_scoped(claims.plans(), p)),
            Self::Feature(f) => from_bool(has_scoped(claims.features(), f)),
            Self::Reverification(r) => {
                if r.is_met_by(claims) {
                    Verdict::Allowed
                } else {
                    Verdict::NeedsReverification(*r)
                }
            }
            Self::Mfa => from_bool(
                claims
                    .factor_age()
                    .is_some_and(|a| a.second_factor_minutes().is_some()),
            ),
            Self::Custom(_, pred) => from_bool(pred(claims)),
            Self::Scope(_) => Verdict::Denied,
            Self::All(reqs) if reqs.is_empty() => Verdict::Denied,
            Self::All(reqs) => combine(reqs, claims, user, true),
            Self::Any(reqs) => combine(reqs, claims, user, false),
            Self::Not(r) => match r.check_with_user(claims, user) {
                Verdict::Allowed => Verdict::Denied,
                Verdict::NeedsUser => Verdict::NeedsUser,
                _ => Verdict::Allowed,
            },
        }
    }
}

impl Verdict {
    const fn from_bool(met: bool) -> Self {
        if met { Self::Allowed } else { Self::Denied }
    }
}

/// `All` (`all`: one `Denied` decides) or `Any` (one `Allowed` decides):
/// without a deciding verdict, a needed user record comes first, then the
/// first step-up, then the other verdict.
fn combine(
    reqs: &[Requirement],
    claims: &Session,
    user: Option<&crate::api::User>,
    all: bool,
) -> Verdict {
    let mut step_up = None;
    let mut needs_user = false;
    for r in reqs {
        match r.check_with_user(claims, user) {
            Verdict::Denied if all => return Verdict::Denied,
            Verdict::Allowed if !all => return Verdict::Allowed,
            Verdict::NeedsUser => needs_user = true,
            Verdict::NeedsReverification(w) => {
                step_up.get_or_insert(w);
            }
            Verdict::Allowed | Verdict::Denied => {}
        }
    }
    if needs_user {
        return Verdict::NeedsUser;
    }
    let otherwise = if all {
        Verdict::Allowed
    } else {
        Verdict::Denied
    };
    step_up.map_or(otherwise, Verdict::NeedsReverification)
}

/// `value` equals `wanted` read with exactly one `org:` prefix (`admin` and
/// `org:admin` are the same role), without building the prefixed string.
fn is_org_name(value: &str, wanted: &str) -> bool {
    let bare = wanted.strip_prefix("org:").unwrap_or(wanted);
    value.strip_prefix("org:") == Some(bare)
}

fn has_permission(claims: &Session, permission: &str) -> bool {
    let bare = permission.strip_prefix("org:").unwrap_or(permission);
    if bare.starts_with("sys_") {
        return false;
    }
    claims
        .organization()
        .filter(|o| o.role().is_some())
        .is_some_and(|o| o.permissions().iter().any(|p| is_org_name(p, permission)))
}

fn has_scoped(list: &ScopedList, query: &str) -> bool {
    if !list.is_well_formed() {
        return false;
    }
    let (org, user, value) = match query.split_once(':') {
        Some(("o" | "org" | "organization", v)) => (true, false, v),
        Some(("u" | "user", v)) => (false, true, v),
        Some(_) => return false,
        None => (true, true, query),
    };
    list.entries().any(|(scope, v)| {
        v == value && ((org && scope.includes_organization()) || (user && scope.includes_user()))
    })
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignedIn => f.write_str("SignedIn"),
            Self::Role(r) => f.debug_tuple("Role").field(r).finish(),
            Self::Permission(p) => f.debug_tuple("Permission").field(p).finish(),
            Self::Plan(p) => f.debug_tuple("Plan").field(p).finish(),
            Self::Feature(x) => f.debug_tuple("Feature").field(x).finish(),
            Self::Reverification(r) => f.debug_tuple("Reverification").field(r).finish(),
            Self::Mfa => f.write_str("Mfa"),
            Self::Scope(s) => f.debug_tuple("Scope").field(s).finish(),
            Self::User(name, _) => f.debug_tuple("User").field(name).finish(),
            Self::Custom(name, _) => f.debug_tuple("Custom").field(name).finish(),
            Self::All(v) => f.debug_tuple("All").field(v).finish(),
            Self::Any(v) => f.debug_tuple("Any").field(v).finish(),
            Self::Not(r) => f.debug_tuple("Not").field(r).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn claims(v: Value) -> Session {
        Session::from_payload(v.as_object().unwrap().clone()).unwrap()
    }

    fn with(extra: Value) -> Session {
        let mut base = json!({"sub":"user_1","sid":"sess_1","exp":2_000_000_000});
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims(base)
    }

    fn fva(first: i64, second: i64) -> Session {
        with(json!({ "fva": [first, second] }))
    }

    #[test]
    fn role_needs_active_org_and_normalises_both_sides() {
        let c = with(json!({"org_id":"org_1","org_role":"admin"}));
        assert!(Requirement::role("admin").is_met_by(&c));
        assert!(Requirement::role("org:admin").is_met_by(&c));
        assert!(!Requirement::role("org:member").is_met_by(&c));
        assert!(!Requirement::role("admin").is_met_by(&with(json!({"org_role":"admin"}))));
        assert!(!Requirement::role("admin").is_met_by(&with(json!({}))));
    }

    #[test]
    fn permission_rules() {
        let c = with(json!({"org_id":"org_1","org_role":"org:member",
            "org_permissions":["org:invoices:read","org:sys_memberships:read"]}));
        assert!(Requirement::permission("org:invoices:read").is_met_by(&c));
        assert!(Requirement::permission("invoices:read").is_met_by(&c));
        assert!(!Requirement::permission("org:invoices:write").is_met_by(&c));
        // System permissions are never trusted from a token.
        assert!(!Requirement::permission("org:sys_memberships:read").is_met_by(&c));
        assert!(!Requirement::permission("sys_memberships:read").is_met_by(&c));
        // No active organization: false.
        let no_org = with(json!({"org_permissions":["org:invoices:read"]}));
        assert!(!Requirement::permission("org:invoices:read").is_met_by(&no_org));
    }

    #[test]
    fn plan_and_feature_scopes() {
        let c = with(json!({"pla":"o:pro,u:free","fea":"ou:export,u:avatar"}));
        for (q, want) in [
            ("pro", true),
            ("o:pro", true),
            ("org:pro", true),
            ("organization:pro", true),
            ("u:pro", false),
            ("user:pro", false),
            ("free", true),
            ("user:free", true),
            ("org:free", false),
            ("x:pro", false),
            ("enterprise", false),
        ] {
            assert_eq!(Requirement::plan(q).is_met_by(&c), want, "plan {q}");
        }
        for (q, want) in [
            ("export", true),
            ("o:export", true),
            ("u:export", true),
            ("avatar", true),
            ("org:avatar", false),
        ] {
            assert_eq!(Requirement::feature(q).is_met_by(&c), want, "feature {q}");
        }
    }

    #[test]
    fn malformed_plan_claim_fails_every_plan_check() {
        let c = with(json!({"pla":"o:pro,broken","fea":"u:ok"}));
        assert!(!Requirement::plan("pro").is_met_by(&c));
        assert!(Requirement::feature("ok").is_met_by(&c));
    }

    #[test]
    fn presets_at_their_boundaries() {
        // Age equal to the window fails; one less passes.
        for (preset, minutes) in [
            (Preset::Strict, 10),
            (Preset::Moderate, 60),
            (Preset::Lax, 1440),
        ] {
            let r = Requirement::reverification(preset);
            assert!(r.is_met_by(&fva(0, minutes - 1)), "{preset:?} fresh");
            assert!(!r.is_met_by(&fva(0, minutes)), "{preset:?} at window");
        }
        let r = Requirement::reverification(Preset::StrictMfa);
        assert!(r.is_met_by(&fva(9, 9)));
        assert!(!r.is_met_by(&fva(10, 9)));
        assert!(!r.is_met_by(&fva(9, 10)));
    }

    #[test]
    fn first_factor_level() {
        let r = Reverification::new(Level::FirstFactor, 10);
        assert!(r.is_met_by(&fva(9, -1)));
        assert!(!r.is_met_by(&fva(10, 0)));
        assert!(!r.is_met_by(&fva(-1, 0)));
    }

    #[test]
    fn second_factor_level() {
        let r = Reverification::new(Level::SecondFactor, 10);
        assert!(r.is_met_by(&fva(9, -1)), "no second factor: first decides");
        assert!(!r.is_met_by(&fva(10, -1)));
        assert!(r.is_met_by(&fva(-1, 9)), "no first factor: second decides");
        assert!(!r.is_met_by(&fva(-1, 10)));
        assert!(r.is_met_by(&fva(100, 9)), "both: second decides");
        assert!(!r.is_met_by(&fva(0, 10)));
    }

    #[test]
    fn multi_factor_level() {
        let r = Reverification::new(Level::MultiFactor, 10);
        assert!(r.is_met_by(&fva(9, -1)), "no second factor: first decides");
        assert!(!r.is_met_by(&fva(10, -1)));
        assert!(!r.is_met_by(&fva(-1, 0)), "no first factor: fail");
        assert!(r.is_met_by(&fva(9, 9)));
        assert!(!r.is_met_by(&fva(9, 10)));
    }

    #[test]
    fn missing_or_never_factors_fail() {
        for level in [Level::FirstFactor, Level::SecondFactor, Level::MultiFactor] {
            let r = Reverification::new(level, 10_000);
            assert!(!r.is_met_by(&fva(-1, -1)), "{level:?}");
            assert!(!r.is_met_by(&with(json!({}))), "{level:?}");
            assert!(!r.is_met_by(&with(json!({"fva":"bad"}))), "{level:?}");
        }
    }

    #[test]
    fn mfa_means_second_factor_verified() {
        assert!(Requirement::mfa().is_met_by(&fva(5, 500)));
        assert!(!Requirement::mfa().is_met_by(&fva(5, -1)));
        assert!(!Requirement::mfa().is_met_by(&with(json!({}))));
    }

    #[test]
    fn combinators() {
        let c = with(json!({"org_id":"org_1","org_role":"admin","pla":"o:pro","fva":[50, 50]}));
        let admin = Requirement::role("admin");
        let member = Requirement::role("member");
        assert!(admin.clone().and(Requirement::plan("pro")).is_met_by(&c));
        assert!(!admin.clone().and(member.clone()).is_met_by(&c));
        assert!(member.clone().or(admin.clone()).is_met_by(&c));
        assert!(!member.clone().or(Requirement::plan("free")).is_met_by(&c));
        assert!(member.clone().not().is_met_by(&c));
        assert!(!admin.clone().not().is_met_by(&c));
        assert!(!Requirement::all([]).is_met_by(&c), "empty all is false");
        assert!(!Requirement::any([]).is_met_by(&c), "empty any is false");
        assert!(Requirement::signed_in().is_met_by(&c));
        let pred = Requirement::custom("user_1 only", |c| c.user_id() == "user_1");
        assert!(pred.is_met_by(&c));
        assert_eq!(format!("{pred:?}"), "Custom(\"user_1 only\")");
    }

    #[test]
    fn verdict_says_when_step_up_helps() {
        let c = with(json!({"org_id":"org_1","org_role":"admin","fva":[50, 50]}));
        let strict = Requirement::reverification(Preset::Strict);
        assert_eq!(
            Requirement::role("admin").and(strict.clone()).check(&c),
            Verdict::NeedsReverification(Preset::Strict.window())
        );
        assert_eq!(
            Requirement::role("member").and(strict.clone()).check(&c),
            Verdict::Denied
        );
        assert_eq!(
            Requirement::role("member").or(strict.clone()).check(&c),
            Verdict::NeedsReverification(Preset::Strict.window())
        );
        assert_eq!(strict.clone().not().check(&c), Verdict::Allowed);
    }

    #[test]
    fn reverification_body_is_clerks() {
        let body = Preset::Strict.window().error_body();
        assert_eq!(
            body.to_string(),
            r#"{"clerk_error":{"metadata":{"reverification":{"afterMinutes":10,"level":"second_factor"}},"reason":"reverification-error","type":"forbidden"}}"#
        );
    }

    #[test]
    fn names_round_trip() {
        for p in [
            Preset::StrictMfa,
            Preset::Strict,
            Preset::Moderate,
            Preset::Lax,
        ] {
            assert_eq!(Preset::parse(p.as_str()), Some(p));
        }
        for l in [Level::FirstFactor, Level::SecondFactor, Level::MultiFactor] {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
        assert_eq!(Preset::parse("STRICT"), None);
    }
}
