//! Browser sessions the way Clerk's own middleware does them: the request
//! states of a cookie-authenticated page load (signed in, signed out, or a
//! **handshake** with the instance's Frontend API that refreshes the
//! cookies), and the handshake's start and finish.
//!
//! Mirrors `authenticateRequest` in `@clerk/backend`
//! (`packages/backend/src/tokens/request.ts`, `handshake.ts`,
//! `authenticateContext.ts`, `constants.ts`; read at commit `e21ae9a4`,
//! `@clerk/backend` 3.16.10), in Clerk's order and with its reason strings.
//!
//! Every request with no `Authorization` header that is a page load or
//! carries one of Clerk's cookies takes this path, on a `Clerk` that knows
//! its Frontend API (a publishable key or `frontend_api_url`), as Clerk's
//! `authenticateRequestWithTokenInCookie`. Only a page load (`GET` with
//! `Sec-Fetch-Dest: document` or `iframe`, or, without `Sec-Fetch-Dest`, an
//! `Accept` that starts with `text/html`: `isRequestEligibleForHandshake`)
//! is answered with a handshake; any other request is signed out with the
//! handshake's reason, as Clerk's `handleMaybeHandshakeStatus`. A request
//! with no Clerk cookie and no header is `session-token-missing` (Clerk:
//! `session-token-and-uat-missing`, or `dev-browser-missing` on
//! development instances).
//!
//! ```
//! use clerk_core::testing::{TestIssuer, publishable_key_for, request};
//! use clerk_core::{Auth, Clerk};
//! use http::{HeaderMap, HeaderValue};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = TestIssuer::new();
//! let pk = publishable_key_for("clerk.test.invalid", true);
//! let clerk = Clerk::new(issuer.config().publishable_key(pk).build()?)?;
//! // A page load whose session cookie expired a while ago.
//! let expired = issuer.token().issued_at(1_700_000_000).build();
//! let mut headers = HeaderMap::new();
//! headers.insert("host", HeaderValue::from_static("app.example.com"));
//! headers.insert("sec-fetch-dest", HeaderValue::from_static("document"));
//! headers.insert("cookie", format!("__client_uat=1; __session={expired}").parse()?);
//! let Auth::Page(handshake) = clerk.authenticate(&request("GET", "/dashboard", &headers)).await
//! else { panic!("expected a handshake") };
//! let response = handshake.to_response::<String>();
//! assert_eq!(response.status(), 307);
//! assert!(response.headers()["location"]
//!     .to_str()?
//!     .starts_with("https://clerk.test.invalid/v1/client/handshake?redirect_url="));
//! // The same cookies on a fetch (no Sec-Fetch-Dest: document): signed
//! // out with Clerk's reason, no handshake.
//! headers.insert("sec-fetch-dest", HeaderValue::from_static("empty"));
//! let auth = clerk.authenticate(&request("GET", "/api/me", &headers)).await;
//! assert_eq!(
//!     auth.reason().unwrap().as_str(),
//!     "session-token-expired-refresh-non-eligible-no-refresh-cookie"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Deliberately stricter or different from Clerk's SDK:
//! * a handshake token in the query is taken on development instances
//!   only (production reads the `__clerk_handshake` cookie its Frontend
//!   API sets), so a link carrying someone's handshake signs no one in;
//! * a handshake token that does not verify is logged and the request's
//!   own cookies decide (Clerk's production behaviour; on development
//!   instances Clerk answers 500);
//! * a handshake that came by cookie is cleared on the way back; the
//!   finish's `PageAnswer::reason` is `handshake-complete` when it signed
//!   in (Clerk has no reason for signed in);
//! * the redirect loop ends at 3 or more (Clerk: exactly 3);
//! * a development primary answers `__clerk_redirect_url` only with an
//!   `http(s)` URL (Clerk: any URL); like Clerk's, to any host, so it is an
//!   open redirect on development instances, carrying the dev-browser
//!   token (never a session);
//! * two `Host` or `X-Forwarded-Host` lines, a host with user info or an
//!   `X-Forwarded-Proto` other than `http`/`https` make the request an API
//!   request (no page handling, no `redirect_url`);
//! * a handshake token or nonce is resolved on page loads only (Clerk: on
//!   any request);
//! * a production finish and a refresh serve the page with the new cookies
//!   as Clerk does, with `Cache-Control: no-store` added (a shared cache
//!   must never keep a response setting a session) and without Clerk's
//!   `Access-Control-Allow-Origin: null` with credentials (a sandboxed,
//!   `null`-origin page could read the signed-in response);
//! * `x-clerk-auth-message` carries only the fixed part of Clerk's message
//!   (Clerk's names the token's dates, its `kid` or `azp`), and only on
//!   signed-out answers to the handler's response; no 24-hour clock-skew
//!   retry on a development finish.
//!
//! Cookies are read as Clerk reads them, on this path and every other: the
//! `cookie` package's parser (quotes kept, values percent-decoded, the
//! first of a name wins), `usesSuffixedCookies` for which session cookie
//! counts, `parseInt(…) || 0` for `__client_uat`.
//!
//! An expired page session with a `__refresh_<suffix>` cookie is refreshed
//! server-side as Clerk does (`POST /v1/sessions/{sid}/refresh` with the
//! secret key), and the page served signed in with the new cookies on its
//! response ([`PageAnswer::served`](crate::PageAnswer::served)); a failed
//! refresh goes on to the handshake with Clerk's
//! `session-token-expired-refresh-*` reason (`-missing-api-client` without
//! a secret key). The request's headers are not forwarded in the refresh
//! call (`request_headers` is empty).
//!
//! A handshake nonce (`__clerk_handshake_nonce`) is resolved through the
//! Backend API (`GET /v1/clients/handshake_payload`), before a handshake
//! token, as Clerk; an unknown nonce gives no cookies (signed out).
//! `format=nonce` is not sent, so the Frontend API answers with a token.
//!
//! Not done (yet): the production form of the finish (cookies added to the
//! page's own response): every finish redirects to the clean URL, as Clerk
//! does on development instances.
//! Organization sync and `satelliteAutoSync` are not done either.

mod calls;
mod csp;
mod handshake;
mod organization;
mod proxy;
pub(crate) mod proxy_body;
mod steps;
mod url;

pub(crate) use calls::{PageCalls, Refresh};
pub use csp::ContentSecurityPolicy;
pub(crate) use handshake::HANDSHAKE_PARAMS;
pub(crate) use organization::OrganizationSync;
pub use organization::OrganizationTarget;
pub use proxy::{FrontendApiProxy, ProxyBody};
pub(crate) use steps::{Browser, Page, RefreshMode};
pub(crate) use url::{PageRequest, is_eligible, page_url, remove_query};

#[cfg(test)]
mod tests;
