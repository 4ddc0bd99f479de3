//! The local users table loses nothing: duplicate deliveries, events out of
//! order, a backfill interleaved with webhooks, and a crash between the
//! statements and the commit, all leave exactly the right rows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};

use clerk_core::Clerk;
use clerk_core::testing::{FakeBackendApi, TestIssuer};
use clerk_core::webhook::WebhookEvent;
use clerk_examples::app::sync::{Applied, UserStore, apply_in};
use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection};

static DB: AtomicUsize = AtomicUsize::new(0);

/// A fresh in-memory database, shared by name so a second connection can
/// reach it (the crash test needs one outside the pool).
fn memory_url() -> String {
    let n = DB.fetch_add(1, Ordering::Relaxed);
    format!(
        "sqlite:file:users_sync_{}_{n}?mode=memory&cache=shared",
        std::process::id()
    )
}

async fn store() -> (UserStore, String) {
    let url = memory_url();
    (UserStore::open(&url).await.unwrap(), url)
}

fn user(id: &str, first: &str, updated_at: i64) -> Value {
    json!({"object": "user", "id": id, "first_name": first,
        "email_addresses": [{"id": "idn_1", "email_address": format!("{id}@example.com")}],
        "primary_email_address_id": "idn_1", "public_metadata": {"plan": first.to_lowercase()},
        "banned": false, "updated_at": updated_at, "created_at": 1_000})
}

fn event(delivery: &str, kind: &str, data: &Value, timestamp: i64) -> WebhookEvent {
    let body = json!({"type": kind, "object": "event", "timestamp": timestamp, "data": data});
    WebhookEvent::from_json(delivery, body.to_string().as_bytes()).unwrap()
}

fn updated(delivery: &str, id: &str, first: &str, at: i64) -> WebhookEvent {
    event(delivery, "user.updated", &user(id, first, at), at)
}

fn deleted(delivery: &str, id: &str, at: i64) -> WebhookEvent {
    event(
        delivery,
        "user.deleted",
        &json!({"object": "user", "id": id, "deleted": true}),
        at,
    )
}

async fn first_name(store: &UserStore, id: &str) -> Option<String> {
    store.user(id).await.unwrap().and_then(|r| r.first_name)
}

#[tokio::test]
async fn the_same_delivery_twice_applies_once() {
    let (store, _) = store().await;
    let e = event("msg_1", "user.created", &user("user_1", "Ada", 10), 10);
    assert_eq!(store.apply(&e).await.unwrap(), Applied::Changed);
    assert_eq!(store.apply(&e).await.unwrap(), Applied::Duplicate);
    // A redelivery after a later change does not roll it back.
    store
        .apply(&updated("msg_2", "user_1", "Grace", 20))
        .await
        .unwrap();
    assert_eq!(store.apply(&e).await.unwrap(), Applied::Duplicate);
    assert_eq!(first_name(&store, "user_1").await.as_deref(), Some("Grace"));
    assert_eq!(store.count("users").await.unwrap(), 1);
    assert_eq!(store.count("webhook_deliveries").await.unwrap(), 2);
}

