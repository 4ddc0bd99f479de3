//! One RSA verification key, parsed once into aws-lc-rs form.

use std::fmt;

use aws_lc_rs::rsa::{PublicKey, PublicKeyComponents};
use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::ConfigError;
use crate::token::Algorithm;

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// An RSA public key ready to verify signatures: parsed once when loaded,
/// never on the request path.
pub(crate) struct VerifyingKey {
    kid: Option<String>,
    alg: Algorithm,
    bits: usize,
    key: ParsedPublicKey,
    /// SHA-256 of the modulus and exponent: tells a key replaced under the
    /// same `kid` from the key it replaces.
    material: [u8; 32],
}

impl VerifyingKey {
    /// Builds a key from a DER `SubjectPublicKeyInfo` or PKCS#1
    /// `RSAPublicKey`.
    ///
    /// # Errors
    /// When the bytes are not an RSA public key of at least 2048 bits.
    pub(crate) fn from_der(
        der: &[u8],
        alg: Algorithm,
        kid: Option<String>,
    ) -> Result<Self, ConfigError> {
        let public = PublicKey::from_der(der)
            .map_err(|_| ConfigError::InvalidJwtKey("not an RSA public key (SPKI DER)"))?;
        let components = PublicKeyComponents::<Vec<u8>>::from(&public);
        Self::from_components(&components.n, &components.e, alg, kid)
            .map_err(|_| ConfigError::InvalidJwtKey("RSA key must have at least 2048 bits"))
    }

    /// Builds a key from the big-endian modulus `n` and exponent `e` (leading
    /// zero bytes are ignored).
    ///
    /// # Errors
    /// When the modulus is under 2048 bits or the components are not a valid
    /// RSA public key.
    pub(crate) fn from_components(
        n: &[u8],
        e: &[u8],
        alg: Algorithm,
        kid: Option<String>,
    ) -> Result<Self, ConfigError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_length(n);
        if bits < MIN_RSA_BITS {
            return Err(ConfigError::InvalidJwks(
                "RSA key must have at least 2048 bits",
            ));
        }
        if e.is_empty() {
            return Err(ConfigError::InvalidJwks("RSA exponent is zero"));
        }
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        digest.update(&(n.len() as u64).to_be_bytes());
        digest.update(n);
        digest.update(e);
        let mut material = [0u8; 32];
        material.copy_from_slice(digest.finish().as_ref());
        let components = PublicKeyComponents { n, e };
        let key = components
            .to_parsed_public_key(alg.verification())
            .map_err(|_| ConfigError::InvalidJwks("not a valid RSA public key"))?;
        Ok(Self {
            kid,
            alg,
            bits,
            key,
            material,
        })
    }

    /// Reads a PEM public key as Clerk's dashboard shows it (`CLERK_JWT_KEY`):
    /// with or without the `-----BEGIN PUBLIC KEY-----` armour, with or
    /// without line breaks, and with literal `\n` escapes as environment
    /// files often hold them. The key verifies RS256 and matches any `kid`.
    ///
    /// # Errors
    /// When the text is not base64 of an RSA public key of at least 2048 bits.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, ConfigError> {
        let body: String = pem
            .replace("\\n", "\n")
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
            .split_whitespace()
            .collect();
        if body.is_empty() {
            return Err(ConfigError::InvalidJwtKey("empty key"));
        }
        let der = STANDARD
            .decode(body)
            .map_err(|_| ConfigError::InvalidJwtKey("not base64 PEM"))?;
        Self::from_der(&der, Algorithm::Rs256, None)
    }

    /// The key id (`None` for a PEM key, which matches any `kid`).
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// True when `other` is the same key: same `kid`, algorithm, modulus
    /// and exponent.
    pub(crate) fn same_key_as(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.material == other.material
    }

    /// The algorithm this key verifies; tokens naming another are refused.
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Checks `signature` over `message` with this key's algorithm.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn bit_length(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(&top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_counts_significant_bits() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(strip_leading_zeros(&[0, 0, 0x7f])), 7);
    }

    #[test]
    fn small_and_garbage_keys_are_refused() {
        let small = vec![0xffu8; 128]; // 1024 bits
        assert!(VerifyingKey::from_components(&small, &[1, 0, 1], Algorithm::Rs256, None).is_err());
        let mut padded = vec![0u8; 200];
        padded.extend_from_slice(&small);
        assert!(
            VerifyingKey::from_components(&padded, &[1, 0, 1], Algorithm::Rs256, None).is_err(),
            "leading zeros must not count as key size"
        );
        assert!(VerifyingKey::from_pem("").is_err());
        assert!(
            VerifyingKey::from_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----")
                .is_err()
        );
        assert!(VerifyingKey::from_pem("AAAA").is_err());
    }
}
