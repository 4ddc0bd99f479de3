//! Test helpers (feature `testing`, off by default): a throwaway issuer that
//! mints Clerk-shaped session tokens, so you can test your handlers offline,
//! and a local key endpoint ([`JwksServer`]) for tests of remote key sets.
//!
//! ```
//! use clerk_core::{Clerk, testing::TestIssuer};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let issuer = TestIssuer::new();
//! let verifier = Clerk::new(issuer.config().build()?)?;
//! let token = issuer
//!     .token()
//!     .user("user_42")
//!     .org("org_1", "acme", "admin")
//!     .permissions(["org:reports:read"])
//!     .plan("o:pro")
//!     .factor_age(3, 3)
//!     .build();
//! let session = verifier.verify(&token).await?;
//! assert_eq!(session.user_id(), "user_42");
//! assert_eq!(session.org_permissions(), ["org:reports:read"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod backend;
mod http;
mod server;
mod token;

pub use backend::{FakeBackendApi, Outage};
pub use http::SeenRequest;
pub use server::{JwksServer, Reply};
pub use token::TokenBuilder;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::clock::{Clock, SystemClock};
use crate::config::{ClerkConfig, ClerkConfigBuilder};
use crate::error::ConfigError;
use crate::token::Algorithm;

/// A request head with `headers`, for
/// [`Clerk::authenticate`](crate::Clerk::authenticate) as a server would
/// call it (`GET /dashboard` with cookies is a page load).
pub fn request(method: &str, target: &str, headers: &::http::HeaderMap) -> ::http::Request<()> {
    let mut request = ::http::Request::new(());
    *request.method_mut() = ::http::Method::from_bytes(method.as_bytes()).unwrap_or_default();
    *request.uri_mut() = target.parse().unwrap_or_default();
    *request.headers_mut() = headers.clone();
    request
}

/// The suffix Clerk gives the cookies of the instance of `publishable_key`
/// (`__session_<suffix>`, `__refresh_<suffix>`): the first 8 characters of
/// base64url(SHA-1(publishable key)).
pub fn cookie_suffix(publishable_key: &str) -> String {
    crate::cookies::cookie_suffix(publishable_key)
}

/// A publishable key for `host`, built the way Clerk encodes them
/// (`pk_live_`/`pk_test_` + base64 of `"<host>$"`), for tests.
pub fn publishable_key_for(host: &str, live: bool) -> String {
    let env = if live { "live" } else { "test" };
    format!("pk_{env}_{}", STANDARD.encode(format!("{host}$")))
}

/// The issuer `TestIssuer` tokens carry by default (`.invalid` never
/// resolves, so nothing can mistake it for a real instance).
pub const TEST_ISSUER: &str = "https://clerk.test.invalid";
/// The `azp` `TestIssuer` tokens carry by default.
pub const TEST_AUTHORIZED_PARTY: &str = "http://localhost:3000";

