//! The outcome of authenticating one request: [`Auth`], with its one flat
//! [`Reason`](crate::Reason) when signed out, and [`PageAnswer`], the
//! answer a layer sends for a page load Clerk's middleware would redirect.
//!
//! A leaf of the crate: it knows the session and machine types it carries,
//! and nothing that produces it.
//!
//! ```
//! use clerk_core::{Auth, Reason, Requirement};
//!
//! let out = Auth::SignedOut(Reason::SessionTokenMissing);
//! assert!(!out.has(&Requirement::signed_in()));
//! assert_eq!(out.reason(), Some(Reason::SessionTokenMissing));
//! ```

use std::sync::Arc;

use http::HeaderMap;

use crate::authorize::Requirement;
use crate::error::Reason;
use crate::machine::MachineAuth;
use crate::session::Session;

/// The outcome of authenticating one request.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A verified session.
    SignedIn(Arc<Session>),
    /// A verified machine token (API key, M2M or OAuth), on a `Clerk` that
    /// accepts them.
    Machine(Arc<MachineAuth>),
    /// No usable session, and why.
    SignedOut(Reason),
    /// A page load Clerk's middleware handles itself: a redirect (a
    /// handshake with the Frontend API, or its development finish) the
    /// layer sends without calling the handler, or a page served with new
    /// cookies (a production finish, a refreshed session: the handler gets
    /// [`PageAnswer::served`]). A guard or extractor that meets it refuses,
    /// as signed out.
    Page(Arc<PageAnswer>),
}

impl Auth {
    /// The session, when signed in.
    pub fn session(&self) -> Option<&Arc<Session>> {
        match self {
            Self::SignedIn(s) => Some(s),
            _ => None,
        }
    }

    /// The machine identity, when a machine token was verified.
    pub fn machine(&self) -> Option<&Arc<MachineAuth>> {
        match self {
            Self::Machine(m) => Some(m),
            _ => None,
        }
    }

    /// True when signed in.
    pub fn is_signed_in(&self) -> bool {
        matches!(self, Self::SignedIn(_))
    }

    /// The user id, when signed in.
    pub fn user_id(&self) -> Option<&str> {
        self.session().map(|s| s.user_id())
    }

    /// Why this request is not signed in (`None` when signed in or a
    /// machine); a redirect reads as the reason a guard meeting it gives.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::SignedOut(r) => Some(*r),
            Self::Page(r) => Some(r.signed_out),
            Self::SignedIn(_) | Self::Machine(_) => None,
        }
    }

    /// Clerk's debug headers for this outcome (`authStatus.ts`
    /// `withDebugHeaders`): `x-clerk-auth-status: signed-out`,
    /// `x-clerk-auth-reason` and, where Clerk sends one,
    /// `x-clerk-auth-message` (its fixed text only, never token content)
    /// when signed out; none when signed in or a machine (as Clerk) and
    /// none for a page answer (it carries its own). The layers add them
    /// unless `debug_headers(false)` is configured.
    #[doc(hidden)] // adapters only
    pub fn debug_headers(&self) -> Option<DebugHeaders> {
        match self {
            Self::SignedOut(reason) => Some(DebugHeaders(*reason)),
            _ => None,
        }
    }

    /// Clerk's `has()`: false when signed out, and false for machine
    /// tokens (check their scopes with [`MachineAuth::has_scope`]).
    pub fn has(&self, requirement: &Requirement) -> bool {
        self.session().is_some_and(|s| requirement.is_met_by(s))
    }

    /// The metric labels of this outcome: what happened, and Clerk's
    /// reason (empty when signed in).
    pub(crate) fn labels(&self) -> (&'static str, &'static str) {
        match self {
            Self::SignedIn(_) => ("signed_in", ""),
            Self::Machine(m) => ("machine", m.token_type.as_str()),
            Self::SignedOut(r) => ("signed_out", r.as_str()),
            Self::Page(r) => ("handshake", r.reason()),
        }
    }
}

/// Clerk's debug headers for a signed-out request (see
/// [`Auth::debug_headers`]): static names and values, no allocation.
#[doc(hidden)] // adapters only
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugHeaders(Reason);

