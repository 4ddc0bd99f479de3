//! Typed Clerk webhook events. Every field apps usually sync is typed; all
//! are optional or defaulted, unknown fields are ignored, and any event type
//! this crate does not model (or whose data does not fit) is delivered as
//! [`EventData::Other`] with its raw JSON: a new Clerk event is never
//! rejected.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{
    DeletedObject, InvitationData, MembershipData, OrganizationRecord, SessionData, User,
};

/// One verified webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// The delivery id (`svix-id`): deduplicate on it, deliveries are retried.
    pub delivery_id: String,
    /// The event type, e.g. `user.created`.
    pub kind: String,
    /// Always `event` for Clerk events.
    pub object: String,
    /// When Clerk created the event (milliseconds since the epoch).
    pub timestamp: Option<i64>,
    /// The Clerk instance id, when sent.
    pub instance_id: Option<String>,
    /// Extra attributes (e.g. the HTTP request that caused the event).
    pub event_attributes: Option<Value>,
    /// The typed data.
    pub data: EventData,
    /// The `data` object exactly as sent.
    pub raw_data: Value,
}

/// The data of an event, by type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventData {
    /// `user.created`, `user.updated`: the same record the Backend API
    /// returns.
    User(Box<User>),
    /// `user.deleted`, `organization.deleted`, `session.*` removals, ...:
    /// what was deleted (Clerk's `DeletedObject`: `deleted: true`).
    #[non_exhaustive]
    Deleted {
        /// The id of what was deleted.
        id: Option<String>,
        /// Its object type, e.g. `user`.
        object: Option<String>,
    },
    /// `session.created`, `session.ended`, `session.removed`, `session.revoked`.
    Session(SessionData),
    /// `organization.created`, `organization.updated`.
    Organization(Box<OrganizationRecord>),
    /// `organizationMembership.created|updated|deleted`.
    Membership(Box<MembershipData>),
    /// `organizationInvitation.created|accepted|revoked`.
    Invitation(InvitationData),
    /// `email.created`.
    Email(EmailData),
    /// Any other event type, or data that did not fit the typed shape.
    Other(Value),
}

/// An email Clerk sent (`email.created`).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct EmailData {
    /// `ema_...`.
    pub id: String,
    /// Recipient.
    pub to_email_address: Option<String>,
    /// Sender name.
    pub from_email_name: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Template slug, e.g. `verification_code`.
    pub slug: Option<String>,
    /// Delivery status.
    pub status: Option<String>,
    /// `user_...`, when the email concerns a user.
    pub user_id: Option<String>,
    /// `idn_...` of the recipient address.
    pub email_address_id: Option<String>,
    /// Template data.
    pub data: Value,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    event_attributes: Option<Value>,
    #[serde(default)]
    data: Value,
}

fn typed<T: DeserializeOwned>(data: &Value, wrap: impl FnOnce(T) -> EventData) -> EventData {
    // An explicit `null` reads as absent, as in Backend API answers.
    match T::deserialize(crate::api::without_nulls(data.clone())) {
        Ok(v) => wrap(v),
        Err(_) => EventData::Other(data.clone()),
    }
}

impl WebhookEvent {
    /// Reads an event body; `None` when it is not a JSON object with a
    /// string `type`.
    pub fn from_json(delivery_id: &str, body: &[u8]) -> Option<Self> {
        let env: Envelope = serde_json::from_slice(body).ok()?;
        let deleted = env.data.get("deleted").and_then(Value::as_bool) == Some(true);
        let data = match env.kind.as_str() {
            _ if deleted => typed(&env.data, |d: DeletedObject| EventData::Deleted {
                id: d.id,
                object: d.object,
            }),
            "user.created" | "user.updated" => typed(&env.data, |u| EventData::User(Box::new(u))),
            k if k.starts_with("session.") => typed(&env.data, EventData::Session),
            "organization.created" | "organization.updated" => {
                typed(&env.data, |o| EventData::Organization(Box::new(o)))
            }
            k if k.starts_with("organizationMembership.") => {
                typed(&env.data, |m| EventData::Membership(Box::new(m)))
            }
            k if k.starts_with("organizationInvitation.") => {
                typed(&env.data, EventData::Invitation)
            }
            "email.created" => typed(&env.data, EventData::Email),
            _ => EventData::Other(env.data.clone()),
        };
        Some(Self {
            delivery_id: delivery_id.to_owned(),
            kind: env.kind,
            object: env.object.unwrap_or_else(|| "event".to_owned()),
            timestamp: env.timestamp,
            instance_id: env.instance_id,
            event_attributes: env.event_attributes,
            data,
            raw_data: env.data,
        })
    }

    /// The id of the object the event is about (`data.id`), when present.
    pub fn object_id(&self) -> Option<&str> {
        self.raw_data.get("id").and_then(Value::as_str)
    }
}
