//! A verified session ([`Session`]) and the parts of its claims: one shape
//! for Clerk's v1 and v2 session tokens.
//!
//! v1 tokens carry `org_id`, `org_role`, `org_slug` and `org_permissions`;
//! v2 tokens (`"v":2`) carry a compact `o` object whose permissions are
//! bitmasks over feature lists. Both read into the same [`Session`]:
//! organization role normalised to exactly one `org:` prefix, permissions as
//! `org:<feature>:<permission>`, plans and features as `scope:value` entries,
//! factor-verification age, status and impersonation actor. Every other claim
//! is kept and readable as JSON or as your own type. Malformed optional
//! claims read as absent, never as an error.
//!
//! ```
//! use clerk_core::Session;
//! use serde_json::json;
//!
//! let payload = json!({
//!     "v": 2, "sub": "user_123", "sid": "sess_123", "exp": 1713158460,
//!     "fea": "o:repositories,uo:projects,u:goldprofileborder",
//!     "o": {"id": "org_123", "slg": "acme", "rol": "admin",
//!           "per": "read,create,update,delete,revoke", "fpm": "7,21,0"},
//!     "metadata": {"tier": "gold"}
//! });
//! let claims = Session::from_payload(payload.as_object().unwrap().clone())?;
//! let org = claims.organization().unwrap();
//! assert_eq!(org.role(), Some("org:admin"));
//! assert!(org.permissions().iter().any(|p| p == "org:projects:revoke"));
//! assert_eq!(claims.raw()["metadata"]["tier"], "gold");
//! # Ok::<(), clerk_core::VerifyError>(())
//! ```

mod actor;
mod billing;
mod cache;
mod factors;
mod organization;
pub(crate) mod payload;
mod permissions;
pub(crate) mod verify;

pub use actor::Actor;
pub use billing::{Scope, ScopedList};
pub use factors::FactorAge;
pub use organization::Organization;
use organization::{v1_organization, v2_organization};

use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use payload::slot;
pub(crate) use payload::{ClaimFields, parse_all_claims, parse_claims};

use crate::api::{ApiError, User, UserDirectory};
use crate::error::{Reason, VerifyError};
use crate::json::Field;

/// A verified session: the claims of its token, normalised across v1 and
/// v2, and the way to its user's Backend API record ([`Session::user`]).
/// The registered claims not named here (`iss`, `aud`, `azp`, `nbf`) were
/// checked when it was verified; read them, and every other claim, with
/// [`Session::raw`] or [`Session::claims_as`].
#[derive(Clone)]
pub struct Session {
    /// Where [`Session::user`] looks the user up (the verifying `Clerk`'s
    /// cached directory).
    users: Option<Arc<UserDirectory>>,
    user_id: String,
    session_id: Option<String>,
    issuer: Option<String>,
    authorized_party: Option<String>,
    expires_at: f64,
    not_before: Option<f64>,
    issued_at: Option<f64>,
    status: SessionStatus,
    audience: Option<Value>,
    payload: Vec<u8>,
    extras: OnceLock<Extras>,
    raw: OnceLock<Map<String, Value>>,
}

/// The claims read on first use rather than during verification.
#[derive(Debug, Clone, Default)]
struct Extras {
    version: u8,
    organization: Option<Organization>,
    plans: ScopedList,
    features: ScopedList,
    factor_age: Option<FactorAge>,
    actor: Option<Actor>,
}

impl Extras {
    fn read(payload: &[u8]) -> Self {
        // The payload passed the strict check during verification.
        let Some(mut raw) = parse_all_claims(payload) else {
            return Self::default();
        };
        #[allow(clippy::float_cmp)] // an exact JSON integer
        let version = if matches!(raw.get(slot::V), Some(Field::Num(v)) if *v == 2.0) {
            2
        } else {
            1
        };
        let organization = if version == 2 {
            v2_organization(&mut raw)
        } else {
            v1_organization(&mut raw)
        };
        Self {
            version,
            organization,
            plans: ScopedList::parse(raw.get(slot::PLA).and_then(Field::as_str)),
            features: ScopedList::parse(raw.get(slot::FEA).and_then(Field::as_str)),
            factor_age: raw.get(slot::FVA).and_then(FactorAge::parse),
            actor: Actor::parse(take_value(raw.take(slot::ACT))),
        }
    }
}