impl DebugHeaders {
    /// The `(name, value)` pairs to set on the response.
    pub fn iter(self) -> impl Iterator<Item = (&'static str, &'static str)> {
        let message = self.0.message();
        [
            ("x-clerk-auth-status", "signed-out"),
            ("x-clerk-auth-reason", self.0.as_str()),
            ("x-clerk-auth-message", message),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
    }
}

/// What a layer does for a page load Clerk's middleware handles itself:
/// either it answers a redirect (a 307 to the Frontend API's handshake, or,
/// on a development instance, back to the page after it), or it serves the
/// page with new cookies (a production instance's handshake finish, a
/// server-side refresh): the handler then gets [`PageAnswer::served`]'s
/// outcome and the layer adds the cookies to its response
/// (`handshake.ts` `resolveHandshake`, `request.ts` `refreshToken`). Its
/// `Debug` shows the reason only (the URL and cookies carry tokens).
#[derive(Clone)]
pub struct PageAnswer {
    reason: &'static str,
    /// How a guard or extractor that meets it reads it.
    signed_out: Reason,
    headers: HeaderMap,
    /// Served, not redirected: what the handler gets.
    serve: Option<Auth>,
}

impl PageAnswer {
    /// A redirect the layer answers itself.
    pub(crate) fn redirect(reason: &'static str, signed_out: Reason, headers: HeaderMap) -> Self {
        Self {
            reason,
            signed_out,
            headers,
            serve: None,
        }
    }

    /// The page served as `auth`, with `headers` added to its response.
    pub(crate) fn serve(reason: &'static str, auth: Auth, headers: HeaderMap) -> Self {
        Self {
            reason,
            signed_out: auth.reason().unwrap_or(Reason::SessionTokenMissing),
            headers,
            serve: Some(auth),
        }
    }

    /// Why: a [`Reason`] string when a handshake starts;
    /// `handshake-complete` (signed in) or another reason when one
    /// finishes; `session-token-refreshed` after a refresh.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// What a guard or extractor answers if it meets this answer (a
    /// layer handles it first): signed out, with this reason.
    pub(crate) fn signed_out_reason(&self) -> Reason {
        self.signed_out
    }

    /// The outcome the handler gets when the page is served (a
    /// production handshake finish, a refresh); `None` for a redirect,
    /// which [`PageAnswer::to_response`] answers.
    pub fn served(&self) -> Option<&Auth> {
        self.serve.as_ref()
    }

    /// The headers a layer appends to a served page's response (its
    /// `Set-Cookie`s and `Cache-Control: no-store`), or a redirect's
    /// (`Location` too, and the `x-clerk-auth-*` debug headers).
    #[doc(hidden)] // adapters only
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The redirect's response: 307, `Location`, `Cache-Control:
    /// no-store`, `Set-Cookie`s and the `x-clerk-auth-*` debug headers;
    /// empty body. (For a served page the layer calls the handler instead.)
    pub fn to_response<B: Default>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::default());
        *response.status_mut() = http::StatusCode::TEMPORARY_REDIRECT;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

impl std::fmt::Debug for PageAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageAnswer")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x-clerk-auth-message` where Clerk sends one, with its fixed text
    /// only: no reason's message holds a date, a `kid`, an `azp` or a URL
    /// (nothing taken from a token), and every value is a valid header.
    #[test]
    fn debug_headers_carry_clerks_fixed_message_only() {
        let pairs = |r: Reason| {
            Auth::SignedOut(r)
                .debug_headers()
                .unwrap()
                .iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pairs(Reason::TokenExpired),
            [
                ("x-clerk-auth-status", "signed-out"),
                ("x-clerk-auth-reason", "token-expired"),
                ("x-clerk-auth-message", "JWT is expired."),
            ]
        );
        assert_eq!(
            pairs(Reason::SessionTokenMissing).len(),
            2,
            "Clerk sends none"
        );
        assert_eq!(pairs(Reason::ActiveOrganizationMismatch).len(), 2);
        for r in Reason::ALL {
            let m = r.message();
            assert!(http::HeaderValue::from_str(m).is_ok(), "{r:?}");
            assert!(
                !m.contains("='") && !m.contains("http") && !m.contains("date:"),
                "{m}"
            );
        }
        assert!(
            Auth::SignedIn(Arc::new(
                crate::Session::from_payload(
                    serde_json::from_str(r#"{"sub":"user_1","exp":1}"#).unwrap()
                )
                .unwrap()
            ))
            .debug_headers()
            .is_none()
        );
    }

    #[test]
    fn signed_out_reasons() {
        let missing = Reason::SessionTokenMissing;
        assert_eq!(missing.as_str(), "session-token-missing");
        assert!(!missing.token_presented());
        assert!(!Reason::SessionTokenAndUatMissing.token_presented());
        let r = Reason::JwkRemoteFailedToLoad;
        assert!(r.is_unavailable() && r.token_presented());
        assert!(!Reason::TokenExpired.is_unavailable());
        let out = Auth::SignedOut(missing);
        assert!(!out.has(&Requirement::signed_in()));
        assert!(!out.has(&Requirement::role("admin").not()));
        assert_eq!((out.user_id(), out.reason()), (None, Some(missing)));
        assert_eq!(out.labels(), ("signed_out", "session-token-missing"));
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
        }
    }
}
