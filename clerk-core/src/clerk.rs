//! [`Clerk`]: the one object an application holds. It reads the session
//! token from request headers, verifies it, and answers with an [`Auth`].
//!
//! ```
//! use clerk_core::{Clerk, testing::TestIssuer};
//! use http::{HeaderMap, HeaderValue, header};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = TestIssuer::new();
//! let clerk = Clerk::new(issuer.config().build()?)?; // or Clerk::from_env()?
//! let mut headers = HeaderMap::new();
//! let bearer = format!("Bearer {}", issuer.token().user("user_7").build());
//! headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&bearer)?);
//! let auth = clerk.authenticate(&headers).await;
//! assert_eq!(auth.user_id(), Some("user_7"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;

use crate::config::ClerkConfig;
use crate::error::ConfigError;
use crate::request::{
    Auth, Extracted, RequestHeaders, SignedOutReason, cookie_suffix, extract_token,
};
use crate::verify::Verifier;

/// Authenticates requests. Cheap to clone; build one per process.
#[derive(Clone, Debug)]
pub struct Clerk {
    verifier: Verifier,
    cookie_suffix: Option<Arc<str>>,
}

/// The outcome of [`Clerk::authenticate_ready`].
#[derive(Debug)]
pub enum AuthStep {
    /// Decided without waiting.
    Ready(Auth),
    /// The key set must be fetched first: finish with
    /// [`Clerk::authenticate_token`] and this token.
    NeedsKeys(String),
}

impl Clerk {
    /// A `Clerk` for `config`.
    ///
    /// # Errors
    /// See [`Verifier::new`].
    pub fn new(config: ClerkConfig) -> Result<Self, ConfigError> {
        let cookie_suffix = config
            .publishable_key()
            .map(|pk| Arc::from(cookie_suffix(pk.as_str())));
        Ok(Self {
            verifier: Verifier::new(config)?,
            cookie_suffix,
        })
    }

    /// A `Clerk` configured from the environment ([`ClerkConfig::from_env`]).
    ///
    /// # Errors
    /// See [`ClerkConfig::from_env`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(ClerkConfig::from_env()?)
    }

    /// The verifier (for `prefetch`, `is_ready`, or verifying raw tokens).
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Authenticates without waiting when possible (always, except when the
    /// key set must be fetched first).
    pub fn authenticate_ready<H: RequestHeaders + ?Sized>(&self, headers: &H) -> AuthStep {
        let token = match extract_token(headers, self.cookie_suffix.as_deref()) {
            Extracted::Header(t) | Extracted::Cookie(t) => t,
            Extracted::Missing => {
                return AuthStep::Ready(Auth::SignedOut(SignedOutReason::TokenMissing));
            }
            Extracted::Malformed => {
                return AuthStep::Ready(Auth::SignedOut(SignedOutReason::MalformedHeader));
            }
        };
        match self.verifier.verify_ready(token) {
            Some(result) => AuthStep::Ready(to_auth(result)),
            None => AuthStep::NeedsKeys(token.to_owned()),
        }
    }

    /// Authenticates a request from its headers.
    pub async fn authenticate<H: RequestHeaders + ?Sized>(&self, headers: &H) -> Auth {
        match self.authenticate_ready(headers) {
            AuthStep::Ready(auth) => auth,
            AuthStep::NeedsKeys(token) => self.authenticate_token(&token).await,
        }
    }

    /// Authenticates a token already taken from a request.
    pub async fn authenticate_token(&self, token: &str) -> Auth {
        to_auth(self.verifier.verify(token).await)
    }
}

fn to_auth(result: Result<Arc<crate::verify::Session>, crate::error::VerifyError>) -> Auth {
    match result {
        Ok(session) => Auth::SignedIn(session),
        Err(e) => Auth::SignedOut(SignedOutReason::Rejected(e.reason())),
    }
}