impl PartialEq for Session {
    /// Claims are equal when their payloads are: everything else is read
    /// from the payload.
    fn eq(&self, other: &Self) -> bool {
        self.payload == other.payload
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("issuer", &self.issuer)
            .field("authorized_party", &self.authorized_party)
            .field("expires_at", &self.expires_at)
            .field("version", &self.version())
            .field("status", &self.status)
            .field("organization", &self.organization())
            .field("plans", &self.plans().raw().collect::<Vec<_>>())
            .field("features", &self.features().raw().collect::<Vec<_>>())
            .field("factor_age", &self.factor_age())
            .field("actor", &self.actor())
            .finish_non_exhaustive()
    }
}

/// The session's status (`sts`), `active` when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SessionStatus {
    /// A normal, fully signed-in session.
    Active,
    /// The user still has a task to finish (e.g. choose an organization);
    /// treated as signed out unless the configuration accepts it.
    Pending,
    /// A status this crate does not know; treated as signed out.
    Other(String),
}

const fn failed(message: &'static str) -> VerifyError {
    VerifyError::new(Reason::TokenVerificationFailed, message)
}

fn str_claim(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn take_string(value: Option<Field<'_>>) -> Option<String> {
    value.and_then(Field::into_string)
}

/// A NumericDate claim: absent is `None`; present must be a JSON number.
/// Seconds since the epoch that an `i64` holds: a time past them (`1e300`)
/// would saturate to "never expires", so it makes the token invalid.
#[allow(clippy::cast_precision_loss)] // bounds, not values
const TIME_RANGE: std::ops::Range<f64> = (i64::MIN as f64)..(i64::MAX as f64);

fn time_claim(value: Option<Field<'_>>, message: &'static str) -> Result<Option<f64>, VerifyError> {
    match value {
        None => Ok(None),
        Some(Field::Num(n)) if TIME_RANGE.contains(&n) => Ok(Some(n)),
        Some(Field::Num(_)) => Err(VerifyError::new(
            Reason::TokenInvalid,
            "a time claim is out of range",
        )),
        Some(_) => Err(failed(message)),
    }
}

fn take_value(value: Option<Field<'_>>) -> Option<Value> {
    value.map(Field::into_value)
}

impl Session {
    /// A session read from a payload object, unverified: for tests of code
    /// that takes a [`Session`] (feature `testing`). See the rules of
    /// `from_json`.
    ///
    /// # Errors
    /// As `from_json`.
    #[cfg(any(test, feature = "testing"))]
    pub fn from_payload(payload: Map<String, Value>) -> Result<Self, VerifyError> {
        let bytes = serde_json::to_vec(&Value::Object(payload))
            .map_err(|_| failed("payload cannot be serialized"))?;
        Self::from_json(&bytes)
    }

    /// Reads payload JSON. It must be one object without duplicate member
    /// names (`token-invalid` otherwise). Only type errors of the registered
    /// claims are then errors (`token-verification-failed`): `sub` must be a
    /// string, `exp` a number, `nbf`/`iat` numbers when present, `iss` a
    /// string when present. Policy checks (times, `azp`, `iss` pinning,
    /// `sid`) belong to the verifier.
    ///
    /// # Errors
    /// As described.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn from_json(json: &[u8]) -> Result<Self, VerifyError> {
        let claims = Self::from_fields(parse_claims(json)?)?;
        Ok(claims.with_payload(json.to_vec()))
    }

    /// Reads the claims picked out by [`parse_claims`]; the payload bytes are
    /// attached afterwards with [`Session::with_payload`].
    pub(crate) fn from_fields(mut raw: ClaimFields<'_>) -> Result<Self, VerifyError> {
        let user_id = take_string(raw.take(slot::SUB)).ok_or(failed("sub must be a string"))?;
        let expires_at = time_claim(raw.take(slot::EXP), "exp must be a number")?
            .ok_or(failed("exp is required"))?;
        let not_before = time_claim(raw.take(slot::NBF), "nbf must be a number")?;
        let issued_at = time_claim(raw.take(slot::IAT), "iat must be a number")?;
        let issuer = match raw.take(slot::ISS) {
            None => None,
            Some(Field::Str(s)) => Some(s.into_owned()),
            Some(_) => return Err(failed("iss must be a string")),
        };
        let status = match raw.take(slot::STS) {
            None => SessionStatus::Active,
            Some(Field::Str(s)) => match &*s {
                "active" => SessionStatus::Active,
                "pending" => SessionStatus::Pending,
                _ => SessionStatus::Other(s.into_owned()),
            },
            Some(_) => SessionStatus::Other(String::new()),
        };
        Ok(Self {
            user_id,
            session_id: take_string(raw.take(slot::SID)),
            issuer,
            authorized_party: take_string(raw.take(slot::AZP)),
            expires_at,
            not_before,
            issued_at,
            status,
            audience: take_value(raw.take(slot::AUD)),
            payload: Vec::new(),
            extras: OnceLock::new(),
            raw: OnceLock::new(),
            users: None,
        })
    }

    pub(crate) fn with_payload(mut self, payload: Vec<u8>) -> Self {
        self.payload = payload;
        self
    }

    /// Records the user directory [`Session::user`] asks: the verifying
    /// `Clerk`'s.
    pub(crate) fn verified_by(mut self, users: Option<Arc<UserDirectory>>) -> Self {
        self.users = users;
        self
    }

    /// The signed-in user's Backend API record (Clerk's `currentUser()`),
    /// from the cached user directory of the `Clerk` that verified this
    /// session.
    ///
    /// # Errors
    /// [`ApiError::NotConfigured`] without a secret key; otherwise why the
    /// Backend API could not answer (a stale record is served first while
    /// it lasts).
    pub async fn user(&self) -> Result<Arc<User>, ApiError> {
        match &self.users {
            Some(users) => users.get_user(&self.user_id).await,
            None => Err(ApiError::NotConfigured),
        }
    }

    fn extras(&self) -> &Extras {
        self.extras.get_or_init(|| Extras::read(&self.payload))
    }

    /// The audience (`aud`), a string or an array, when present.
    pub(crate) fn audience(&self) -> Option<&Value> {
        self.audience.as_ref()
    }

    /// The user id (`sub`), e.g. `user_2d3v`.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The session id (`sid`); always present on a session token.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The issuer (`iss`), `https://<frontend api host>`.
    pub(crate) fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The authorized party (`azp`): the origin the token was minted for.
    pub(crate) fn authorized_party(&self) -> Option<&str> {
        self.authorized_party.as_deref()
    }

    /// Expiry (`exp`), seconds since the epoch.
    pub fn expires_at(&self) -> i64 {
        to_secs(self.expires_at)
    }

    /// Not-before (`nbf`), seconds since the epoch.
    #[cfg(test)]
    pub(crate) fn not_before(&self) -> Option<i64> {
        self.not_before.map(to_secs)
    }

    /// Issued-at (`iat`), seconds since the epoch.
    pub fn issued_at(&self) -> Option<i64> {
        self.issued_at.map(to_secs)
    }

    pub(crate) fn exp_f64(&self) -> f64 {
        self.expires_at
    }

    pub(crate) fn nbf_f64(&self) -> Option<f64> {
        self.not_before
    }

    pub(crate) fn iat_f64(&self) -> Option<f64> {
        self.issued_at
    }

    /// The token format version: 1 or 2.
    pub(crate) fn version(&self) -> u8 {
        self.extras().version
    }

    /// The session status (`sts`).
    pub(crate) fn status(&self) -> &SessionStatus {
        &self.status
    }

    /// Whether the user still has a session task to finish (`sts:
    /// pending`, e.g. choosing an organization). Only a configuration that
    /// accepts pending sessions lets one through; by default a pending
    /// session is signed out, as Clerk's `treatPendingAsSignedOut`.
    pub fn is_pending(&self) -> bool {
        self.status == SessionStatus::Pending
    }

    /// The active organization, when there is one.
    pub fn organization(&self) -> Option<&Organization> {
        self.extras().organization.as_ref()
    }

    /// The organization role (`org:` prefixed), when an organization is active.
    pub fn org_role(&self) -> Option<&str> {
        self.organization().and_then(Organization::role)
    }

    /// The organization permissions; empty without an active organization.
    pub fn org_permissions(&self) -> &[String] {
        self.organization()
            .map_or(&[][..], Organization::permissions)
    }

    /// The plans (`pla`), as `scope:value` entries.
    pub fn plans(&self) -> &ScopedList {
        &self.extras().plans
    }

    /// The features (`fea`), as `scope:value` entries.
    pub fn features(&self) -> &ScopedList {
        &self.extras().features
    }

    /// Factor-verification age (`fva`); `None` when absent or malformed.
    pub fn factor_age(&self) -> Option<FactorAge> {
        self.extras().factor_age
    }

    /// The impersonator (`act`), when the session is impersonated.
    pub fn actor(&self) -> Option<&Actor> {
        self.extras().actor.as_ref()
    }

    /// Every claim exactly as the token carried it (parsed on first use).
    pub fn raw(&self) -> &Map<String, Value> {
        self.raw.get_or_init(|| {
            // The bytes passed the strict parse already; this cannot fail.
            serde_json::from_slice(&self.payload).unwrap_or_default()
        })
    }

    /// Deserializes the whole payload into your own type, for custom claims
    /// from a session-token template.
    ///
    /// # Errors
    /// When the payload does not fit `T`.
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

#[allow(clippy::cast_possible_truncation)] // saturating float-to-int is intended
fn to_secs(t: f64) -> i64 {
    t.floor() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Session {
        Session::from_payload(v.as_object().unwrap().clone()).unwrap()
    }

    fn err(v: Value) -> VerifyError {
        Session::from_payload(v.as_object().unwrap().clone()).unwrap_err()
    }

    #[test]
    fn v1_example_reads() {
        let c = claims(
            json!({"azp":"http://localhost:3000","exp":1730410018,"iat":1730409958,"nbf":1730409948,
            "iss":"https://wealthy-warthog-69.clerk.accounts.dev","sid":"sess_2mUX","sub":"user_2d3v",
            "org_id":"org_2d3Z","org_role":"org:admin","org_slug":"marine-projex","org_permissions":[]}),
        );
        assert_eq!(c.version(), 1);
        assert_eq!(c.user_id(), "user_2d3v");
        assert_eq!(c.session_id(), Some("sess_2mUX"));
        assert_eq!(c.authorized_party(), Some("http://localhost:3000"));
        assert_eq!(c.expires_at(), 1730410018);
        assert_eq!(c.not_before(), Some(1730409948));
        assert_eq!(c.issued_at(), Some(1730409958));
        let org = c.organization().unwrap();
        assert_eq!(org.id(), "org_2d3Z");
        assert_eq!(org.slug(), Some("marine-projex"));
        assert_eq!(org.role(), Some("org:admin"));
        assert!(org.permissions().is_empty());
        assert_eq!(c.status(), &SessionStatus::Active);
    }

    #[test]
    fn v1_legacy_role_gets_one_prefix() {
        let c = claims(
            json!({"sub":"u","exp":1,"org_id":"org_1","org_role":"admin","org_permissions":["org:a:b", 7]}),
        );
        assert_eq!(c.org_role(), Some("org:admin"));
        assert_eq!(c.org_permissions(), ["org:a:b"]);
    }

    #[test]
    fn v2_example_decodes_permissions() {
        let c = claims(
            json!({"v":2,"azp":"https://app.example.com","exp":1713158460,"iat":1713158400,"nbf":1713158390,
            "iss":"https://clerk.example.com","sid":"sess_123","sub":"user_123",
            "fva":[7,-1],"sts":"active","pla":"o:pro",
            "fea":"o:repositories,uo:projects,u:goldprofileborder",
            "o":{"id":"org_123","slg":"acme","rol":"admin","per":"read,create,update,delete,revoke","fpm":"7,21,0"},
            "act":{"sub":"user_456","sid":"sess_456"}}),
        );
        assert_eq!(c.version(), 2);
        assert_eq!(c.org_role(), Some("org:admin"));
        assert_eq!(c.organization().unwrap().slug(), Some("acme"));
        assert_eq!(
            c.org_permissions(),
            [
                "org:repositories:read",
                "org:repositories:create",
                "org:repositories:update",
                "org:projects:read",
                "org:projects:update",
                "org:projects:revoke",
            ]
        );
        assert_eq!(c.plans().raw().collect::<Vec<_>>(), ["o:pro"]);
        assert_eq!(
            c.features().raw().collect::<Vec<_>>(),
            ["o:repositories", "uo:projects", "u:goldprofileborder"]
        );
        assert_eq!(c.factor_age(), Some(FactorAge::new(Some(7), None)));
        assert_eq!(c.factor_age().unwrap().as_array(), [7, -1]);
        let act = c.actor().unwrap();
        assert_eq!(act.subject(), "user_456");
        assert_eq!(act.session_id(), Some("sess_456"));
    }

    #[test]
    fn v2_masks_pair_with_org_features_when_counts_differ() {
        // Two masks, three features: pair with the org-scoped ones (o, uo).
        let c = claims(
            json!({"v":2,"sub":"u","exp":1,"fea":"u:gold,o:repos,uo:projects",
            "o":{"id":"org_1","rol":"member","per":"read,write","fpm":"1,2"}}),
        );
        assert_eq!(
            c.org_permissions(),
            ["org:repos:read", "org:projects:write"]
        );
    }

    #[test]
    fn v2_mask_above_2_pow_64() {
        let names: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
        // 2^65 + 1 = 36893488147419103233
        let c = claims(json!({"v":2,"sub":"u","exp":1,"fea":"o:big",
            "o":{"id":"org_1","rol":"admin","per":names.join(","),"fpm":"36893488147419103233"}}));
        assert_eq!(c.org_permissions(), ["org:big:p0", "org:big:p65"]);
        // Bits above the permission count are ignored; 2^200 + 4 grants p2 only.
        let huge = "1606938044258990275541962092341162602522202993782792835301380";
        let c = claims(json!({"v":2,"sub":"u","exp":1,"fea":"o:big",
            "o":{"id":"org_1","rol":"admin","per":"p0,p1,p2,p3","fpm":huge}}));
        assert_eq!(c.org_permissions(), ["org:big:p2"]);
    }

    #[test]
    fn v2_bad_masks_grant_nothing() {
        let c = claims(json!({"v":2,"sub":"u","exp":1,"fea":"o:a,o:b,o:c",
            "o":{"id":"org_1","rol":"admin","per":"read,write","fpm":"x,-1,3"}}));
        assert_eq!(c.org_permissions(), ["org:c:read", "org:c:write"]);
        let c = claims(json!({"v":2,"sub":"u","exp":1,"fea":"o:a",
            "o":{"id":"org_1","rol":"admin","per":"read"}}));
        assert!(c.org_permissions().is_empty());
        let c = claims(json!({"v":2,"sub":"u","exp":1,
            "o":{"id":"org_1","rol":"admin","per":"read","fpm":"1"}}));
        assert!(c.org_permissions().is_empty());
    }

    #[test]
    fn malformed_optional_claims_read_as_absent() {
        let c = claims(
            json!({"v":2,"sub":"u","exp":1,"o":"not-an-object","fva":"x",
            "act":["x"],"pla":5,"fea":{"a":1},"sid":3,"azp":false}),
        );
        assert!(c.organization().is_none());
        assert!(c.factor_age().is_none());
        assert!(c.actor().is_none());
        assert!(c.plans().is_empty());
        assert!(c.session_id().is_none());
        assert!(c.authorized_party().is_none());
        for fva in [
            json!([1]),
            json!([1, 2, 3]),
            json!([1.5, 2]),
            json!([-2, 1]),
        ] {
            assert!(
                claims(json!({"sub":"u","exp":1,"fva":fva}))
                    .factor_age()
                    .is_none()
            );
        }
        let c = claims(json!({"v":2,"sub":"u","exp":1,"o":{"slg":"no-id"}}));
        assert!(c.organization().is_none());
    }

    #[test]
    fn registered_claim_types_are_enforced() {
        for bad in [
            json!({"exp":1}),
            json!({"sub":1,"exp":1}),
            json!({"sub":"u"}),
            json!({"sub":"u","exp":"1"}),
            json!({"sub":"u","exp":1,"nbf":"0"}),
            json!({"sub":"u","exp":1,"iat":null}),
            json!({"sub":"u","exp":1,"iss":7}),
        ] {
            assert_eq!(
                err(bad.clone()).reason(),
                Reason::TokenVerificationFailed,
                "{bad}"
            );
        }
    }

    #[test]
    fn scoped_lists_flag_entries_without_scope() {
        let c = claims(json!({"sub":"u","exp":1,"pla":"o:pro, free","fea":" u:a ,x:b"}));
        assert!(!c.plans().is_well_formed());
        assert_eq!(c.plans().raw().collect::<Vec<_>>(), ["o:pro", "free"]);
        assert!(c.features().is_well_formed());
        assert_eq!(
            c.features().entries().collect::<Vec<_>>(),
            [(Scope::User, "a")]
        );
        assert_eq!(c.features().raw().collect::<Vec<_>>(), ["u:a", "x:b"]);
    }

    #[test]
    fn status_and_custom_claims() {
        let c = claims(json!({"sub":"u","exp":1,"sts":"pending","metadata":{"role":"editor"}}));
        assert_eq!(c.status(), &SessionStatus::Pending);
        #[derive(serde::Deserialize)]
        struct Custom {
            metadata: Meta,
        }
        #[derive(serde::Deserialize)]
        struct Meta {
            role: String,
        }
        let custom: Custom = c.claims_as().unwrap();
        assert_eq!(custom.metadata.role, "editor");
        assert_eq!(c.raw()["metadata"]["role"], "editor");
        let c = claims(json!({"sub":"u","exp":1,"sts":"weird"}));
        assert_eq!(c.status(), &SessionStatus::Other("weird".into()));
    }
}
