//! Clerk's publishable and secret keys.
//!
//! A publishable key (`pk_test_…`, `pk_live_…`) names the instance's frontend
//! API host; a secret key (`sk_test_…`, `sk_live_…`) authenticates calls to
//! the Backend API. Neither `Debug` nor `Display` of [`SecretKey`] ever shows
//! the secret.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::ConfigError;

/// A Clerk publishable key, decoded to its frontend API host.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PublishableKey {
    raw: String,
    frontend_api: String,
    live: bool,
}

impl PublishableKey {
    /// The frontend API host encoded in the key, e.g. `clerk.example.com`.
    pub(crate) fn frontend_api(&self) -> &str {
        &self.frontend_api
    }

    /// The issuer that session tokens of this instance carry:
    /// `https://<frontend api host>`.
    pub(crate) fn issuer(&self) -> String {
        format!("https://{}", self.frontend_api)
    }

    /// True for a production (`pk_live_`) key.
    pub(crate) fn is_live(&self) -> bool {
        self.live
    }

    /// The key as given (publishable keys are public).
    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }
}

impl FromStr for PublishableKey {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = ConfigError::InvalidPublishableKey;
        let mut parts = s.split('_');
        let (Some("pk"), Some(env), Some(encoded), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("expected pk_test_<base64> or pk_live_<base64>"));
        };
        let live = match env {
            "test" => false,
            "live" => true,
            _ => return Err(invalid("expected pk_test_ or pk_live_ prefix")),
        };
        let decoded = STANDARD
            .decode(encoded)
            .map_err(|_| invalid("the part after the prefix is not base64"))?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| invalid("the decoded host is not UTF-8"))?;
        let Some(host) = decoded.strip_suffix('$') else {
            return Err(invalid("the decoded host must end with '$'"));
        };
        if host.contains('$') {
            return Err(invalid("the decoded host must contain exactly one '$'"));
        }
        if !host.contains('.') {
            return Err(invalid("the decoded host has no '.'"));
        }
        if host
            .bytes()
            .any(|b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':'))
        {
            return Err(invalid(
                "the decoded host has characters a host cannot have",
            ));
        }
        Ok(Self {
            raw: s.to_owned(),
            frontend_api: host.to_owned(),
            live,
        })
    }
}

impl fmt::Debug for PublishableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishableKey")
            .field("frontend_api", &self.frontend_api)
            .field("live", &self.live)
            .finish()
    }
}

/// A Clerk secret key. Its `Debug` and `Display` show only the prefix.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretKey {
    raw: String,
}

impl SecretKey {
    /// The secret itself, for building the `Authorization` header of Backend
    /// API calls. Never log it.
    pub(crate) fn expose_secret(&self) -> &str {
        &self.raw
    }

    /// True for a production (`sk_live_`) key.
    pub(crate) fn is_live(&self) -> bool {
        self.raw.starts_with("sk_live_")
    }

    fn prefix(&self) -> &'static str {
        if self.is_live() {
            "sk_live_"
        } else {
            "sk_test_"
        }
    }
}

impl FromStr for SecretKey {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("sk_test_")
            .or_else(|| s.strip_prefix("sk_live_"))
            .ok_or(ConfigError::InvalidSecretKey(
                "expected sk_test_ or sk_live_ prefix",
            ))?;
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::InvalidSecretKey(
                "the key must be printable ASCII after its prefix",
            ));
        }
        Ok(Self { raw: s.to_owned() })
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}…)", self.prefix())
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn decodes_the_documented_examples() {
        // The documented example key, built rather than written out.
        let pk: PublishableKey =
            format!("pk_test_{}", b64("magical-marmoset-51.clerk.accounts.dev$"))
                .parse()
                .unwrap();
        assert_eq!(pk.frontend_api(), "magical-marmoset-51.clerk.accounts.dev");
        assert_eq!(
            pk.issuer(),
            "https://magical-marmoset-51.clerk.accounts.dev"
        );
        let pk: PublishableKey = format!("pk_live_{}", b64("clerk.example.com$"))
            .parse()
            .unwrap();
        assert_eq!(pk.frontend_api(), "clerk.example.com");
        assert!(pk.is_live());
    }

    #[test]
    fn rejects_malformed_publishable_keys() {
        let bad = [
            String::new(),
            "pk_test".to_owned(),
            format!("pk_prod_{}", b64("clerk.example.com$")),
            format!("sk_test_{}", b64("clerk.example.com$")),
            format!("pk_test_{}_extra", b64("clerk.example.com$")),
            "pk_test_!!!".to_owned(),
            format!("pk_test_{}", b64("clerk.example.com")),
            format!("pk_test_{}", b64("clerk$example.com$")),
            format!("pk_test_{}", b64("localhost$")),
            format!("pk_test_{}", b64("bad host.com$")),
            format!("pk_test_{}", STANDARD.encode([0xff, 0xfe, b'.', b'$'])),
        ];
        for key in bad {
            assert!(
                matches!(
                    key.parse::<PublishableKey>(),
                    Err(ConfigError::InvalidPublishableKey(_))
                ),
                "{key:?} should be rejected"
            );
        }
    }

    #[test]
    fn secret_key_is_never_shown() {
        let sk: SecretKey = "sk_live_your_clerk_key_here".parse().unwrap();
        assert_eq!(format!("{sk:?}"), "SecretKey(sk_live_…)");
        assert_eq!(sk.to_string(), "sk_live_…");
        assert!(!format!("{sk:?}{sk}").contains("your_clerk"));
        assert_eq!(sk.expose_secret(), "sk_live_your_clerk_key_here");
        assert!("pk_test_abc".parse::<SecretKey>().is_err());
        assert!("sk_test_".parse::<SecretKey>().is_err());
        assert!("sk_test_a b".parse::<SecretKey>().is_err());
    }
}
