//! Webhook handling: verification, cache invalidation, the recent-events log.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use clerk_core::webhook::{WebhookEvent, WebhookVerifier};
use serde_json::{Value, json};

/// Webhook handling: the verifier, the user cache to invalidate, and the
/// last events received.
#[derive(Debug, Clone)]
pub struct WebhookState {
    /// Verifies deliveries.
    pub verifier: WebhookVerifier,
    users: Arc<clerk_core::users::UserDirectory>,
    recent: Arc<Mutex<VecDeque<Value>>>,
}

/// How many received events `GET /webhooks/recent` keeps.
pub const RECENT_EVENTS: usize = 100;

impl WebhookState {
    /// Handling with `verifier`, invalidating `users` on user and
    /// organization changes, and an empty event log.
    pub fn new(verifier: WebhookVerifier, users: Arc<clerk_core::users::UserDirectory>) -> Self {
        Self {
            verifier,
            users,
            recent: Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_EVENTS))),
        }
    }

    /// Handles a verified event: forgets cached users and organizations it
    /// changed, logs it and remembers it; returns the response body.
    pub async fn handle(&self, event: &WebhookEvent) -> Value {
        match (event.kind.as_str(), event.object_id()) {
            ("user.updated" | "user.deleted", Some(id)) => self.users.invalidate_user(id).await,
            ("organization.updated" | "organization.deleted", Some(id)) => {
                self.users.invalidate_organization(id).await;
            }
            _ => {}
        }
        self.record(event)
    }

    /// Logs and remembers a verified event; returns the response body.
    pub fn record(&self, event: &WebhookEvent) -> Value {
        tracing::info!(kind = %event.kind, delivery_id = %event.delivery_id, object_id = ?event.object_id(), "webhook received");
        let summary = json!({
            "type": event.kind,
            "delivery_id": event.delivery_id,
            "object_id": event.object_id(),
        });
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == RECENT_EVENTS {
            recent.pop_back();
        }
        recent.push_front(summary.clone());
        json!({"received": true, "event": summary})
    }

    /// The last events, newest first.
    pub fn recent(&self) -> Value {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        Value::Array(recent.iter().cloned().collect())
    }
}
