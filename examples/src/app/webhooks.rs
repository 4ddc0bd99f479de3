//! Webhook handling: verification, cache invalidation, the local users
//! table ([`super::sync`]), the recent-events log.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use clerk_core::webhook::{WebhookEvent, WebhookVerifier};
use serde_json::{Value, json};

use super::admin::Reply;
use super::sync::UserStore;

/// Webhook handling: the verifier, the user cache to invalidate, and the
/// last events received.
#[derive(Debug, Clone)]
pub struct WebhookState {
    /// Verifies deliveries.
    pub verifier: WebhookVerifier,
    users: Arc<clerk_core::api::UserDirectory>,
    store: Option<UserStore>,
    recent: Arc<Mutex<VecDeque<Value>>>,
}

/// How many received events `GET /webhooks/recent` keeps.
pub const RECENT_EVENTS: usize = 100;

impl WebhookState {
    /// Handling with `verifier`, invalidating `users` on user and
    /// organization changes, and an empty event log.
    pub fn new(
        verifier: WebhookVerifier,
        users: Arc<clerk_core::api::UserDirectory>,
        store: Option<UserStore>,
    ) -> Self {
        Self {
            verifier,
            users,
            store,
            recent: Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_EVENTS))),
        }
    }

    /// The local users table the events keep, when there is one.
    pub fn store(&self) -> Option<&UserStore> {
        self.store.as_ref()
    }

    /// Handles a verified event: applies it to the local tables (one
    /// transaction, idempotent on the delivery id), forgets cached users
    /// and organizations it changed, logs it and remembers it. A database
    /// failure answers 500, so Clerk delivers the event again.
    pub async fn handle(&self, event: &WebhookEvent) -> Reply {
        let applied = match &self.store {
            Some(store) => match store.apply(event).await {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::error!(kind = %event.kind, delivery_id = %event.delivery_id, error = %e, "webhook not applied; Clerk will redeliver");
                    // The caches still forget what the event changed.
                    self.invalidate(event).await;
                    return Reply::new(500, json!({"error": "sync-failed"}));
                }
            },
            None => None,
        };
        self.invalidate(event).await;
        let mut body = self.record(event);
        if let Some(a) = applied {
            body["applied"] = json!(format!("{a:?}").to_lowercase());
        }
        Reply::new(200, body)
    }

    /// Forgets the cached user or organization an event changed.
    async fn invalidate(&self, event: &WebhookEvent) {
        match (event.kind.as_str(), event.object_id()) {
            ("user.updated" | "user.deleted", Some(id)) => self.users.invalidate_user(id).await,
            ("organization.updated" | "organization.deleted", Some(id)) => {
                self.users.invalidate_organization(id).await;
            }
            _ => {}
        }
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
