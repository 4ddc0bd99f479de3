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

pub use backend::{FakeBackendApi, Outage};
pub use http::SeenRequest;
pub use server::{JwksServer, Reply};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

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

/// Builds one token; see [`TestIssuer::token`].
#[derive(Debug)]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    alg: Algorithm,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    v2: bool,
    iat: i64,
    ttl: i64,
    org: Option<(String, String, String)>,
    permissions: Vec<String>,
    plans: Vec<String>,
    features: Vec<String>,
}

impl<'a> TokenBuilder<'a> {
    fn new(issuer: &'a TestIssuer, now: i64) -> Self {
        let mut header = Map::new();
        header.insert("alg".into(), "RS256".into());
        header.insert("cat".into(), "cl_B7d4PD111AAA".into());
        header.insert("kid".into(), issuer.kid.clone().into());
        header.insert("typ".into(), "JWT".into());
        let mut claims = Map::new();
        claims.insert("sub".into(), "user_test".into());
        claims.insert("sid".into(), "sess_test".into());
        claims.insert("iss".into(), issuer.issuer.clone().into());
        claims.insert("azp".into(), TEST_AUTHORIZED_PARTY.into());
        Self {
            issuer,
            alg: Algorithm::Rs256,
            header,
            claims,
            v2: true,
            iat: now,
            ttl: 60,
            org: None,
            permissions: Vec::new(),
            plans: Vec::new(),
            features: Vec::new(),
        }
    }

    /// The user id (`sub`).
    #[must_use]
    pub fn user(self, user_id: &str) -> Self {
        self.claim("sub", user_id)
    }

    /// The session id (`sid`).
    #[must_use]
    pub fn session(self, session_id: &str) -> Self {
        self.claim("sid", session_id)
    }

    /// Leaves out `sid`, like a JWT-template token.
    #[must_use]
    pub fn without_session(self) -> Self {
        self.remove("sid")
    }

    /// Issue time (`iat`); `nbf` is 10 s earlier and `exp` `ttl` later.
    #[must_use]
    pub fn issued_at(mut self, iat: i64) -> Self {
        self.iat = iat;
        self
    }

    /// Lifetime in seconds (default 60, like Clerk's).
    #[must_use]
    pub fn ttl(mut self, secs: i64) -> Self {
        self.ttl = secs;
        self
    }

    /// Already expired: issued 10 minutes ago, 60 s lifetime.
    #[must_use]
    pub fn expired(mut self) -> Self {
        self.iat -= 600;
        self
    }

    /// Not valid yet: `nbf` one minute ahead (`iat` stays now).
    #[must_use]
    pub fn not_yet_valid(self) -> Self {
        let nbf = self.iat + 60;
        self.claim("nbf", nbf)
    }

    /// The authorized party (`azp`).
    #[must_use]
    pub fn azp(self, origin: &str) -> Self {
        self.claim("azp", origin)
    }

    /// The issuer (`iss`).
    #[must_use]
    pub fn iss(self, issuer: &str) -> Self {
        self.claim("iss", issuer)
    }

    /// The active organization: id, slug and role (`admin` or `org:admin`).
    #[must_use]
    pub fn org(mut self, id: &str, slug: &str, role: &str) -> Self {
        self.org = Some((id.to_owned(), slug.to_owned(), role.to_owned()));
        self
    }

    /// Organization permissions, each `org:<feature>:<permission>`; in v2
    /// they are encoded as `fea` + `per` + `fpm` bitmasks like Clerk does.
    #[must_use]
    pub fn permissions<I, S>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a plan entry, e.g. `o:pro` or `u:free`.
    #[must_use]
    pub fn plan(mut self, entry: &str) -> Self {
        self.plans.push(entry.to_owned());
        self
    }

    /// Adds a feature entry, e.g. `o:export` or `u:avatar`.
    #[must_use]
    pub fn feature(mut self, entry: &str) -> Self {
        self.features.push(entry.to_owned());
        self
    }

    /// Factor-verification age in minutes (`fva`); `-1` for never.
    #[must_use]
    pub fn factor_age(self, first: i64, second: i64) -> Self {
        self.claim("fva", json!([first, second]))
    }

    /// The claims of a typical production session (~1 KB token), for
    /// benchmarks: `azp` `https://app.example.com`, an organization admin
    /// with six permissions, a plan, a feature and a factor age.
    #[must_use]
    pub fn realistic(self) -> Self {
        self.azp("https://app.example.com")
            .org("org_2d3ZBq1J6gM0Sxz8pGMfOMJdD6e", "marine-projex", "admin")
            .permissions([
                "org:repositories:read",
                "org:repositories:create",
                "org:repositories:update",
                "org:projects:read",
                "org:projects:update",
                "org:projects:revoke",
            ])
            .plan("o:pro")
            .feature("u:goldprofileborder")
            .factor_age(7, -1)
    }

