//! Route protection: which routes, which [`Requirement`], and what to answer
//! when it is not met. Every adapter asks [`Protect::decide`] and only
//! translates its answer (a [`Pass`] or the [`Refusal`]) into its
//! framework's response.
//!
//! Default answers (for APIs): 401 when signed out, with
//! `WWW-Authenticate: Bearer` (plus `error="invalid_token"` when a token was
//! sent and refused); 403 when signed in but not allowed; 403 with Clerk's
//! reverification body when only a step-up is missing; 503 when no
//! verification key can be had or the user's record cannot be fetched
//! (with `Retry-After` when the Backend API rate-limits), 401
//! `user-not-found` when Clerk no longer knows the user; 400 for a path or
//! method that cannot be read. Options: hide protected routes as 404,
//! redirect signed-out page requests to a sign-in URL, or render responses
//! yourself.
//!
//! **Fail closed.** A protection with [routes](Protect::routes) judges every
//! reading of the path the framework might route by, and answers 400 for a
//! path it cannot read with confidence (see
//! [how the guard reads paths](RouteMatcher#how-the-guard-reads-paths)).
//! `HEAD` is judged as `GET`.
//!
//! **The user's record.** A requirement on the user's Backend API record
//! ([`Requirement::user`], [`Requirement::mfa_enrolled`]) is known when the
//! protection is built: its [`Decision`] then fetches the record (cached)
//! through the session it judges. Every other decision is ready at once.
//!
//! **CORS.** Preflight requests (`OPTIONS` with
//! `Access-Control-Request-Method`) are judged like any other request: put
//! your CORS layer (tower-http's `CorsLayer`, actix-cors) *outside* the
//! Clerk layers, so it answers preflights before they reach them. With
//! [`Protect::answer_preflights`] the guard answers a preflight to a
//! protected route itself (204, empty) and never calls the handler.
//!
//! ```
//! use clerk_core::protect::{Pass, Protect, RouteMatcher};
//! use clerk_core::{Auth, Reason, Requirement};
//! use http::HeaderMap;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let protect = Protect::new(Requirement::signed_in())
//!     .routes(RouteMatcher::new(["/dashboard(.*)"])?);
//! let signed_out = Auth::SignedOut(Reason::SessionTokenMissing);
//! let headers = HeaderMap::new();
//! let refusal = protect.decide("GET", "/dashboard", &headers, &signed_out).await.unwrap_err();
//! assert_eq!(refusal.status(), 401);
//! assert_eq!(refusal.reason(), "session-token-missing");
//! // Unprotected: the handler runs (`Pass::Preflight` is the other pass:
//! // send its 204 instead of the handler's answer).
//! assert!(matches!(
//!     protect.decide("GET", "/", &headers, &signed_out).await,
//!     Ok(Pass::Handler)
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod refusal;
pub(crate) mod routes;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Method;
use http::header::{self, HeaderValue};

use crate::auth::Auth;
use crate::authorize::{Requirement, Verdict};
use crate::error::Reason;
use crate::machine::{AcceptsToken, MachineAuth, TokenType};
use crate::request::RequestHead;
use crate::session::Session;
pub use refusal::Refusal;
use refusal::{Cause, Lookup};
pub use routes::{MalformedPath, RequestPath, RouteError, RouteMatcher};

impl Verdict {
    /// The refusal this verdict means (`None` when allowed). A verdict that
    /// still needs the user's record counts as a refusal here.
    fn into_refusal(self) -> Option<Cause> {
        match self {
            Self::Allowed => None,
            Self::Denied | Self::NeedsUser => Some(Cause::Forbidden),
            Self::NeedsReverification(w) => Some(Cause::Reverification(w)),
        }
    }
}

impl Auth {
    /// The session, or why this request is not a signed-in user (signed
    /// out, or a machine token: `token-type-mismatch`).
    ///
    /// # Errors
    /// The [`Refusal`] to answer with.
    pub fn require_session(&self) -> Result<&Arc<Session>, Refusal> {
        match self {
            Self::SignedIn(s) => Ok(s),
            Self::Machine(_) => Err(Refusal::new(TYPE_MISMATCH)),
            Self::SignedOut(r) => Err(Refusal::signed_out(*r)),
            Self::Page(h) => Err(Refusal::signed_out(h.signed_out_reason())),
        }
    }

