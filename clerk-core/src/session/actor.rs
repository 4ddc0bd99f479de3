//! The impersonation actor (`act`).

use serde_json::{Map, Value};

use super::str_claim;

/// The impersonator, when a session is being impersonated (`act`).
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    subject: String,
    session_id: Option<String>,
    raw: Map<String, Value>,
}

impl Actor {
    /// The impersonating user's id (`act.sub`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The impersonating session's id (`act.sid`), when present.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The whole `act` object.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    pub(super) fn parse(claim: Option<Value>) -> Option<Self> {
        let Value::Object(raw) = claim? else {
            return None;
        };
        Some(Self {
            subject: raw.get("sub")?.as_str()?.to_owned(),
            session_id: str_claim(&raw, "sid"),
            raw,
        })
    }
}
