//! Route protection: which routes, which [`Requirement`], and what to answer
//! when it is not met. Every adapter asks [`Protect::decide`] and only
//! translates the [`Rejection`] into its framework's response.
//!
//! Default answers (for APIs): 401 when signed out, with
//! `WWW-Authenticate: Bearer` (plus `error="invalid_token"` when a token was
//! sent and refused); 403 when signed in but not allowed; 403 with Clerk's
//! reverification body when only a step-up is missing; 503 when no
//! verification key can be had; 400 for a path that cannot be decoded.
//! Options: hide protected routes as 404, redirect signed-out page requests
//! to a sign-in URL, or render responses yourself.
//!
//! **Fail closed.** A protection with [routes](Protect::routes) judges every
//! reading of the path the framework might route by, and answers 400 for a
//! path it cannot read with confidence (see
//! [how the guard reads paths](crate::routes#how-the-guard-reads-paths)).
//! `HEAD` is judged as `GET`.
//!
//! **CORS.** Preflight requests (`OPTIONS` with
//! `Access-Control-Request-Method`) are judged like any other request: put
//! your CORS layer (tower-http's `CorsLayer`, actix-cors) *outside* the
//! Clerk layers, so it answers preflights before they reach them. With
//! [`Protect::answer_preflights`] the guard answers a preflight to a
//! protected route itself (204, empty) and never calls the handler.
//!
//! ```
//! use clerk_core::protect::{Decision, Protect};
//! use clerk_core::request::{Auth, SignedOutReason};
//! use clerk_core::routes::RouteMatcher;
//! use clerk_core::Requirement;
//! use http::{HeaderMap, Method};
//!
//! let protect = Protect::new(Requirement::signed_in())
//!     .routes(RouteMatcher::new(["/dashboard(.*)"])?);
//! let signed_out = Auth::SignedOut(SignedOutReason::TokenMissing);
//! let headers = HeaderMap::new();
//! match protect.decide(&Method::GET, "/dashboard", &headers, &signed_out) {
//!     Decision::Reject(r) => assert_eq!(r.status.as_u16(), 401),
//!     other => unreachable!("{other:?}"),
//! }
//! assert!(matches!(protect.decide(&Method::GET, "/", &headers, &signed_out), Decision::Allow));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use serde_json::json;

use crate::authorize::{Requirement, Reverification, Verdict};
use crate::claims::SessionClaims;
use crate::error::ErrorReason;
use crate::machine::{AcceptsToken, MachineAuth, TokenType};
use crate::request::{Auth, RequestHeaders, SignedOutReason};
use crate::routes::{RequestPath, RouteMatcher};
use crate::users::{User, UserDirectory, UserError};
use crate::verify::Session;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No usable session.
    SignedOut(SignedOutReason),
    /// Signed in, but the requirement is not met.
    Forbidden,
    /// Signed in, and only a fresher verification is missing.
    NeedsReverification(Reverification),
    /// The request path cannot be decoded.
    MalformedPath,
    /// The user's Backend API record was needed and could not be had.
    UserLookupFailed(UserError),
}

impl Denial {
    /// The reason string used in bodies and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::SignedOut(r) => r.as_str(),
            Self::Forbidden => "requirement-not-met",
            Self::NeedsReverification(_) => "reverification-error",
            Self::MalformedPath => "malformed-path",
            Self::UserLookupFailed(e) => e.as_str(),
        }
    }
}

/// Why a guard or an extractor refuses a request: one type for every
/// adapter, which only translates it (both clerk-axum and clerk-actix wrap
/// it as `ClerkRejection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request does not satisfy what was asked of it.
    Denied(Denial),
    /// No [`Auth`] in the request: the authenticating layer or middleware is
    /// not in front of the route (a wiring mistake, answered 500, never read
    /// as signed out).
    LayerMissing,
}

impl Refusal {
    /// The default response: [`Rejection::default_for`] the denial, or
    /// [`Rejection::layer_missing`].
    pub fn rejection(&self) -> Rejection {
        match self {
            Self::Denied(d) => Rejection::default_for(d),
            Self::LayerMissing => Rejection::layer_missing(),
        }
    }

    /// The reason string (Clerk's where there is one).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Denied(d) => d.reason(),
            Self::LayerMissing => "clerk-layer-missing",
        }
    }
}

