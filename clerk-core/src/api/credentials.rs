//! The machine-credential records the Backend API answers: machines, their
//! scopes and secret keys, M2M tokens, API keys, and the one-off tokens
//! (testing, sign-in, actor). Fields from Clerk's `JSON.ts`
//! (`@clerk/backend`, `src/api/resources/JSON.ts`: `MachineJSON`,
//! `MachineScopeJSON`, `MachineSecretKeyJSON`, `M2MTokenJSON`,
//! `APIKeyJSON`, `TestingTokenJSON`, `SignInTokenJSON`, `ActorTokenJSON`);
//! every one defaulted, unknown fields ignored, as the other records.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

/// A secret Clerk answers once (a token, an API key's secret, a machine's
/// secret key, a sign-in URL carrying a ticket): `Debug` never shows it;
/// read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself: hand it to whom it is for, never to a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A machine (`MachineJSON`): a service that calls others with M2M tokens.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct MachineRecord {
    /// `mch_…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The instance.
    pub instance_id: String,
    /// Seconds its M2M tokens live unless asked otherwise.
    pub default_token_ttl: Option<u64>,
    /// The machines it may send tokens to.
    pub scoped_machines: Vec<MachineRecord>,
    /// Its secret key: only in the answer to its creation.
    pub secret_key: Option<Secret>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

/// Which machine may talk to which (`MachineScopeJSON`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct MachineScope {
    /// The machine that sends.
    pub from_machine_id: String,
    /// The machine it may send to.
    pub to_machine_id: String,
    /// Milliseconds since the epoch.
    pub created_at: Option<i64>,
    /// True in the answer to a removal.
    pub deleted: bool,
}

/// An M2M token (`M2MTokenJSON`), as created, listed or revoked.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct M2mTokenRecord {
    /// `mt_…`.
    pub id: String,
    /// The token: only in the answer to its creation.
    pub token: Option<Secret>,
    /// The machine it speaks for (`mch_…`).
    pub subject: String,
    /// The machines it may be sent to.
    pub scopes: Vec<String>,
    /// Your claims.
    pub claims: Value,
    /// Revoked.
    pub revoked: bool,
    /// Why, when revoked.
    pub revocation_reason: Option<String>,
    /// Past its expiration.
    pub expired: bool,
    /// Milliseconds since the epoch (`None`: never expires).
    pub expiration: Option<i64>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

/// An API key (`APIKeyJSON`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct ApiKeyRecord {
    /// `ak_…`.
    pub id: String,
    /// Clerk's `type` (`api_key`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The secret: only in the answer to its creation (later:
    /// [`ApiKeys::secret`](super::ApiKeys::secret)).
    pub secret: Option<Secret>,
    /// The user or organization it acts for (`user_…`, `org_…`).
    pub subject: String,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Your claims.
    pub claims: Value,
    /// Revoked.
    pub revoked: bool,
    /// Why, when revoked.
    pub revocation_reason: Option<String>,
    /// Past its expiration.
    pub expired: bool,
    /// Milliseconds since the epoch (`None`: never expires).
    pub expiration: Option<i64>,
    /// Who created it.
    pub created_by: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Milliseconds since the epoch.
    pub last_used_at: Option<i64>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}

/// A testing token (`TestingTokenJSON`): lets end-to-end tests pass
/// Clerk's bot protection on a development instance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct TestingToken {
    /// The token (Clerk's `__clerk_testing_token` parameter).
    pub token: Secret,
    /// Seconds since the epoch.
    pub expires_at: i64,
}

/// A sign-in token (`SignInTokenJSON`) or an actor token
/// (`ActorTokenJSON`, impersonation): a one-off ticket for a user.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct UserTicket {
    /// `sit_…` or `act_…`.
    pub id: String,
    /// The user it signs in (as).
    pub user_id: String,
    /// `pending`, `accepted` or `revoked` (Clerk may add more).
    pub status: String,
    /// The ticket: only in the answer to its creation.
    pub token: Option<Secret>,
    /// The sign-in URL with the ticket.
    pub url: Option<Secret>,
    /// Actor tokens: who acts (`{"sub": "user_…", …}`), read by the
    /// verifier as the session's `act` claim.
    pub actor: Value,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
}
