//! The future of one authentication, and the waiting some requests need:
//! awaited once, in one boxed future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::Clerk;
use super::steps::{AuthStep, PageWait, PendingAuth, PendingPage, session_auth};
use crate::api::budget::Client;
use crate::auth::Auth;
use crate::browser::{Refresh, RefreshMode};
use crate::error::{Reason, VerifyError};
use crate::machine::{TokenType, is_opaque_machine_token};

/// The authentication of one request: a future of its [`Auth`], owned (it
/// borrows neither the `Clerk` nor the headers). It is ready at its first
/// poll, with no allocation, when the token is cached or verifiable with
/// the keys at hand; only a key fetch or a Backend API call boxes the work.
/// Its `Debug` never shows the token.
#[must_use = "futures do nothing unless polled"]
pub struct Authenticate {
    state: AuthState,
}

enum AuthState {
    Ready(Option<Auth>),
    Waiting(Pin<Box<dyn Future<Output = Auth> + Send>>),
}

impl Future for Authenticate {
    type Output = Auth;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Auth> {
        match &mut self.state {
            // Polled again after completion: signed out, never a panic.
            AuthState::Ready(auth) => Poll::Ready(
                auth.take()
                    .unwrap_or_else(|| Auth::SignedOut(Reason::SessionTokenMissing)),
            ),
            AuthState::Waiting(fut) => {
                let auth = std::task::ready!(fut.as_mut().poll(cx));
                // The boxed work is done: drop it, so a further poll
                // answers signed out instead of resuming a finished future.
                self.state = AuthState::Ready(None);
                Poll::Ready(auth)
            }
        }
    }
}

impl std::fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticate")
            .field("ready", &matches!(self.state, AuthState::Ready(_)))
            .finish()
    }
}

impl Clerk {
    /// The future for a step: ready, or the waiting boxed.
    pub(super) fn start(&self, step: AuthStep) -> Authenticate {
        let state = match step {
            AuthStep::Ready(auth) => {
                crate::metrics::auth(auth.labels());
                AuthState::Ready(Some(auth))
            }
            AuthStep::Pending(pending) => {
                let clerk = self.clone();
                AuthState::Waiting(Box::pin(async move {
                    let auth = clerk.complete(pending).await;
                    crate::metrics::auth(auth.labels());
                    auth
                }))
            }
            AuthStep::PendingPage(page) => {
                let clerk = self.clone();
                AuthState::Waiting(Box::pin(async move {
                    let auth = clerk.complete_page(*page).await;
                    crate::metrics::auth(auth.labels());
                    auth
                }))
            }
        };
        Authenticate { state }
    }

    /// Finishes an authentication that had to wait.
    pub(super) async fn complete(&self, pending: PendingAuth) -> Auth {
        let rejected = |e: VerifyError| Auth::SignedOut(e.reason());
        let machine = match pending.kind {
            TokenType::SessionToken => {
                return session_auth(self.inner.verifier.verify(&pending.token).await);
            }
            kind if is_opaque_machine_token(&pending.token) => {
                self.inner
                    .machines
                    .verify(&pending.token, kind, pending.client)
                    .await
            }
            kind => self
                .inner
                .verifier
                .verify_machine_jwt(&pending.token, kind)
                .await
                .map(Arc::new),
        };
        match machine {
            Ok(m) if !self.machine_may_call(&m) => rejected(VerifyError::new(
                Reason::TokenVerificationFailed,
                "this machine is not in the M2M token's scopes",
            )),
            Ok(m) => Auth::Machine(m),
            Err(e) => rejected(e),
        }
    }

    /// Finishes a page request that had to wait: gets what it waited for,
    /// then decides it again.
    pub(super) async fn complete_page(&self, page: PendingPage) -> Auth {
        let (path, headers, peer) = (&page.path_and_query, &page.headers, page.peer);
        let client = self.client(headers, peer);
        let (mode, fetched) = match page.wait {
            PageWait::Nonce(nonce) => match self.inner.page_calls.nonce(&nonce, client).await {
                Some(directives) => (self.refresh_mode(), Some(directives)),
                // Not asked (the nonce share is spent, or a 429 pause):
                // 503, the nonce cookie kept for a reload, rather than a
                // finish with no cookies that signs the visitor out.
                None => {
                    return Auth::SignedOut(Reason::BackendApiUnavailable);
                }
            },
            PageWait::Refresh(refresh) => match self.refresh(&refresh, client).await {
                Ok(answer) => return answer,
                Err(reason) => (RefreshMode::Failed(reason), None),
            },
            PageWait::Key(kid) => {
                // By the key store's rules (cool-down, one fetch at a time).
                if let Err(e) = self.inner.verifier.load_key(kid.as_deref()).await {
                    return Auth::SignedOut(e.reason());
                }
                (self.refresh_mode(), None)
            }
        };
        let method = if page.get { "GET" } else { "POST" };
        match self.page_step(method, path, headers, peer, mode, fetched.as_deref()) {
            Some(AuthStep::Ready(auth)) => auth,
            // Still waiting after the wait: refused, never a loop.
            _ => Auth::SignedOut(Reason::JwkFailedToResolve),
        }
    }

    /// Clerk's server-side refresh (`request.ts` `refreshToken`): the new
    /// cookies from the Backend API, their session verified, the page served
    /// signed in with them; or why it failed.
    async fn refresh(&self, refresh: &Refresh, client: Option<Client>) -> Result<Auth, Reason> {
        let cookies = self.inner.page_calls.refresh(refresh, client).await?;
        let token =
            Refresh::session_token(&cookies).ok_or(Reason::ExpiredRefreshUnexpectedSdkError)?;
        let session = self
            .inner
            .verifier
            .verify(token)
            .await
            .map_err(|_| Reason::ExpiredRefreshInvalidSessionToken)?;
        Ok(Auth::Page(Arc::new(Refresh::answer(&cookies, session))))
    }
}