impl From<Denial> for Refusal {
    fn from(denial: Denial) -> Self {
        Self::Denied(denial)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for Refusal {}

/// A response to send instead of calling the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status code.
    pub status: StatusCode,
    /// Headers to set (`Content-Type`, `WWW-Authenticate`, `Location`).
    pub headers: HeaderMap,
    /// The body (JSON, or empty for redirects).
    pub body: String,
}

impl Rejection {
    /// A JSON response.
    pub fn json(status: StatusCode, body: &serde_json::Value) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Self {
            status,
            headers,
            body: body.to_string(),
        }
    }

    /// The default answer for `denial`: see the module docs.
    pub fn default_for(denial: &Denial) -> Self {
        match denial {
            Denial::SignedOut(reason) if reason.is_unavailable() => Self::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "unavailable", "reason": reason.as_str()}),
            ),
            Denial::SignedOut(reason) => {
                let mut r = Self::json(
                    StatusCode::UNAUTHORIZED,
                    &json!({"error": "unauthenticated", "reason": reason.as_str()}),
                );
                r.headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(if reason.token_presented() {
                        r#"Bearer error="invalid_token""#
                    } else {
                        "Bearer"
                    }),
                );
                r
            }
            Denial::Forbidden => Self::json(
                StatusCode::FORBIDDEN,
                &json!({"error": "forbidden", "reason": denial.reason()}),
            ),
            Denial::NeedsReverification(window) => {
                Self::json(StatusCode::FORBIDDEN, &window.error_body())
            }
            Denial::MalformedPath => Self::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "bad_request", "reason": denial.reason()}),
            ),
            // A valid token for a user Clerk no longer knows: signed out.
            Denial::UserLookupFailed(UserError::NotFound) => {
                Self::default_for(&Denial::SignedOut(SignedOutReason::TokenMissing))
                    .with_reason(denial.reason())
            }
            Denial::UserLookupFailed(_) => Self::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "unavailable", "reason": denial.reason()}),
            ),
        }
    }

    fn with_reason(mut self, reason: &str) -> Self {
        if let Ok(mut body) = serde_json::from_str::<serde_json::Value>(&self.body) {
            body["reason"] = json!(reason);
            self.body = body.to_string();
        }
        self
    }

    /// A 500 for a protection or extractor used without the layer that
    /// authenticates requests: a wiring mistake must not read as signed out.
    pub fn layer_missing() -> Self {
        Self::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "misconfigured", "reason": Refusal::LayerMissing.reason()}),
        )
    }

    /// The answer to a CORS preflight the guard answers itself: 204, no
    /// body, no headers (see [`Protect::answer_preflights`]).
    pub fn preflight() -> Self {
        Self {
            status: StatusCode::NO_CONTENT,
            headers: HeaderMap::new(),
            body: String::new(),
        }
    }

    fn not_found() -> Self {
        Self::json(StatusCode::NOT_FOUND, &json!({"error": "not_found"}))
    }

    fn redirect(location: &HeaderValue) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(header::LOCATION, location.clone());
        Self {
            status: StatusCode::TEMPORARY_REDIRECT,
            headers,
            body: String::new(),
        }
    }
}

enum Judgement {
    Allow,
    Deny(Denial),
    NeedsUser,
}

impl Verdict {
    /// The refusal this verdict means (`None` when allowed). A verdict that
    /// still needs the user's record counts as a refusal here.
    pub fn into_denial(self) -> Option<Denial> {
        match self {
            Self::Allowed => None,
            Self::Denied | Self::NeedsUser => Some(Denial::Forbidden),
            Self::NeedsReverification(w) => Some(Denial::NeedsReverification(w)),
        }
    }
}

impl Auth {
    /// The session, or why this request is not a signed-in user (signed
    /// out, or a machine token: `token-type-mismatch`).
    ///
    /// # Errors
    /// The [`Denial`] to answer with.
    pub fn require_session(&self) -> Result<&Arc<Session>, Denial> {
        match self {
            Self::SignedIn(s) => Ok(s),
            Self::Machine(_) => Err(TYPE_MISMATCH),
            Self::SignedOut(r) => Err(Denial::SignedOut(*r)),
        }
    }

    /// The machine identity, or why this request is not one (signed out,
    /// or a session token: `token-type-mismatch`).
    ///
    /// # Errors
    /// The [`Denial`] to answer with.
    pub fn require_machine(&self) -> Result<&Arc<MachineAuth>, Denial> {
        match self {
            Self::Machine(m) => Ok(m),
            Self::SignedIn(_) => Err(TYPE_MISMATCH),
            Self::SignedOut(r) => Err(Denial::SignedOut(*r)),
        }
    }
}

