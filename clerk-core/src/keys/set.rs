//! A set of verification keys, and reading one from a JWKS document.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::key::VerifyingKey;
use crate::error::ConfigError;
use crate::token::Algorithm;

/// The keys a verifier may use, looked up by `kid`.
///
/// A set built from a PEM key holds one key that matches any `kid` (Clerk's
/// SDK does not check the `kid` in networkless mode either).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    // A handful of keys at most: a linear scan beats hashing here.
    keys: Vec<Arc<VerifyingKey>>,
    match_any_kid: bool,
}

/// What reading a JWKS document skipped, for logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct JwksReport {
    /// Keys accepted.
    pub accepted: usize,
    /// Keys skipped (wrong `use`, not RSA, unsupported `alg`, no `kid`,
    /// bad encoding, under 2048 bits).
    pub skipped: usize,
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    n: String,
    e: String,
}

impl KeySet {
    /// A set of one key that matches every `kid` (networkless PEM mode).
    pub(crate) fn single_any_kid(key: VerifyingKey) -> Self {
        Self {
            keys: vec![Arc::new(key)],
            match_any_kid: true,
        }
    }

    /// A set of keys matched by `kid`.
    pub(crate) fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Self {
            keys: keys.into_iter().map(Arc::new).collect(),
            match_any_kid: false,
        }
    }

    /// Reads a JWKS document (`{"keys":[...]}`). Each key is judged on its
    /// own: keys whose `use` is not `sig`, that are not RSA, that name an
    /// algorithm other than RS256/384/512, that have no `kid`, bad base64url
    /// or fewer than 2048 bits are skipped without failing the set.
    ///
    /// # Errors
    /// When the document is not a JWKS object. An empty result is not an
    /// error here; callers decide what an empty set means.
    pub(crate) fn from_jwks_json(json: &[u8]) -> Result<(Self, JwksReport), ConfigError> {
        let doc: JwksDocument = serde_json::from_slice(json)
            .map_err(|_| ConfigError::InvalidJwks("not a JSON object with a keys array"))?;
        let mut report = JwksReport::default();
        let mut keys = Vec::with_capacity(doc.keys.len());
        for raw in doc.keys {
            match parse_jwk(raw) {
                Some(key) => {
                    report.accepted += 1;
                    keys.push(key);
                }
                None => report.skipped += 1,
            }
        }
        Ok((Self::from_keys(keys), report))
    }

    /// The key for a token's `kid`.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&Arc<VerifyingKey>> {
        if self.match_any_kid {
            return self.keys.first();
        }
        let kid = kid?;
        self.keys.iter().find(|k| k.kid() == Some(kid))
    }

    /// True when the set holds no key.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key ids in the set.
    #[cfg(test)]
    pub(crate) fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| k.kid())
    }

    /// True when every key of `self` is still in `next` (same `kid`, and
    /// the same key material: a key replaced under its `kid` is a lost
    /// key): when false, tokens verified with a lost key must be forgotten.
    pub(crate) fn is_subset_of(&self, next: &KeySet) -> bool {
        self.keys
            .iter()
            .all(|old| next.keys.iter().any(|new| new.same_key_as(old)))
    }
}

fn parse_jwk(raw: serde_json::Value) -> Option<VerifyingKey> {
    let jwk: RsaJwk = serde_json::from_value(raw).ok()?;
    if jwk.kty != "RSA" {
        return None;
    }
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match jwk.alg.as_deref() {
        None => Algorithm::Rs256,
        Some(name) => Algorithm::from_name(name)?,
    };
    let kid = jwk.kid.filter(|k| !k.is_empty())?;
    let n = decode_b64url(&jwk.n)?;
    let e = decode_b64url(&jwk.e)?;
    VerifyingKey::from_components(&n, &e, alg, Some(kid)).ok()
}

/// JWK members are base64url; some publishers pad them, which is harmless
/// here (the key is trusted input), so padding is tolerated.
fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestIssuer;
    use serde_json::json;

    /// Every key that cannot be used is skipped and counted; the set keeps
    /// the good ones (leading zero bytes of `n` stripped).
    #[test]
    fn jwks_skips_bad_keys_without_failing_the_set() {
        let issuer = TestIssuer::new();
        let good = issuer.jwk();
        let mut enc = good.clone();
        enc["use"] = json!("enc");
        let mut ec = good.clone();
        ec["kty"] = json!("EC");
        let mut bad_n = good.clone();
        bad_n["n"] = json!("!!!");
        let mut small = good.clone();
        small["n"] = json!("AQAB");
        let mut ps = good.clone();
        ps["alg"] = json!("PS256");
        let mut no_kid = good.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        let n = URL_SAFE_NO_PAD.decode(good["n"].as_str().unwrap()).unwrap();
        let mut padded_n = vec![0u8, 0u8];
        padded_n.extend_from_slice(&n);
        let mut zero_padded = good.clone();
        zero_padded["kid"] = json!("padded");
        zero_padded["n"] = json!(URL_SAFE_NO_PAD.encode(&padded_n));
        let doc = json!({ "keys": [enc, ec, bad_n, small, ps, no_kid, "junk", good, zero_padded] });
        let (set, report) = KeySet::from_jwks_json(doc.to_string().as_bytes()).unwrap();
        assert_eq!(report.accepted, 2);
        assert_eq!(report.skipped, 7);
        assert_eq!(set.kids().collect::<Vec<_>>(), ["ins_test", "padded"]);
    }
}