    /// The machine identity, or why this request is not one (signed out,
    /// or a session token: `token-type-mismatch`).
    ///
    /// # Errors
    /// The [`Refusal`] to answer with.
    pub fn require_machine(&self) -> Result<&Arc<MachineAuth>, Refusal> {
        match self {
            Self::Machine(m) => Ok(m),
            Self::SignedIn(_) => Err(Refusal::new(TYPE_MISMATCH)),
            Self::SignedOut(r) => Err(Refusal::signed_out(*r)),
            Self::Page(h) => Err(Refusal::signed_out(h.signed_out_reason())),
        }
    }

    /// The session, when it satisfies `requirement`, fetching the user's
    /// record (cached) only when the requirement needs it: what the typed
    /// guard extractors (`Require<P>`) of every adapter do.
    ///
    /// # Errors
    /// The [`Refusal`] to answer with (default responses).
    pub async fn require(&self, requirement: &Requirement) -> Result<&Arc<Session>, Refusal> {
        let session = self.require_session()?;
        requirement
            .evaluate(session)
            .await
            .map_err(|e| Refusal::user_lookup(&e))?
            .into_refusal()
            .map_or(Ok(session), |c| Err(Refusal::new(c)))
    }
}

impl Auth {
    /// Your custom session claims (e.g. from a session-token template),
    /// deserialized from the verified token: what the `Claims<T>`
    /// extractors answer.
    ///
    /// # Errors
    /// The session's refusal when there is none; 403
    /// (`requirement-not-met`) when the claims do not fit `T`.
    pub fn claims_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, Refusal> {
        self.require_session()?
            .claims_as::<T>()
            .map_err(|_| Refusal::forbidden())
    }
}

const TYPE_MISMATCH: Cause = Cause::SignedOut(Reason::TokenTypeMismatch);

/// Rewrites refusals your way (see [`Protect::render_with`]).
type Renderer = Arc<dyn Fn(&mut Refusal) + Send + Sync>;

/// The decision for one request ([`Protect::decide`]): a future of what
/// the guard lets through ([`Pass`]: the handler, or a CORS preflight it
/// answers itself) or the [`Refusal`] to answer with. Ready at its first
/// poll, with no allocation, unless the requirement needs the user's
/// Backend API record; only then is the work boxed.
#[must_use = "futures do nothing unless polled"]
pub struct Decision {
    state: DecisionState,
}

/// What a guard lets through: the `Ok` of a [`Decision`].
#[derive(Debug)]
#[must_use = "a Pass::Preflight is answered with its response, never passed to the handler"]
pub enum Pass {
    /// Call the handler.
    Handler,
    /// A CORS preflight to a protected route, answered by the guard itself
    /// ([`Protect::answer_preflights`]): send this response (204, no
    /// body), not the handler's. It is no refusal: no renderer sees it.
    Preflight(http::Response<String>),
}

enum DecisionState {
    Ready(Option<Result<Pass, Refusal>>),
    Fetching(Pin<Box<dyn Future<Output = Result<Pass, Refusal>> + Send>>),
}

impl Decision {
    /// A decision made already: `Err` for a refusal found before any
    /// protection could judge (an adapter's [`Refusal::layer_missing`]).
    #[doc(hidden)] // adapters only
    pub fn ready(result: Result<Pass, Refusal>) -> Self {
        Self {
            state: DecisionState::Ready(Some(result)),
        }
    }
}

impl Future for Decision {
    type Output = Result<Pass, Refusal>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            // Polled again after completion: refused, never a panic.
            DecisionState::Ready(result) => Poll::Ready(
                result
                    .take()
                    .unwrap_or_else(|| Err(Refusal::new(Cause::Forbidden))),
            ),
            DecisionState::Fetching(fut) => {
                let result = std::task::ready!(fut.as_mut().poll(cx));
                // The boxed work is done: drop it, so a further poll is
                // refused instead of resuming a finished future.
                self.state = DecisionState::Ready(None);
                Poll::Ready(result)
            }
        }
    }
}

impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            DecisionState::Ready(r) => f.debug_tuple("Decision").field(r).finish(),
            DecisionState::Fetching(_) => f.write_str("Decision(fetching the user)"),
        }
    }
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
    needs_user: bool,
    hide: bool,
    sign_in: Option<HeaderValue>,
    /// Signed in but refused, on a page: Clerk's `unauthorizedUrl`.
    unauthorized: Option<HeaderValue>,
    /// A pending session (a task to finish), on a page.
    pending: Option<HeaderValue>,
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
                needs_user: requirement.needs_user(),
                requirement,
                hide: false,
                sign_in: None,
                unauthorized: None,
                pending: None,
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

    /// Answers 404 instead of 401/403 to whoever may not use the route,
    /// hiding that it exists. A signed-in user who only needs to verify
    /// again still gets the reverification answer, and an outage its 503
    /// (a 404 there would tell a user with access the route is gone).
    #[must_use]
    pub fn hide_as_not_found(self) -> Self {
        self.edit(|i| i.hide = true)
    }

    /// Redirects signed-out page requests (`Sec-Fetch-Dest: document`, or an
    /// `Accept` with `text/html`) to `sign_in_url` with 307, adding the
    /// page's `redirect_url`: Clerk's `redirectToSignIn`, its
    /// `redirectToSignUp` with a sign-up URL, and its `unauthenticatedUrl`
    /// (which Clerk sends without `redirect_url`). API requests still get
    /// 401. An URL that is not a valid header value is ignored.
    #[must_use]
    pub fn redirect_pages_to(self, sign_in_url: &str) -> Self {
        let value = HeaderValue::from_str(sign_in_url).ok();
        self.edit(|i| i.sign_in = value)
    }

    /// Redirects signed-in page requests the requirement refuses to `url`
    /// with 307 (Clerk's `unauthorizedUrl`); API requests still get 403,
    /// and a step-up still gets its reverification answer. An URL that is
    /// not a valid header value is ignored.
    #[must_use]
    pub fn redirect_unauthorized_to(self, url: &str) -> Self {
        let value = HeaderValue::from_str(url).ok();
        self.edit(|i| i.unauthorized = value)
    }

    /// Redirects page requests of a pending session (signed in, with a
    /// session task such as `choose-organization`, `reset-password` or
    /// `setup-mfa` to finish) to the application's task page `url` with
    /// 307 and the page's `redirect_url`; without it they are sent to sign
    /// in, as Clerk's `protect()` does. API requests stay signed out
    /// (`session-pending`, 401). The session token says a session is
    /// pending, not which task: the task page (Clerk's components) picks
    /// it. Only for a `Clerk` that refuses pending sessions (the default).
    #[must_use]
    pub fn redirect_pending_to(self, url: &str) -> Self {
        let value = HeaderValue::from_str(url).ok();
        self.edit(|i| i.pending = value)
    }

    /// Rewrites every refusal with `renderer` after the defaults (and
    /// hiding or redirecting) made it: change its status, headers or body,
    /// e.g. to render an HTML page. [`Refusal::reason`] says why. The 204
    /// of an answered CORS preflight is not a refusal and is not rendered.
    #[must_use]
    pub fn render_with(self, renderer: impl Fn(&mut Refusal) + Send + Sync + 'static) -> Self {
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

    /// For routes accepting OAuth tokens (an MCP server): 401 challenges
    /// point at the resource's own metadata (RFC 9728, the MCP
    /// authorization spec), `Bearer error="invalid_token",
    /// resource_metadata="https://app.example.com/.well-known/oauth-protected-resource/mcp"`,
    /// and a 403 for a missing scope says `error="insufficient_scope"` with
    /// the scopes the requirement names.
    #[must_use]
    pub fn oauth_resource(self, resource: &crate::machine::ProtectedResource) -> Self {
        let value = HeaderValue::from_str(resource.metadata_url()).ok();
        self.edit(|i| i.resource_metadata = value)
    }

    /// Decides for one request: `method` as sent (compared without regard
    /// to case; `HEAD` is judged as `GET`), `path` the raw request path (no
    /// query) or a [`RequestPath::nested`] inside a router that strips its
    /// mount prefix, and the request's [`Auth`].
    pub fn decide<'p, H: RequestHead + ?Sized>(
        &self,
        method: &str,
        path: impl Into<RequestPath<'p>>,
        headers: &H,
        auth: &Auth,
    ) -> Decision {
        let i = &*self.inner;
        let path: RequestPath<'p> = path.into();
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return self.refuse(Cause::MalformedMethod, headers, &path);
        };
        if let Some(routes) = &i.routes {
            match routes.matches(&method, path) {
                Err(_) => return self.refuse(Cause::MalformedPath, headers, &path),
                Ok(false) => return Decision::ready(Ok(Pass::Handler)),
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
            let mut answer = http::Response::new(String::new());
            *answer.status_mut() = http::StatusCode::NO_CONTENT;
            return Decision::ready(Ok(Pass::Preflight(answer)));
        }
        let verdict = match self.judge(auth) {
            Ok(verdict) => verdict,
            Err(cause) => return self.refuse(cause, headers, &path),
        };
        match (verdict, auth) {
            (Verdict::NeedsUser, Auth::SignedIn(session)) if i.needs_user => {
                // The requirement reads the user's record: the one
                // evaluator fetches it (cached), on a boxed slow path.
                let page = is_page_request(headers);
                let protect = self.clone();
                let session = session.clone();
                let fetch = async move {
                    let cause = match protect.inner.requirement.evaluate(&session).await {
                        Ok(verdict) => verdict.into_refusal(),
                        Err(e) => Some(Cause::UserLookup(Lookup::of(&e))),
                    };
                    cause.map_or(Ok(Pass::Handler), |c| Err(protect.refusal(c, page, None)))
                };
                Decision {
                    state: DecisionState::Fetching(Box::pin(fetch)),
                }
            }
            (verdict, _) => match verdict.into_refusal() {
                None => Decision::ready(Ok(Pass::Handler)),
                Some(c) => {
                    let step_up = self.step_up(c, auth);
                    self.refuse_with(c, headers, &path, step_up.as_deref())
                }
            },
        }
    }

    /// The verdict for `auth`, or the cause that refuses it before any
    /// requirement is read (signed out, a token kind these routes refuse).
    fn judge(&self, auth: &Auth) -> Result<Verdict, Cause> {
        let accepts = &self.inner.accepts;
        match auth {
            Auth::SignedOut(reason) => Err(Cause::SignedOut(*reason)),
            Auth::Page(h) => Err(Cause::SignedOut(h.signed_out_reason())),
            Auth::SignedIn(_) if !accepts.allows(TokenType::SessionToken) => Err(TYPE_MISMATCH),
            Auth::Machine(m) if !accepts.allows(m.token_type) => Err(TYPE_MISMATCH),
            Auth::SignedIn(session) => Ok(self.inner.requirement.check(session)),
            Auth::Machine(m) => Ok(self.inner.requirement.check_machine(m)),
        }
    }

    fn refuse<H: RequestHead + ?Sized>(
        &self,
        cause: Cause,
        headers: &H,
        path: &RequestPath<'_>,
    ) -> Decision {
        self.refuse_with(cause, headers, path, None)
    }

    /// The scopes (space-separated) an OAuth token refused here would need
    /// to pass, for an `insufficient_scope` challenge: only when the route
    /// names its metadata, the token is an OAuth access token, and granting
    /// the requirement's scopes would let it through (a requirement it
    /// cannot meet by scopes gets a plain 403, so a client is never sent
    /// round for scopes that would not help).
    fn step_up(&self, cause: Cause, auth: &Auth) -> Option<String> {
        let i = &*self.inner;
        let Auth::Machine(m) = auth else {
            return None;
        };
        if cause != Cause::Forbidden
            || m.token_type != TokenType::OAuthToken
            || i.resource_metadata.is_none()
        {
            return None;
        }
        let mut scopes = Vec::new();
        i.requirement.scopes(&mut scopes);
        // RFC 6750's `scope-token` characters only: nothing that could
        // end the quoted value.
        scopes.retain(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        });
        let missing: Vec<&str> = scopes.into_iter().filter(|s| !m.has_scope(s)).collect();
        let mut granted = (**m).clone();
        granted
            .scopes
            .extend(missing.iter().map(|s| (*s).to_owned()));
        let helps = !missing.is_empty()
            && i.requirement
                .check_machine(&granted)
                .into_refusal()
                .is_none();
        helps.then(|| missing.join(" "))
    }

    fn refuse_with<H: RequestHead + ?Sized>(
        &self,
        cause: Cause,
        headers: &H,
        path: &RequestPath<'_>,
        step_up: Option<&str>,
    ) -> Decision {
        let page = is_page_request(headers);
        let mut refusal = self.refusal(cause, page, step_up);
        // A sign-in (or task) redirect names the page to come back to
        // (Clerk's `redirect_url`, the page's absolute URL).
        if page
            && matches!(cause, Cause::SignedOut(_))
            && refusal.status() == http::StatusCode::TEMPORARY_REDIRECT
            && let Some(mut back) = crate::browser::page_url(&path.target(), headers)
            && let Some(location) = refusal.response().headers().get(header::LOCATION)
            && let Ok(location) = location.to_str()
        {
            crate::browser::remove_query(&mut back, &crate::browser::HANDSHAKE_PARAMS);
            let sep = if location.contains('?') { '&' } else { '?' };
            let with_back: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("redirect_url", back.as_str())
                .finish();
            if let Ok(v) = HeaderValue::from_str(&format!("{location}{sep}{with_back}")) {
                refusal
                    .response_mut()
                    .headers_mut()
                    .insert(header::LOCATION, v);
            }
        }
        Decision::ready(Err(refusal))
    }

    /// The response for `cause` under this policy; `page` when the request
    /// is a browser navigation; `step_up` the scopes an OAuth token lacks.
    fn refusal(&self, cause: Cause, page: bool, step_up: Option<&str>) -> Refusal {
        let i = &*self.inner;
        let mut refusal = Refusal::new(cause);
        tracing::debug!(reason = cause.reason(), "request refused by protect");
        match cause {
            Cause::SignedOut(Reason::SessionPending) if page && i.pending.is_some() => {
                if let Some(location) = &i.pending {
                    refusal = refusal.redirect(location);
                }
            }
            Cause::SignedOut(r) if !r.is_unavailable() => {
                if let (Some(location), true) = (&i.sign_in, page) {
                    refusal = refusal.redirect(location);
                } else if i.hide {
                    refusal = refusal.not_found();
                } else if let Some(metadata) = &i.resource_metadata
                    && i.accepts.allows(TokenType::OAuthToken)
                {
                    let challenge = format!(
                        "Bearer {}resource_metadata=\"{}\"",
                        if r.token_presented() {
                            "error=\"invalid_token\", "
                        } else {
                            ""
                        },
                        metadata.to_str().unwrap_or_default()
                    );
                    challenge_with(&mut refusal, &challenge);
                }
            }
            // RFC 6750 §3.1 and the MCP spec's scope step-up: the scopes
            // the token lacks, when they are all it lacks.
            Cause::Forbidden if !i.hide && step_up.is_some() => {
                if let (Some(metadata), Some(scope)) = (&i.resource_metadata, step_up) {
                    let challenge = format!(
                        "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\"",
                        metadata.to_str().unwrap_or_default()
                    );
                    challenge_with(&mut refusal, &challenge);
                }
            }
            Cause::Forbidden if page && i.unauthorized.is_some() => {
                if let Some(location) = &i.unauthorized {
                    refusal = refusal.redirect(location);
                }
            }
            // A user Clerk no longer knows is signed out in effect.
            Cause::Forbidden | Cause::UserLookup(Lookup::NotFound) if i.hide => {
                refusal = refusal.not_found();
            }
            _ => {}
        }
        if let Some(render) = &i.renderer {
            render(&mut refusal);
        }
        refusal
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

/// Sets the refusal's `WWW-Authenticate` to `challenge` (left as it is when
/// that is no header value).
fn challenge_with(refusal: &mut Refusal, challenge: &str) {
    if let Ok(v) = HeaderValue::from_str(challenge) {
        refusal
            .response_mut()
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, v);
    }
}