const TYPE_MISMATCH: Denial =
    Denial::SignedOut(SignedOutReason::Rejected(ErrorReason::TokenTypeMismatch));

/// Checks `requirement` for a signed-in session, fetching the user's record
/// from `users` only when the requirement needs it: what typed guard
/// extractors (`Require<P>`) do in every adapter.
///
/// # Errors
/// The [`Denial`] to answer with.
pub async fn require_fetching(
    requirement: &Requirement,
    claims: &SessionClaims,
    users: Option<&UserDirectory>,
) -> Result<(), Denial> {
    let verdict = match requirement.check(claims) {
        Verdict::NeedsUser => {
            let users = users.ok_or(Denial::UserLookupFailed(UserError::NotConfigured))?;
            requirement
                .check_fetching(claims, users)
                .await
                .map_err(Denial::UserLookupFailed)?
        }
        v => v,
    };
    verdict.into_denial().map_or(Ok(()), Err)
}

/// Renders a [`Denial`] your way.
pub type Renderer = Arc<dyn Fn(&Denial) -> Rejection + Send + Sync>;

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Call the handler.
    Allow,
    /// Answer with this instead.
    Reject(Rejection),
    /// The requirement needs the user's Backend API record: decide with
    /// [`Protect::decide_fetching`] (adapters do this on their slow path).
    NeedsUser,
}

/// A protection policy: routes, requirement, responses. Cheap to clone.
#[derive(Clone)]
pub struct Protect {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    routes: Option<RouteMatcher>,
    requirement: Requirement,
    hide: bool,
    sign_in: Option<HeaderValue>,
    renderer: Option<Renderer>,
    answer_preflights: bool,
    accepts: AcceptsToken,
    resource_metadata: Option<HeaderValue>,
}

impl Protect {
    /// Requires `requirement` on every request (narrow it with
    /// [`Protect::routes`]).
    pub fn new(requirement: Requirement) -> Self {
        Self {
            inner: Arc::new(Inner {
                routes: None,
                requirement,
                hide: false,
                sign_in: None,
                renderer: None,
                answer_preflights: false,
                accepts: AcceptsToken::default(),
                resource_metadata: None,
            }),
        }
    }

    /// Any signed-in session, on every request.
    pub fn signed_in() -> Self {
        Self::new(Requirement::signed_in())
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Protects only requests matching `routes`.
    #[must_use]
    pub fn routes(self, routes: RouteMatcher) -> Self {
        self.edit(|i| i.routes = Some(routes))
    }

    /// Answers 404 instead of 401/403, hiding that the route exists.
    #[must_use]
    pub fn hide_as_not_found(self) -> Self {
        self.edit(|i| i.hide = true)
    }

    /// Redirects signed-out page requests (`Sec-Fetch-Dest: document`, or an
    /// `Accept` with `text/html`) to `sign_in_url` with 307. API requests
    /// still get 401. An URL that is not a valid header value is ignored.
    #[must_use]
    pub fn redirect_pages_to(self, sign_in_url: &str) -> Self {
        let value = HeaderValue::from_str(sign_in_url).ok();
        self.edit(|i| i.sign_in = value)
    }

    /// Renders every refusal with `renderer` instead of the defaults.
    #[must_use]
    pub fn render_with(
        self,
        renderer: impl Fn(&Denial) -> Rejection + Send + Sync + 'static,
    ) -> Self {
        let renderer: Renderer = Arc::new(renderer);
        self.edit(|i| i.renderer = Some(renderer))
    }

    /// Whether the guard answers CORS preflights to protected routes itself
    /// (default false: a preflight is judged like any request, so a
    /// signed-out one gets 401). When true, a preflight (`OPTIONS` with
    /// `Access-Control-Request-Method`) to a protected route is answered
    /// `204 No Content` with no body, and the protected handler is never
    /// called for it. Prefer a CORS layer outside the Clerk layers: it
    /// answers preflights with the right `Access-Control-*` headers before
    /// they reach the guard.
    #[must_use]
    pub fn answer_preflights(self, answer: bool) -> Self {
        self.edit(|i| i.answer_preflights = answer)
    }

    /// Which token kinds the protected routes accept (default: session
    /// tokens). Others are refused as `token-type-mismatch` (401). The
    /// authenticating layer must accept them too, or they never verify.
    #[must_use]
    pub fn accepts_token(self, accepts: AcceptsToken) -> Self {
        self.edit(|i| i.accepts = accepts)
    }

    /// For routes accepting OAuth tokens: 401 challenges name the protected
    /// resource metadata, `Bearer resource_metadata="<frontend_api_url>/.well-known/oauth-protected-resource"`.
    #[must_use]
    pub fn oauth_resource_metadata(self, frontend_api_url: &str) -> Self {
        let url = format!(
            "{}/.well-known/oauth-protected-resource",
            frontend_api_url.trim_end_matches('/')
        );
        let value = HeaderValue::from_str(&url).ok();
        self.edit(|i| i.resource_metadata = value)
    }

    /// The requirement.
    pub fn requirement(&self) -> &Requirement {
        &self.inner.requirement
    }

    /// Decides for one request. `path` is the raw request path (no query),
    /// or a [`RequestPath::nested`] inside a router that strips its mount
    /// prefix.
    pub fn decide<'p, H: RequestHeaders + ?Sized>(
        &self,
        method: &Method,
        path: impl Into<RequestPath<'p>>,
        headers: &H,
        auth: &Auth,
    ) -> Decision {
        let i = &*self.inner;
        if let Some(routes) = &i.routes {
            match routes.matches(method, path) {
                Err(_) => return self.reject(&Denial::MalformedPath, headers),
                Ok(false) => return Decision::Allow,
                Ok(true) => {}
            }
        }
        if i.answer_preflights
            && method == Method::OPTIONS
            && headers
                .values("access-control-request-method")
                .next()
                .is_some()
        {
            return Decision::Reject(Rejection::preflight());
        }
        match self.judge(auth, None) {
            Judgement::Allow => Decision::Allow,
            Judgement::Deny(d) => self.reject(&d, headers),
            Judgement::NeedsUser => Decision::NeedsUser,
        }
    }

