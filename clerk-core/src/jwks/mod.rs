//! Where verification keys come from, and the store that serves them.
//!
//! A [`KeySource`] produces a [`KeySet`]; the [`KeyStore`] holds the current
//! set as an atomically swapped snapshot, so a lookup on the request path
//! never takes a lock that a refresh could hold. Local sources (a PEM key, a
//! static JWKS document) are loaded once at start-up.
//!
//! ```
//! use clerk_core::jwks::{KeySet, KeyStore};
//! use clerk_core::testing::TestIssuer;
//!
//! let issuer = TestIssuer::new();
//! let (set, report) = KeySet::from_jwks_json(issuer.jwks_json().as_bytes())?;
//! assert_eq!(report.accepted, 1);
//! let store = KeyStore::fixed(set);
//! assert!(store.is_ready());
//! assert!(store.snapshot().find(Some(issuer.kid())).is_some());
//! # Ok::<(), clerk_core::ConfigError>(())
//! ```

mod key;
mod set;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use key::{MIN_RSA_BITS, VerifyingKey};
pub use set::{JwksReport, KeySet};

use crate::error::{ErrorReason, VerifyError};

/// A boxed, sendable future: key fetches are rare, so boxing them costs
/// nothing measurable and keeps [`KeySource`] object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a key source could not produce keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct KeyFetchError {
    /// Clerk's reason (`jwk-remote-failed-to-load`, `secret-key-invalid`, ...).
    pub reason: ErrorReason,
    /// A fixed explanation (never a secret or a response body).
    pub message: &'static str,
}

/// Something that can produce the instance's current key set: a local
/// document, Clerk's Backend API, Clerk's Frontend API, or your own.
pub trait KeySource: Send + Sync + 'static {
    /// A short name for logs, e.g. `"pem"` or `"backend-api"`.
    fn name(&self) -> &'static str;

    /// Fetches the current key set.
    fn fetch(&self) -> BoxFuture<'_, Result<KeySet, KeyFetchError>>;
}

/// Serves verification keys by `kid` from the current snapshot.
pub struct KeyStore {
    current: ArcSwap<KeySet>,
}

impl KeyStore {
    /// A store whose keys never change (PEM key or static JWKS).
    pub fn fixed(set: KeySet) -> Self {
        Self {
            current: ArcSwap::from_pointee(set),
        }
    }

    /// The key for a token's `kid`.
    ///
    /// # Errors
    /// `jwk-kid-mismatch` when no key has that `kid`.
    pub async fn key_for(&self, kid: Option<&str>) -> Result<Arc<VerifyingKey>, VerifyError> {
        self.current
            .load()
            .find(kid)
            .cloned()
            .ok_or(VerifyError::new(
                ErrorReason::JwkKidMismatch,
                "no key with the token's kid",
            ))
    }

    /// The current key set.
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// True when at least one key is available (for health checks).
    pub fn is_ready(&self) -> bool {
        !self.current.load().is_empty()
    }
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keys", &self.current.load().len())
            .finish()
    }
}