/// True for a browser navigation: `Sec-Fetch-Dest: document`, or an
/// `Accept` header that names `text/html`.
fn is_page_request<H: RequestHead + ?Sized>(headers: &H) -> bool {
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
    use http::StatusCode;
    use http::header::HeaderMap;
    use serde_json::json;

    fn signed_in(extra: serde_json::Value) -> Auth {
        let mut payload = json!({"sub":"user_1","sid":"sess_1","exp":2_000_000_000});
        payload
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let claims = Session::from_payload(payload.as_object().unwrap().clone()).unwrap();
        Auth::SignedIn(Arc::new(claims))
    }

    /// The decision of a protection that needs no user record: ready at
    /// its first poll.
    fn now(mut d: Decision) -> Result<Pass, Refusal> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(&mut d).poll(&mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => panic!("a decision without a user lookup is ready at once"),
        }
    }

    fn reject(d: Decision) -> Refusal {
        now(d).expect_err("expected a refusal")
    }

    fn allowed(d: Decision) -> bool {
        matches!(now(d), Ok(Pass::Handler))
    }

    fn preflight(d: Decision) -> http::Response<String> {
        match now(d) {
            Ok(Pass::Preflight(answer)) => answer,
            other => panic!("expected a preflight's answer: {other:?}"),
        }
    }

    fn body(r: &Refusal) -> serde_json::Value {
        serde_json::from_str(r.response().body()).unwrap()
    }

    const GET: &str = "GET";

    #[test]
    fn signed_out_gets_401_with_the_right_challenge() {
        let p = Protect::signed_in();
        let h = HeaderMap::new();
        let r = reject(p.decide(GET, "/", &h, &Auth::SignedOut(Reason::SessionTokenMissing)));
        assert_eq!(r.status(), 401);
        assert_eq!(r.response().headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            body(&r),
            json!({"error":"unauthenticated","reason":"session-token-missing"})
        );
        let expired = Auth::SignedOut(Reason::TokenExpired);
        let r = reject(p.decide(GET, "/", &h, &expired));
        assert_eq!(
            r.response().headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(body(&r)["reason"], "token-expired");
    }

    #[test]
    fn no_key_is_503() {
        let p = Protect::signed_in().hide_as_not_found();
        let out = Auth::SignedOut(Reason::JwkRemoteFailedToLoad);
        let r = reject(p.decide(GET, "/", &HeaderMap::new(), &out));
        assert_eq!(r.status(), 503);
        assert_eq!(body(&r)["reason"], "jwk-remote-failed-to-load");
    }

    #[test]
    fn forbidden_and_reverification() {
        let p = Protect::new(Requirement::role("admin"));
        let h = HeaderMap::new();
        let r = reject(p.decide(
            GET,
            "/",
            &h,
            &signed_in(json!({"org_id":"o","org_role":"member"})),
        ));
        assert_eq!(r.status(), 403);
        assert_eq!(
            body(&r),
            json!({"error":"forbidden","reason":"requirement-not-met"})
        );
        assert!(allowed(p.decide(
            GET,
            "/",
            &h,
            &signed_in(json!({"org_id":"o","org_role":"admin"}))
        )));
        let step_up = Protect::new(Requirement::reverification(Preset::Strict));
        let r = reject(step_up.decide(GET, "/", &h, &signed_in(json!({"fva":[30,30]}))));
        assert_eq!(r.status(), 403);
        assert_eq!(body(&r), Preset::Strict.window().error_body());
    }

    #[test]
    fn routes_limit_protection_and_bad_paths_are_400() {
        let p = Protect::signed_in().routes(RouteMatcher::new(["/dashboard(.*)"]).unwrap());
        let out = Auth::SignedOut(Reason::SessionTokenMissing);
        let h = HeaderMap::new();
        assert!(allowed(p.decide(GET, "/public", &h, &out)));
        assert_eq!(
            reject(p.decide(GET, "/dashboard/x", &h, &out)).status(),
            401
        );
        assert_eq!(reject(p.decide(GET, "/%zz", &h, &out)).status(), 400);
    }

    #[test]
    fn pages_redirect_and_apis_do_not() {
        let p = Protect::signed_in().redirect_pages_to("/sign-in");
        let out = Auth::SignedOut(Reason::SessionTokenMissing);
        let mut page = HeaderMap::new();
        page.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        let r = reject(p.decide(GET, "/dashboard", &page, &out));
        assert_eq!(r.status(), 307);
        assert_eq!(r.response().headers()[header::LOCATION], "/sign-in");
        let mut nav = HeaderMap::new();
        nav.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        assert_eq!(
            reject(p.decide(GET, "/dashboard", &nav, &out)).status(),
            307
        );
        let mut api = HeaderMap::new();
        api.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert_eq!(
            reject(p.decide(GET, "/dashboard", &api, &out)).status(),
            401
        );
    }

    /// Clerk's other `protect()` targets: a refused signed-in page goes to
    /// `unauthorizedUrl` (no `redirect_url`), a pending session's page to
    /// the task page (with it); API requests keep 403 / 401, a step-up its
    /// reverification answer, and without a task page a pending session
    /// is sent to sign in, as Clerk.
    #[test]
    fn unauthorized_and_pending_pages_have_their_own_targets() {
        let p = Protect::new(Requirement::role("org:admin"))
            .redirect_pages_to("/sign-in")
            .redirect_unauthorized_to("/no-access")
            .redirect_pending_to("/tasks");
        let mut page = HeaderMap::new();
        page.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        page.insert("host", HeaderValue::from_static("app.example.com"));
        let api = HeaderMap::new();
        let member = signed_in(json!({"o": {"id": "org_1", "rol": "member"}, "v": 2}));
        let r = reject(p.decide(GET, "/admin", &page, &member));
        assert_eq!(r.status(), 307);
        assert_eq!(r.response().headers()[header::LOCATION], "/no-access");
        assert_eq!(reject(p.decide(GET, "/admin", &api, &member)).status(), 403);
        let pending = Auth::SignedOut(Reason::SessionPending);
        let r = reject(p.decide(GET, "/admin", &page, &pending));
        assert_eq!(
            r.response().headers()[header::LOCATION],
            "/tasks?redirect_url=https%3A%2F%2Fapp.example.com%2Fadmin"
        );
        assert_eq!(
            reject(p.decide(GET, "/admin", &api, &pending)).status(),
            401
        );
        let plain = Protect::signed_in().redirect_pages_to("/sign-in");
        let r = reject(plain.decide(GET, "/admin", &page, &pending));
        assert!(
            r.response().headers()[header::LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/sign-in?redirect_url=")
        );
        // A step-up is not a refusal of the user: still reverification.
        let stale = signed_in(json!({"fva": [9999, 9999]}));
        let strict = Protect::new(Requirement::reverification(
            crate::authorize::Preset::Strict,
        ))
        .redirect_unauthorized_to("/no-access");
        assert_eq!(
            reject(strict.decide(GET, "/x", &page, &stale)).status(),
            403
        );
    }

    /// A signed-out page is sent to sign in with `redirect_url`, the
    /// page's absolute URL and query, so the visitor comes back to it.
    #[test]
    fn sign_in_redirects_name_the_page_to_come_back_to() {
        let p = Protect::signed_in().redirect_pages_to("/sign-in");
        let out = Auth::SignedOut(Reason::SessionTokenMissing);
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        h.insert("host", HeaderValue::from_static("app.example.com"));
        let path = RequestPath::from("/dashboard/a b").with_query(Some("tab=1&x=%2F"));
        let r = reject(p.decide(GET, path, &h, &out));
        assert_eq!(
            r.response().headers()[header::LOCATION],
            "/sign-in?redirect_url=https%3A%2F%2Fapp.example.com%2Fdashboard%2Fa%2520b%3Ftab%3D1%26x%3D%252F"
        );
        let with_query =
            Protect::signed_in().redirect_pages_to("https://accounts.example.com/sign-in?x=1");
        let r = reject(with_query.decide(GET, "/d", &h, &out));
        assert_eq!(
            r.response().headers()[header::LOCATION],
            "https://accounts.example.com/sign-in?x=1&redirect_url=https%3A%2F%2Fapp.example.com%2Fd"
        );
        // No host to build the URL from: the bare sign-in URL.
        h.remove("host");
        let r = reject(p.decide(GET, "/d", &h, &out));
        assert_eq!(r.response().headers()[header::LOCATION], "/sign-in");
    }

    #[test]
    fn hiding_and_rendering() {
        let p = Protect::new(Requirement::role("admin")).hide_as_not_found();
        let h = HeaderMap::new();
        let out = Auth::SignedOut(Reason::SessionTokenMissing);
        assert_eq!(reject(p.decide(GET, "/", &h, &out)).status(), 404);
        assert_eq!(
            reject(p.decide(GET, "/", &h, &signed_in(json!({})))).status(),
            404
        );
        // The user's record decides: a user Clerk no longer knows is
        // hidden too; an outage is not (a 404 would tell a user with access
        // the route is gone), and a rate limit says when to come back.
        let gone = p.refusal(Cause::UserLookup(Lookup::NotFound), false, None);
        assert_eq!(gone.status(), 404);
        let limited = p.refusal(Cause::UserLookup(Lookup::RateLimited(7)), false, None);
        assert_eq!(
            (
                limited.status().as_u16(),
                &limited.response().headers()[header::RETRY_AFTER]
            ),
            (503, &HeaderValue::from_static("7"))
        );
        let visible =
            Protect::signed_in().refusal(Cause::UserLookup(Lookup::NotFound), false, None);
        assert_eq!(visible.status(), 401);
        assert_eq!(visible.reason(), "user-not-found");
        let custom = Protect::signed_in().render_with(|r| {
            let why = json!({"why": r.reason()}).to_string();
            *r.response_mut().status_mut() = StatusCode::IM_A_TEAPOT;
            *r.response_mut().body_mut() = why;
        });
        let r = reject(custom.decide(GET, "/", &h, &out));
        assert_eq!(
            (r.status().as_u16(), body(&r)),
            (418, json!({"why":"session-token-missing"}))
        );
    }

    #[test]
    fn preflights_are_judged_unless_the_guard_answers_them() {
        let out = Auth::SignedOut(Reason::SessionTokenMissing);
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        let p = Protect::signed_in().routes(RouteMatcher::new(["/x"]).unwrap());
        assert_eq!(
            reject(p.decide("OPTIONS", "/x", &h, &out)).status(),
            401,
            "judged by default"
        );
        let answering = p.answer_preflights(true);
        let r = preflight(answering.decide("OPTIONS", "/x", &h, &out));
        assert_eq!((r.status().as_u16(), r.body().as_str()), (204, ""));
        assert!(r.headers().is_empty());
        assert_eq!(
            reject(answering.decide("OPTIONS", "/x", &HeaderMap::new(), &out)).status(),
            401,
            "an OPTIONS that is not a preflight is judged"
        );
        let rendering = answering.clone().render_with(|r| {
            *r.response_mut().status_mut() = StatusCode::UNAUTHORIZED;
        });
        assert_eq!(
            preflight(rendering.decide("OPTIONS", "/x", &h, &out)).status(),
            204,
            "a renderer never turns an answered preflight into a refusal"
        );
        assert!(
            allowed(answering.decide("OPTIONS", "/elsewhere", &h, &out)),
            "unprotected routes are not answered"
        );
        assert_eq!(
            reject(answering.decide("OPTIONS", "/x%0A", &h, &out)).status(),
            400
        );
    }

    #[test]
    fn head_is_judged_as_get_and_nested_paths_protect() {
        let out = Auth::SignedOut(Reason::SessionTokenMissing);
        let h = HeaderMap::new();
        let p = Protect::signed_in()
            .routes(RouteMatcher::with_methods([("/reports", Some(vec![Method::GET]))]).unwrap());
        assert_eq!(reject(p.decide("HEAD", "/reports", &h, &out)).status(), 401);
        assert!(allowed(p.decide("POST", "/reports", &h, &out)));
        let nested = Protect::signed_in().routes(RouteMatcher::new(["/nested/admin(.*)"]).unwrap());
        let path = RequestPath::nested("/nested/admin", "/admin");
        assert_eq!(reject(nested.decide(GET, path, &h, &out)).status(), 401);
        assert!(allowed(nested.decide(GET, "/admin", &h, &out)));
    }
}