    /// Like [`Protect::decide`], fetching the user's record from `users`
    /// when the requirement needs it.
    pub async fn decide_fetching<'p, H: RequestHeaders + ?Sized>(
        &self,
        method: &Method,
        path: impl Into<RequestPath<'p>>,
        headers: &H,
        auth: &Auth,
        users: &UserDirectory,
    ) -> Decision {
        match self.decide(method, path, headers, auth) {
            Decision::NeedsUser => {}
            d => return d,
        }
        // Only a session's requirement can need the user's record; anything
        // else here is refused, never allowed.
        let Some(session) = auth.session() else {
            return self.reject(&Denial::Forbidden, headers);
        };
        match users.get_user(session.user_id()).await {
            Ok(user) => match self.judge(auth, Some(&user)) {
                Judgement::Allow => Decision::Allow,
                Judgement::Deny(d) => self.reject(&d, headers),
                Judgement::NeedsUser => {
                    self.reject(&Denial::UserLookupFailed(UserError::Unavailable), headers)
                }
            },
            Err(e) => self.reject(&Denial::UserLookupFailed(e), headers),
        }
    }

    /// Why `auth` does not satisfy the requirement (routes not considered;
    /// a requirement on the user's record counts as not met here).
    pub fn denial(&self, auth: &Auth) -> Option<Denial> {
        match self.judge(auth, None) {
            Judgement::Allow => None,
            Judgement::Deny(d) => Some(d),
            Judgement::NeedsUser => Some(Denial::Forbidden),
        }
    }

    fn judge(&self, auth: &Auth, user: Option<&User>) -> Judgement {
        let mismatch = Judgement::Deny(TYPE_MISMATCH);
        let verdict = match auth {
            Auth::SignedOut(reason) => return Judgement::Deny(Denial::SignedOut(*reason)),
            Auth::SignedIn(_) if !self.inner.accepts.allows(TokenType::SessionToken) => {
                return mismatch;
            }
            Auth::Machine(m) if !self.inner.accepts.allows(m.token_type) => return mismatch,
            Auth::SignedIn(session) => self.inner.requirement.check_with_user(session, user),
            Auth::Machine(m) => self.inner.requirement.check_machine(m),
        };
        match verdict {
            Verdict::NeedsUser => Judgement::NeedsUser,
            v => v.into_denial().map_or(Judgement::Allow, Judgement::Deny),
        }
    }

    /// The response for `denial` under this policy.
    pub fn rejection<H: RequestHeaders + ?Sized>(&self, denial: &Denial, headers: &H) -> Rejection {
        let i = &*self.inner;
        if let Some(render) = &i.renderer {
            return render(denial);
        }
        match denial {
            Denial::SignedOut(r) if !r.is_unavailable() => {
                if let Some(location) = &i.sign_in
                    && is_page_request(headers)
                {
                    return Rejection::redirect(location);
                }
                if i.hide {
                    return Rejection::not_found();
                }
            }
            Denial::Forbidden if i.hide => return Rejection::not_found(),
            _ => {}
        }
        let mut rejection = Rejection::default_for(denial);
        if let (Denial::SignedOut(reason), Some(metadata)) = (denial, &i.resource_metadata)
            && !reason.is_unavailable()
            && i.accepts.allows(TokenType::OAuthToken)
        {
            let challenge = format!(
                "Bearer {}resource_metadata=\"{}\"",
                if reason.token_presented() {
                    "error=\"invalid_token\", "
                } else {
                    ""
                },
                metadata.to_str().unwrap_or_default()
            );
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                rejection.headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        rejection
    }

    fn reject<H: RequestHeaders + ?Sized>(&self, denial: &Denial, headers: &H) -> Decision {
        tracing::debug!(reason = denial.reason(), "request refused by protect");
        Decision::Reject(self.rejection(denial, headers))
    }
}