/// A throwaway RSA-2048 signing key with Clerk's token shape.
pub struct TestIssuer {
    key_pair: RsaKeyPair,
    kid: String,
    issuer: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIssuer {
    /// A fresh key with kid `ins_test`.
    ///
    /// # Panics
    /// Only if the operating system's random source fails (key generation
    /// has no other failure mode); this is test-only code.
    pub fn new() -> Self {
        Self::with_kid("ins_test")
    }

    /// A fresh key with the given kid.
    ///
    /// # Panics
    /// As [`TestIssuer::new`].
    #[allow(clippy::expect_used)] // RSA generation fails only without OS randomness
    pub fn with_kid(kid: impl Into<String>) -> Self {
        let key_pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 key generation");
        Self::from_key_pair(key_pair, kid.into())
    }

    /// Loads a PKCS#8 PEM private key (as written by `clerk-token keygen`).
    ///
    /// # Errors
    /// When the PEM is not an RSA PKCS#8 private key.
    pub fn from_private_key_pem(pem: &str, kid: impl Into<String>) -> Result<Self, ConfigError> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| ConfigError::InvalidJwtKey("private key is not base64 PEM"))?;
        let key_pair = RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| ConfigError::InvalidJwtKey("not an RSA PKCS#8 private key"))?;
        Ok(Self::from_key_pair(key_pair, kid.into()))
    }

    fn from_key_pair(key_pair: RsaKeyPair, kid: String) -> Self {
        Self {
            key_pair,
            kid,
            issuer: TEST_ISSUER.to_owned(),
            rng: SystemRandom::new(),
        }
    }

    /// Sets the issuer (`iss`) tokens carry.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The issuer tokens carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public key as SPKI PEM (what `CLERK_JWT_KEY` holds).
    pub fn public_key_pem(&self) -> String {
        let der = self
            .key_pair
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        pem("PUBLIC KEY", &der)
    }

    /// The private key as PKCS#8 PEM.
    pub fn private_key_pem(&self) -> String {
        let der = self
            .key_pair
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        pem("PRIVATE KEY", &der)
    }

    /// The public key as a JWKS document with one RS256 signing key.
    pub fn jwks_json(&self) -> String {
        json!({ "keys": [self.jwk()] }).to_string()
    }

    /// The public key as one JWK object.
    pub fn jwk(&self) -> Value {
        let c = PublicKeyComponents::<Vec<u8>>::from(self.key_pair.public_key());
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&c.n),
            "e": URL_SAFE_NO_PAD.encode(&c.e),
        })
    }

    /// A config builder that verifies this issuer's tokens (JWKS key source,
    /// issuer pinned, default authorized party allowed).
    pub fn config(&self) -> ClerkConfigBuilder {
        ClerkConfig::builder()
            .jwks_json(self.jwks_json())
            .issuer(self.issuer.clone())
            .authorized_parties([TEST_AUTHORIZED_PARTY])
    }

    /// Starts a token with Clerk's defaults: v2, `sub` `user_test`, `sid`
    /// `sess_test`, issued now, `nbf = iat - 10`, `exp = iat + 60`, this
    /// issuer, `azp` `http://localhost:3000`.
    pub fn token(&self) -> TokenBuilder<'_> {
        TokenBuilder::new(self, SystemClock.now_unix())
    }

    /// Starts a JWT machine-to-machine token for `machine_id` (`mch_…`) with
    /// `scopes`: M2M category, no session.
    pub fn m2m_token(&self, machine_id: &str, scopes: &[&str]) -> TokenBuilder<'_> {
        self.token()
            .header("cat", crate::token::CATEGORY_M2M)
            .user(machine_id)
            .without_session()
            .remove("azp")
            .claim("scopes", scopes.to_vec())
            .claim("jti", "mt_jwt_test")
    }

    /// Starts a JWT OAuth access token for `user_id` issued to `client_id`
    /// with `scopes`: `typ: at+jwt`, no session.
    pub fn oauth_token(&self, user_id: &str, client_id: &str, scopes: &[&str]) -> TokenBuilder<'_> {
        self.token()
            .header("typ", "at+jwt")
            .user(user_id)
            .without_session()
            .remove("azp")
            .claim("client_id", client_id)
            .claim("scope", scopes.join(" "))
            .claim("jti", "oat_jwt_test")
    }

    /// Signs arbitrary header and payload JSON (for crafting bad tokens).
    /// The header's `alg` picks the hash (RS256 when it is not RS384/RS512).
    pub fn sign_raw(&self, header: &Value, payload: &Value) -> String {
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Algorithm::from_name)
            .unwrap_or(Algorithm::Rs256);
        self.sign_bytes(
            alg.name(),
            header.to_string().as_bytes(),
            payload.to_string().as_bytes(),
        )
    }

    /// Signs raw header and payload bytes (for duplicate-member tests)
    /// with `alg` (`"RS256"`, `"RS384"` or `"RS512"`; any other name signs
    /// with RS256).
    pub fn sign_bytes(&self, alg: &str, header: &[u8], payload: &[u8]) -> String {
        let alg = Algorithm::from_name(alg).unwrap_or(Algorithm::Rs256);
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let padding: &'static dyn signature::RsaEncoding = match alg {
            Algorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
            Algorithm::Rs384 => &signature::RSA_PKCS1_SHA384,
            Algorithm::Rs512 => &signature::RSA_PKCS1_SHA512,
        };
        let mut sig = vec![0u8; self.key_pair.public_modulus_len()];
        // Signing with a valid key into a buffer of the modulus length does
        // not fail; an empty signature would only make the token invalid.
        if self
            .key_pair
            .sign(padding, &self.rng, input.as_bytes(), &mut sig)
            .is_err()
        {
            sig.clear();
        }
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