    /// Marks the session `pending`.
    #[must_use]
    pub fn pending(self) -> Self {
        self.claim("sts", "pending")
    }

    /// An impersonator (`act`).
    #[must_use]
    pub fn actor(self, sub: &str, sid: &str) -> Self {
        self.claim("act", json!({ "sub": sub, "sid": sid }))
    }

    /// Uses the v1 claim format (`org_id`, `org_role`, `org_permissions`).
    #[must_use]
    pub fn v1(mut self) -> Self {
        self.v2 = false;
        self
    }

    /// Signs with `"RS384"` or `"RS512"` instead of RS256 (the header says
    /// so too); any other name keeps RS256.
    #[must_use]
    pub fn algorithm(mut self, alg: &str) -> Self {
        let alg = Algorithm::from_name(alg).unwrap_or(Algorithm::Rs256);
        self.alg = alg;
        self.header.insert("alg".into(), alg.name().into());
        self
    }

    /// Sets any claim (custom claims, or overriding a default).
    #[must_use]
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim (e.g. `exp` to test a missing expiry).
    #[must_use]
    pub fn remove(mut self, name: &str) -> Self {
        self.claims.insert(name.to_owned(), Value::Null);
        self
    }

    /// Sets a header member (e.g. `kid`).
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// The payload this builder will sign.
    pub fn payload(&self) -> Value {
        let mut c = Map::new();
        c.insert("iat".into(), self.iat.into());
        c.insert("nbf".into(), (self.iat - 10).into());
        c.insert("exp".into(), (self.iat + self.ttl).into());
        if self.v2 {
            c.insert("v".into(), 2.into());
            self.v2_claims(&mut c);
        } else {
            self.v1_claims(&mut c);
        }
        for (k, v) in &self.claims {
            c.insert(k.clone(), v.clone());
        }
        // `remove` marks claims with null; drop them last so they win.
        c.retain(|k, _| !self.claims.get(k).is_some_and(Value::is_null));
        Value::Object(c)
    }

    fn v1_claims(&self, c: &mut Map<String, Value>) {
        if let Some((id, slug, role)) = &self.org {
            c.insert("org_id".into(), id.clone().into());
            c.insert("org_slug".into(), slug.clone().into());
            c.insert("org_role".into(), role.clone().into());
            c.insert("org_permissions".into(), json!(self.permissions));
        }
        if !self.plans.is_empty() {
            c.insert("pla".into(), self.plans.join(",").into());
        }
        if !self.features.is_empty() {
            c.insert("fea".into(), self.features.join(",").into());
        }
    }

    fn v2_claims(&self, c: &mut Map<String, Value>) {
        // Features: organization-scoped first (as Clerk's servers order
        // them), adding the features that permissions belong to.
        let is_org = |e: &str| e.split_once(':').is_some_and(|(s, _)| s.contains('o'));
        let mut features: Vec<String> = self
            .features
            .iter()
            .filter(|e| is_org(e))
            .cloned()
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for p in &self.permissions {
            let rest = p.strip_prefix("org:").unwrap_or(p);
            if let Some((feature, name)) = rest.split_once(':') {
                if !features
                    .iter()
                    .any(|e| e.split_once(':').is_some_and(|(_, f)| f == feature))
                {
                    features.push(format!("o:{feature}"));
                }
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        features.extend(self.features.iter().filter(|e| !is_org(e)).cloned());
        let masks: Vec<String> = features
            .iter()
            .map(|entry| {
                let feature = entry.split_once(':').map_or("", |(_, f)| f);
                let mut mask: u128 = 0;
                for p in &self.permissions {
                    let rest = p.strip_prefix("org:").unwrap_or(p);
                    if let Some((f, name)) = rest.split_once(':')
                        && f == feature
                        && let Some(i) = names.iter().position(|n| *n == name)
                    {
                        mask |= 1u128
                            .checked_shl(u32::try_from(i).unwrap_or(u32::MAX))
                            .unwrap_or(0);
                    }
                }
                mask.to_string()
            })
            .collect();
        if !features.is_empty() {
            c.insert("fea".into(), features.join(",").into());
        }
        if !self.plans.is_empty() {
            c.insert("pla".into(), self.plans.join(",").into());
        }
        if let Some((id, slug, role)) = &self.org {
            let rol = role.strip_prefix("org:").unwrap_or(role);
            c.insert(
                "o".into(),
                json!({
                    "id": id, "slg": slug, "rol": rol,
                    "per": names.join(","), "fpm": masks.join(","),
                }),
            );
        }
    }

    /// Signs and returns the compact token.
    pub fn build(&self) -> String {
        self.issuer
            .sign_raw(&Value::Object(self.header.clone()), &self.payload())
    }
}