impl fmt::Debug for Protect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protect")
            .field("routes", &self.inner.routes)
            .field("requirement", &self.inner.requirement)
            .field("hide", &self.inner.hide)
            .field("sign_in", &self.inner.sign_in)
            .finish_non_exhaustive()
    }
}

/// True for a browser navigation: `Sec-Fetch-Dest: document`, or an
/// `Accept` header that names `text/html`.
pub fn is_page_request<H: RequestHeaders + ?Sized>(headers: &H) -> bool {
    let has = |name, needle: &str| {
        headers
            .values(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .any(|v| v.contains(needle))
    };
    has("sec-fetch-dest", "document") || has("accept", "text/html")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::Preset;

    fn signed_in(extra: serde_json::Value) -> Auth {
        let mut payload = json!({"sub":"user_1","sid":"sess_1","exp":2_000_000_000});
        payload
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let claims = SessionClaims::from_payload(payload.as_object().unwrap().clone()).unwrap();
        Auth::SignedIn(Arc::new(Session::from_claims(claims)))
    }

    fn reject(d: Decision) -> Rejection {
        match d {
            Decision::Reject(r) => r,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn body(r: &Rejection) -> serde_json::Value {
        serde_json::from_str(&r.body).unwrap()
    }

    const GET: Method = Method::GET;

    #[test]
    fn signed_out_gets_401_with_the_right_challenge() {
        let p = Protect::signed_in();
        let h = HeaderMap::new();
        let r = reject(p.decide(
            &GET,
            "/",
            &h,
            &Auth::SignedOut(SignedOutReason::TokenMissing),
        ));
        assert_eq!(r.status, 401);
        assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            body(&r),
            json!({"error":"unauthenticated","reason":"session-token-missing"})
        );
        let expired = Auth::SignedOut(SignedOutReason::Rejected(ErrorReason::TokenExpired));
        let r = reject(p.decide(&GET, "/", &h, &expired));
        assert_eq!(
            r.headers[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(body(&r)["reason"], "token-expired");
    }

    #[test]
    fn no_key_is_503() {
        let p = Protect::signed_in().hide_as_not_found();
        let out = Auth::SignedOut(SignedOutReason::Rejected(
            ErrorReason::JwkRemoteFailedToLoad,
        ));
        let r = reject(p.decide(&GET, "/", &HeaderMap::new(), &out));
        assert_eq!(r.status, 503);
        assert_eq!(body(&r)["reason"], "jwk-remote-failed-to-load");
    }

    #[test]
    fn forbidden_and_reverification() {
        let p = Protect::new(Requirement::role("admin"));
        let h = HeaderMap::new();
        let r = reject(p.decide(
            &GET,
            "/",
            &h,
            &signed_in(json!({"org_id":"o","org_role":"member"})),
        ));
        assert_eq!(r.status, 403);
        assert_eq!(
            body(&r),
            json!({"error":"forbidden","reason":"requirement-not-met"})
        );
        assert_eq!(
            p.decide(
                &GET,
                "/",
                &h,
                &signed_in(json!({"org_id":"o","org_role":"admin"}))
            ),
            Decision::Allow
        );
        let step_up = Protect::new(Requirement::reverification(Preset::Strict));
        let r = reject(step_up.decide(&GET, "/", &h, &signed_in(json!({"fva":[30,30]}))));
        assert_eq!(r.status, 403);
        assert_eq!(body(&r), Preset::Strict.window().error_body());
    }

    #[test]
    fn routes_limit_protection_and_bad_paths_are_400() {
        let p = Protect::signed_in().routes(RouteMatcher::new(["/dashboard(.*)"]).unwrap());
        let out = Auth::SignedOut(SignedOutReason::TokenMissing);
        let h = HeaderMap::new();
        assert_eq!(p.decide(&GET, "/public", &h, &out), Decision::Allow);
        assert_eq!(reject(p.decide(&GET, "/dashboard/x", &h, &out)).status, 401);
        assert_eq!(reject(p.decide(&GET, "/%zz", &h, &out)).status, 400);
    }

    #[test]
    fn pages_redirect_and_apis_do_not() {
        let p = Protect::signed_in().redirect_pages_to("/sign-in");
        let out = Auth::SignedOut(SignedOutReason::TokenMissing);
        let mut page = HeaderMap::new();
        page.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        let r = reject(p.decide(&GET, "/dashboard", &page, &out));
        assert_eq!(r.status, 307);
        assert_eq!(r.headers[header::LOCATION], "/sign-in");
        let mut nav = HeaderMap::new();
        nav.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        assert_eq!(reject(p.decide(&GET, "/dashboard", &nav, &out)).status, 307);
        let mut api = HeaderMap::new();
        api.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert_eq!(reject(p.decide(&GET, "/dashboard", &api, &out)).status, 401);
    }

    #[test]
    fn hiding_and_rendering() {
        let p = Protect::new(Requirement::role("admin")).hide_as_not_found();
        let h = HeaderMap::new();
        let out = Auth::SignedOut(SignedOutReason::TokenMissing);
        assert_eq!(reject(p.decide(&GET, "/", &h, &out)).status, 404);
        assert_eq!(
            reject(p.decide(&GET, "/", &h, &signed_in(json!({})))).status,
            404
        );
        let custom = Protect::signed_in()
            .render_with(|d| Rejection::json(StatusCode::IM_A_TEAPOT, &json!({"why": d.reason()})));
        let r = reject(custom.decide(&GET, "/", &h, &out));
        assert_eq!(
            (r.status.as_u16(), body(&r)),
            (418, json!({"why":"session-token-missing"}))
        );
    }

    #[test]
    fn preflights_are_judged_unless_the_guard_answers_them() {
        let out = Auth::SignedOut(SignedOutReason::TokenMissing);
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        let p = Protect::signed_in().routes(RouteMatcher::new(["/x"]).unwrap());
        assert_eq!(
            reject(p.decide(&Method::OPTIONS, "/x", &h, &out)).status,
            401,
            "judged by default"
        );
        let answering = p.answer_preflights(true);
        let r = reject(answering.decide(&Method::OPTIONS, "/x", &h, &out));
        assert_eq!((r.status.as_u16(), r.body.as_str()), (204, ""));
        assert!(r.headers.is_empty());
        assert_eq!(
            reject(answering.decide(&Method::OPTIONS, "/x", &HeaderMap::new(), &out)).status,
            401,
            "an OPTIONS that is not a preflight is judged"
        );
        assert_eq!(
            answering.decide(&Method::OPTIONS, "/elsewhere", &h, &out),
            Decision::Allow,
            "unprotected routes are not answered"
        );
        assert_eq!(
            reject(answering.decide(&Method::OPTIONS, "/x%0A", &h, &out)).status,
            400
        );
    }

    #[test]
    fn head_is_judged_as_get_and_nested_paths_protect() {
        let out = Auth::SignedOut(SignedOutReason::TokenMissing);
        let h = HeaderMap::new();
        let p = Protect::signed_in()
            .routes(RouteMatcher::with_methods([("/reports", Some(vec![Method::GET]))]).unwrap());
        assert_eq!(
            reject(p.decide(&Method::HEAD, "/reports", &h, &out)).status,
            401
        );
        assert_eq!(
            p.decide(&Method::POST, "/reports", &h, &out),
            Decision::Allow
        );
        let nested = Protect::signed_in().routes(RouteMatcher::new(["/nested/admin(.*)"]).unwrap());
        let path = RequestPath::nested("/nested/admin", "/admin");
        assert_eq!(reject(nested.decide(&GET, path, &h, &out)).status, 401);
        assert_eq!(nested.decide(&GET, "/admin", &h, &out), Decision::Allow);
    }
}