#[tokio::test]
async fn events_out_of_order_keep_the_newest_and_deletions_stick() {
    let (store, _) = store().await;
    store
        .apply(&updated("msg_3", "user_1", "Third", 30))
        .await
        .unwrap();
    assert_eq!(
        store
            .apply(&updated("msg_2", "user_1", "Second", 20))
            .await
            .unwrap(),
        Applied::Stale
    );
    let created = event("msg_1", "user.created", &user("user_1", "First", 10), 10);
    assert_eq!(store.apply(&created).await.unwrap(), Applied::Stale);
    let row = store.user("user_1").await.unwrap().unwrap();
    assert_eq!(
        (
            row.first_name.as_deref(),
            row.updated_at,
            row.public_metadata.as_str()
        ),
        (Some("Third"), 30, r#"{"plan":"third"}"#)
    );

    // Deleted, then an update that was sent before the deletion arrives.
    assert_eq!(
        store.apply(&deleted("msg_4", "user_1", 40)).await.unwrap(),
        Applied::Changed
    );
    assert_eq!(
        store
            .apply(&updated("msg_5", "user_1", "Late", 35))
            .await
            .unwrap(),
        Applied::Stale
    );
    // Even an update stamped after it cannot bring the user back: ids are
    // never reused.
    assert_eq!(
        store
            .apply(&updated("msg_6", "user_1", "Ghost", 99))
            .await
            .unwrap(),
        Applied::Stale
    );
    assert!(store.user("user_1").await.unwrap().unwrap().deleted);
    assert_eq!(store.count("users").await.unwrap(), 0);

    // Deletion delivered before the creation it follows.
    store.apply(&deleted("msg_7", "user_2", 50)).await.unwrap();
    store
        .apply(&event(
            "msg_8",
            "user.created",
            &user("user_2", "Zombie", 45),
            45,
        ))
        .await
        .unwrap();
    assert!(store.user("user_2").await.unwrap().unwrap().deleted);
}

#[tokio::test]
async fn memberships_and_organizations_follow_the_same_rules() {
    let (store, _) = store().await;
    let org = json!({"object": "organization", "id": "org_1", "name": "Acme", "slug": "acme", "updated_at": 10});
    store
        .apply(&event("m1", "organization.created", &org, 10))
        .await
        .unwrap();
    let membership = |role: &str, at: i64| {
        json!({"object": "organization_membership", "id": "orgmem_1",
        "role": role, "organization": org, "public_user_data": {"user_id": "user_1"}, "updated_at": at})
    };
    store
        .apply(&event(
            "m2",
            "organizationMembership.created",
            &membership("org:member", 10),
            10,
        ))
        .await
        .unwrap();
    store
        .apply(&event(
            "m3",
            "organizationMembership.updated",
            &membership("org:admin", 20),
            20,
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .apply(&event(
                "m2b",
                "organizationMembership.updated",
                &membership("org:member", 15),
                15
            ))
            .await
            .unwrap(),
        Applied::Stale
    );
    let role: String = sqlx::query_scalar("SELECT role FROM memberships WHERE id = 'orgmem_1'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(role, "org:admin");
    store
        .apply(&event(
            "m4",
            "organizationMembership.deleted",
            &membership("org:admin", 20),
            30,
        ))
        .await
        .unwrap();
    assert_eq!(store.count("memberships").await.unwrap(), 0);
    store
        .apply(&event(
            "m5",
            "organization.deleted",
            &json!({"object": "organization", "id": "org_1", "deleted": true}),
            40,
        ))
        .await
        .unwrap();
    assert_eq!(store.count("organizations").await.unwrap(), 0);
    assert_eq!(
        store
            .apply(&event("m6", "email.created", &json!({"id": "ema_1"}), 50))
            .await
            .unwrap(),
        Applied::Ignored
    );
    // Event types Clerk may add under a kept prefix are acknowledged, whatever
    // their data, so svix never redelivers them (nor disables the endpoint).
    for (i, (kind, data)) in [
        ("user.banned", json!({"id": "user_1", "banned": true})),
        ("organization.archived", json!("not an object")),
        ("organizationMembership.suspended", json!({"id": 7})),
        ("user.created.v2", json!(null)),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            store
                .apply(&event(&format!("n{i}"), kind, &data, 60))
                .await
                .unwrap(),
            Applied::Ignored,
            "{kind}"
        );
    }
    // A kept type whose data cannot be read is still refused (redelivered).
    assert!(
        store
            .apply(&event("n9", "user.updated", &json!({"id": 7}), 70))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_backfill_interleaved_with_webhooks_leaves_the_right_rows() {
    let (store, _) = store().await;
    let fake = FakeBackendApi::start().await.unwrap();
    // What the Backend API lists: 5 users as of time 10.
    for i in 0..5 {
        fake.add_user(user(&format!("user_{i}"), "Listed", 10));
    }
    let clerk = Clerk::new(
        TestIssuer::new()
            .config()
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(fake.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    // While the backfill's list was in flight: user_1 updated, user_2
    // deleted, user_9 created (not in the list yet).
    store
        .apply(&updated("w1", "user_1", "Newer", 20))
        .await
        .unwrap();
    store.apply(&deleted("w2", "user_2", 20)).await.unwrap();
    store
        .apply(&event("w3", "user.created", &user("user_9", "New", 20), 20))
        .await
        .unwrap();

    // Clerk knows user_9 by now (the list may or may not show them: a row
    // the list lacks is asked for after the walk).
    fake.add_user(user("user_9", "New", 20));

    let report = store.backfill(clerk.api(), 2).await.unwrap();
    assert_eq!(report.seen, 6, "three pages of 2");
    assert_eq!(
        report.changed, 4,
        "user_0, user_3, user_4: new rows; user_9 rewritten with the same version"
    );
    assert_eq!(report.deleted, 0);
    assert_eq!(fake.calls(), 4, "three full pages, then an empty one");
    assert_eq!(
        first_name(&store, "user_0").await.as_deref(),
        Some("Listed")
    );
    assert_eq!(
        first_name(&store, "user_1").await.as_deref(),
        Some("Newer"),
        "the older listing lost"
    );
    assert!(
        store.user("user_2").await.unwrap().unwrap().deleted,
        "not resurrected"
    );
    assert_eq!(first_name(&store, "user_9").await.as_deref(), Some("New"));
    assert_eq!(store.count("users").await.unwrap(), 5);

    // Webhooks that arrive after the backfill still apply.
    store
        .apply(&updated("w4", "user_0", "Later", 30))
        .await
        .unwrap();
    assert_eq!(first_name(&store, "user_0").await.as_deref(), Some("Later"));
    // And the backfill again changes nothing it should not.
    let again = store.backfill(clerk.api(), 100).await.unwrap();
    assert_eq!(
        again.changed, 3,
        "only user_3, user_4 and user_9, rewritten with the same version"
    );
    assert_eq!(first_name(&store, "user_0").await.as_deref(), Some("Later"));
}

#[tokio::test]
async fn a_crash_between_the_statements_and_the_commit_loses_nothing_once_redelivered() {
    let (store, url) = store().await;
    store
        .apply(&updated("msg_1", "user_1", "Before", 10))
        .await
        .unwrap();
    let e = updated("msg_2", "user_1", "After", 20);

    // A second connection applies the event and dies before committing.
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    assert_eq!(apply_in(&mut tx, &e).await.unwrap(), Applied::Changed);
    drop(tx);
    conn.close().await.unwrap();

    assert_eq!(
        first_name(&store, "user_1").await.as_deref(),
        Some("Before"),
        "nothing half-applied"
    );
    assert_eq!(
        store.count("webhook_deliveries").await.unwrap(),
        1,
        "the delivery id was not kept"
    );
    // Clerk delivers it again (the crash answered no 2xx): it applies.
    assert_eq!(store.apply(&e).await.unwrap(), Applied::Changed);
    assert_eq!(first_name(&store, "user_1").await.as_deref(), Some("After"));
    assert_eq!(store.apply(&e).await.unwrap(), Applied::Duplicate);
}

#[tokio::test]
async fn kept_events_that_cannot_be_read_are_not_marked_applied() {
    let (store, _) = store().await;
    // `email_addresses` as a string: not a user record.
    let bad = event(
        "msg_bad",
        "user.updated",
        &json!({"id": "user_1", "email_addresses": "x", "updated_at": 5}),
        5,
    );
    assert!(store.apply(&bad).await.is_err());
    assert_eq!(
        store.count("webhook_deliveries").await.unwrap(),
        0,
        "Clerk will deliver it again"
    );
    // Explicit nulls are not a reason to refuse.
    let nulls = event(
        "msg_nulls",
        "user.updated",
        &json!({"id": "user_1", "first_name": null,
        "email_addresses": null, "banned": null, "updated_at": 6}),
        6,
    );
    assert_eq!(store.apply(&nulls).await.unwrap(), Applied::Changed);
}

#[tokio::test]
async fn deletions_cascade_scrub_and_are_never_undone_by_memberships() {
    let (store, _) = store().await;
    let org = json!({"object": "organization", "id": "org_1", "name": "Acme", "updated_at": 10});
    let membership = |id: &str, user: &str, at: i64| {
        json!({"object": "organization_membership", "id": id,
        "role": "org:member", "organization": org, "public_user_data": {"user_id": user}, "updated_at": at})
    };
    store
        .apply(&event("d1", "organization.created", &org, 10))
        .await
        .unwrap();
    store
        .apply(&event("d2", "user.created", &user("user_1", "Ada", 10), 10))
        .await
        .unwrap();
    store
        .apply(&event(
            "d3",
            "organizationMembership.created",
            &membership("orgmem_1", "user_1", 10),
            10,
        ))
        .await
        .unwrap();
    store.apply(&deleted("d4", "user_1", 20)).await.unwrap();
    let row = store.user("user_1").await.unwrap().unwrap();
    assert!(row.deleted);
    assert_eq!(
        (
            row.primary_email,
            row.first_name,
            row.public_metadata.as_str()
        ),
        (None, None, "{}"),
        "no personal data kept"
    );
    assert_eq!(
        store.count("memberships").await.unwrap(),
        0,
        "the user's memberships went with them"
    );
    // A late membership event for the deleted user: not brought back.
    assert_eq!(
        store
            .apply(&event(
                "d5",
                "organizationMembership.updated",
                &membership("orgmem_1", "user_1", 30),
                30
            ))
            .await
            .unwrap(),
        Applied::Stale
    );
    assert_eq!(
        store
            .apply(&event(
                "d6",
                "organizationMembership.created",
                &membership("orgmem_9", "user_1", 30),
                30
            ))
            .await
            .unwrap(),
        Applied::Stale
    );
    assert_eq!(store.count("memberships").await.unwrap(), 0);
    // An organization's deletion takes its memberships along.
    store
        .apply(&event("d7", "user.created", &user("user_2", "Bo", 10), 10))
        .await
        .unwrap();
    store
        .apply(&event(
            "d8",
            "organizationMembership.created",
            &membership("orgmem_2", "user_2", 10),
            10,
        ))
        .await
        .unwrap();
    assert_eq!(store.count("memberships").await.unwrap(), 1);
    store
        .apply(&event(
            "d9",
            "organization.deleted",
            &json!({"object": "organization", "id": "org_1", "deleted": true}),
            40,
        ))
        .await
        .unwrap();
    assert_eq!(store.count("memberships").await.unwrap(), 0);
    assert_eq!(
        store
            .apply(&event(
                "d10",
                "organizationMembership.created",
                &membership("orgmem_3", "user_2", 50),
                50
            ))
            .await
            .unwrap(),
        Applied::Stale
    );
}

#[tokio::test]
async fn a_backfill_finds_users_deleted_while_no_webhook_arrived() {
    let (store, _) = store().await;
    let fake = FakeBackendApi::start().await.unwrap();
    fake.add_user(user("user_1", "Still", 10));
    let clerk = Clerk::new(
        TestIssuer::new()
            .config()
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(fake.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    // The table knows a user Clerk deleted during the downtime.
    store
        .apply(&event(
            "e1",
            "user.created",
            &user("user_gone", "Gone", 5),
            5,
        ))
        .await
        .unwrap();
    let report = store.backfill(clerk.api(), 100).await.unwrap();
    assert_eq!((report.seen, report.changed, report.deleted), (1, 1, 1));
    assert!(store.user("user_gone").await.unwrap().unwrap().deleted);
    assert_eq!(store.count("users").await.unwrap(), 1);
    let asked: Vec<String> = fake.seen().into_iter().map(|r| r.line).collect();
    assert_eq!(
        asked,
        [
            "GET /v1/users?order_by=%2Bcreated_at&limit=100&offset=0",
            "GET /v1/users/user_gone"
        ]
    );
}

#[tokio::test]
async fn a_membership_deletion_sent_as_a_deleted_object_is_applied() {
    let (store, _) = store().await;
    let org = json!({"object": "organization", "id": "org_1", "name": "Acme", "updated_at": 10});
    let m = json!({"object": "organization_membership", "id": "orgmem_1", "role": "org:member",
        "organization": org, "public_user_data": {"user_id": "user_1"}, "updated_at": 10});
    store
        .apply(&event("x1", "organizationMembership.created", &m, 10))
        .await
        .unwrap();
    assert_eq!(store.count("memberships").await.unwrap(), 1);
    let gone = json!({"object": "organization_membership", "id": "orgmem_1", "deleted": true});
    assert_eq!(
        store
            .apply(&event("x2", "organizationMembership.deleted", &gone, 20))
            .await
            .unwrap(),
        Applied::Changed
    );
    assert_eq!(store.count("memberships").await.unwrap(), 0);
}
