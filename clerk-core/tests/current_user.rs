//! The current user from a local fake Backend API: typed decoding, one call
//! for concurrent lookups, expiry by the injected clock, invalidation, error
//! mapping, and user-data requirements in `Protect`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use clerk_core::clock::ManualClock;
use std::future::Future;

use clerk_core::api::{ApiError, UserDirectory};
use clerk_core::protect::{Pass, Protect};
use clerk_core::testing::{FakeBackendApi, Outage, TestIssuer};
use clerk_core::{Clerk, Requirement};
use http::{HeaderMap, HeaderValue, header};
use serde_json::json;

const NOW: i64 = 1_750_000_000;

fn realistic_user() -> serde_json::Value {
    json!({
        "id": "user_2d3vF6Zh4iYkq8GdGPN4aIhF0Pa", "object": "user", "username": null,
        "first_name": "Ada", "last_name": "Lovelace", "image_url": "https://img.clerk.com/abc",
        "has_image": true, "primary_email_address_id": "idn_primary", "primary_phone_number_id": null,
        "primary_web3_wallet_id": null, "password_enabled": true, "two_factor_enabled": true,
        "totp_enabled": true, "backup_code_enabled": false,
        "email_addresses": [
            {"id": "idn_other", "object": "email_address", "email_address": "ada@old.example",
             "verification": {"status": "verified", "strategy": "email_code"}, "linked_to": []},
            {"id": "idn_primary", "object": "email_address", "email_address": "ada@example.com",
             "verification": {"status": "verified", "strategy": "email_code"}, "linked_to": []}],
        "phone_numbers": [], "web3_wallets": [], "passkeys": [], "external_accounts": [],
        "public_metadata": {"role": "editor", "tier": 3}, "private_metadata": {"stripe": "cus_1"},
        "unsafe_metadata": {}, "external_id": null, "last_sign_in_at": 1713158400000_i64,
        "banned": false, "locked": false, "lockout_expires_in_seconds": null,
        "created_at": 1700000000000_i64, "updated_at": 1713158400000_i64, "delete_self_enabled": true
    })
}

fn realistic_org() -> serde_json::Value {
    json!({
        "object": "organization", "id": "org_2d3ZBq1J6gM0Sxz8pGMfOMJdD6e", "name": "Acme Inc",
        "slug": "acme", "image_url": "https://img.clerk.com/org", "has_image": true,
        "members_count": 12, "pending_invitations_count": 1, "max_allowed_memberships": 50,
        "admin_delete_enabled": true, "public_metadata": {"plan": "pro"}, "private_metadata": {},
        "created_by": "user_1", "created_at": 1700000000000_i64, "updated_at": 1713158400000_i64
    })
}

struct Fixture {
    fake: FakeBackendApi,
    clock: Arc<ManualClock>,
    issuer: TestIssuer,
}

impl Fixture {
    async fn new() -> Self {
        let fake = FakeBackendApi::start().await.unwrap();
        fake.add_user(realistic_user());
        fake.add_user(
            json!({"id": "user_nomfa", "first_name": "Bob", "two_factor_enabled": false}),
        );
        fake.add_organization(realistic_org());
        Self {
            fake,
            clock: Arc::new(ManualClock::new(NOW)),
            issuer: TestIssuer::new(),
        }
    }

    fn clerk(&self) -> Clerk {
        Clerk::new(
            self.issuer
                .config()
                .secret_key("sk_test_your_clerk_key_here")
                .api_url(self.fake.base_url())
                .clock(self.clock.clone())
                .user_cache(Duration::from_secs(60), Duration::from_secs(600))
                .http_timeout(Duration::from_millis(400))
                .build()
                .unwrap(),
        )
        .unwrap()
    }

    fn users(&self) -> Arc<UserDirectory> {
        self.clerk().directory().clone()
    }
}

#[tokio::test]
async fn realistic_payloads_decode() {
    let f = Fixture::new().await;
    let users = f.users();
    let u = users
        .get_user("user_2d3vF6Zh4iYkq8GdGPN4aIhF0Pa")
        .await
        .unwrap();
    assert_eq!(u.full_name().as_deref(), Some("Ada Lovelace"));
    assert_eq!(u.primary_email(), Some("ada@example.com"));
    assert!(u.two_factor_enabled && u.totp_enabled && !u.backup_code_enabled);
    assert_eq!(u.public_metadata["role"], "editor");
    #[derive(serde::Deserialize)]
    struct Meta {
        role: String,
        tier: u8,
    }
    let meta: Meta = u.public_metadata_as().unwrap();
    assert_eq!((meta.role.as_str(), meta.tier), ("editor", 3));
    let o = users
        .get_organization("org_2d3ZBq1J6gM0Sxz8pGMfOMJdD6e")
        .await
        .unwrap();
    assert_eq!(
        (o.name.as_str(), o.slug.as_deref(), o.members_count),
        ("Acme Inc", Some("acme"), Some(12))
    );
    assert_eq!(o.public_metadata["plan"], "pro");
    let seen = f.fake.seen();
    assert_eq!(
        seen[0].line,
        "GET /v1/users/user_2d3vF6Zh4iYkq8GdGPN4aIhF0Pa"
    );
    assert_eq!(
        seen[1].line,
        "GET /v1/organizations/org_2d3ZBq1J6gM0Sxz8pGMfOMJdD6e"
    );
    assert!(
        seen.iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer sk_test_your_clerk_key_here"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_for_a_thousand_concurrent_lookups() {
    let f = Fixture::new().await;
    let users = f.users();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let users = users.clone();
            tokio::spawn(async move { users.get_user("user_nomfa").await.map(|u| u.id.clone()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "user_nomfa");
    }
    assert_eq!(f.fake.calls(), 1);
}

#[tokio::test]
async fn expiry_by_the_injected_clock_and_invalidation() {
    let f = Fixture::new().await;
    let users = f.users();
    users.get_user("user_nomfa").await.unwrap();
    f.clock.advance(59);
    users.get_user("user_nomfa").await.unwrap();
    assert_eq!(f.fake.calls(), 1, "fresh for 60 s");
    f.clock.advance(1);
    users.get_user("user_nomfa").await.unwrap();
    assert_eq!(f.fake.calls(), 2, "refetched after the TTL");
    // A webhook says the user changed: the next lookup refetches.
    f.fake
        .add_user(json!({"id": "user_nomfa", "first_name": "Robert", "two_factor_enabled": true}));
    assert_eq!(
        users
            .get_user("user_nomfa")
            .await
            .unwrap()
            .first_name
            .as_deref(),
        Some("Bob")
    );
    users.invalidate_user("user_nomfa").await;
    let u = users.get_user("user_nomfa").await.unwrap();
    assert_eq!(u.first_name.as_deref(), Some("Robert"));
    assert_eq!(f.fake.calls(), 3);
    users
        .get_organization("org_2d3ZBq1J6gM0Sxz8pGMfOMJdD6e")
        .await
        .unwrap();
    users
        .invalidate_organization("org_2d3ZBq1J6gM0Sxz8pGMfOMJdD6e")
        .await;
    users
        .get_organization("org_2d3ZBq1J6gM0Sxz8pGMfOMJdD6e")
        .await
        .unwrap();
    assert_eq!(f.fake.calls(), 5);
}

#[tokio::test]
async fn failures_map_to_clear_kinds() {
    let f = Fixture::new().await;
    let users = f.users();
    assert_eq!(
        users.get_user("user_missing").await.unwrap_err().status(),
        Some(404)
    );
    let calls = f.fake.calls();
    assert_eq!(
        users.get_user("../etc/passwd").await.unwrap_err(),
        ApiError::InvalidInput("user id")
    );
    assert_eq!(f.fake.calls(), calls, "no call for a hostile id");
    f.fake.set_outage(Some(Outage::Status(401, None)));
    assert_eq!(
        users.get_user("user_nomfa").await.unwrap_err().status(),
        Some(401)
    );
    f.fake.set_outage(Some(Outage::Status(503, None)));
    assert_eq!(
        users.get_user("user_nomfa").await.unwrap_err().status(),
        Some(503)
    );
    f.fake.set_outage(Some(Outage::Hang));
    assert_eq!(
        users.get_user("user_nomfa").await.unwrap_err(),
        ApiError::Unreachable
    );
    // 429 is honoured: no call until Retry-After has passed.
    f.fake.set_outage(Some(Outage::Status(429, Some(30))));
    assert!(matches!(
        users.get_user("user_nomfa").await,
        Err(ApiError::RateLimited { retry_after, .. }) if retry_after.as_secs() == 30
    ));
    let calls = f.fake.calls();
    f.fake.set_outage(None);
    assert!(matches!(
        users.get_user("user_nomfa").await,
        Err(ApiError::RateLimited { .. })
    ));
    assert_eq!(f.fake.calls(), calls, "no call inside Retry-After");
    f.clock.advance(30);
    assert!(users.get_user("user_nomfa").await.is_ok());
}

/// `429 Retry-After: 86400` pauses every Backend API call for 60 s at most;
/// meanwhile cached and stale users keep being served, and calls resume
/// after the cap.
#[tokio::test]
async fn a_day_long_retry_after_is_capped_and_stale_users_are_served() {
    let f = Fixture::new().await;
    let clerk = f.clerk();
    let users = clerk.directory();
    let id = "user_2d3vF6Zh4iYkq8GdGPN4aIhF0Pa";
    assert!(users.get_user(id).await.is_ok());
    // Fresh for 60 s; then the Backend API throttles the instance for a day.
    f.clock.advance(61);
    f.fake.set_outage(Some(Outage::Status(429, Some(86_400))));
    let stale = users.get_user(id).await.unwrap();
    assert_eq!(stale.id, id, "the stale record, not a 503");
    assert!(
        matches!(
            users.get_user("user_nomfa").await,
            Err(ApiError::RateLimited { retry_after, .. }) if retry_after.as_secs() <= 60
        ),
        "never fetched: nothing stale to serve, and the pause is capped"
    );
    let calls = f.fake.calls();
    f.fake.set_outage(None);
    f.clock.advance(30);
    assert!(
        users.get_user(id).await.is_ok(),
        "still stale, still served"
    );
    assert_eq!(f.fake.calls(), calls, "no call during the pause");
    // The cap passes: calls resume, though Retry-After asked for a day.
    f.clock.advance(31);
    assert!(users.get_user("user_nomfa").await.is_ok());
    assert_eq!(f.fake.calls(), calls + 1);
    // Past the stale window (600 s after freshness), an outage is an error.
    f.clock.advance(700);
    f.fake.set_outage(Some(Outage::Status(503, None)));
    assert_eq!(users.get_user(id).await.unwrap_err().status(), Some(503));
    // Without a secret key there is nothing to ask.
    let keyless = Clerk::new(f.issuer.config().build().unwrap()).unwrap();
    assert_eq!(
        keyless
            .directory()
            .get_user("user_nomfa")
            .await
            .unwrap_err(),
        ApiError::NotConfigured
    );
}

#[tokio::test]
async fn enforced_mfa_through_protect() {
    let f = Fixture::new().await;
    let clerk = f.clerk();
    let protect = Protect::new(Requirement::mfa_enrolled());
    let auth_for = |user: &str| {
        let token = f.issuer.token().user(user).issued_at(NOW).build();
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    };
    let h = HeaderMap::new();
    let enrolled = clerk
        .authenticate(&auth_for("user_2d3vF6Zh4iYkq8GdGPN4aIhF0Pa"))
        .await;
    // The protection knows it needs the record: its decision waits for it.
    let mut decision = protect.decide("GET", "/", &h, &enrolled);
    let first = std::pin::Pin::new(&mut decision)
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    assert!(first.is_pending(), "the user's record is fetched first");
    assert!(matches!(decision.await, Ok(Pass::Handler)));
    let not_enrolled = clerk.authenticate(&auth_for("user_nomfa")).await;
    let refusal = protect
        .decide("GET", "/", &h, &not_enrolled)
        .await
        .unwrap_err();
    assert_eq!(
        (refusal.status().as_u16(), refusal.reason()),
        (403, "requirement-not-met")
    );
    // Token-only checks never call the Backend API.
    let calls = f.fake.calls();
    assert!(
        !not_enrolled.has(&Requirement::mfa_enrolled()),
        "needs the record: not met by has()"
    );
    assert!(
        Protect::new(Requirement::mfa())
            .decide("GET", "/", &h, &not_enrolled)
            .await
            .is_err()
    );
    assert_eq!(f.fake.calls(), calls);
    // Backend API down and nothing cached: 503.
    let fresh = Fixture::new().await;
    fresh.fake.set_outage(Some(Outage::Status(500, None)));
    let clerk = fresh.clerk();
    let token = fresh
        .issuer
        .token()
        .user("user_nomfa")
        .issued_at(NOW)
        .build();
    let mut hh = HeaderMap::new();
    hh.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let auth = clerk.authenticate(&hh).await;
    let r = protect.decide("GET", "/", &h, &auth).await.unwrap_err();
    assert_eq!(r.status(), 503);
    assert!(r.response().body().contains("backend-api-unavailable"));
}

/// One budget for the whole process: a 429 on a user lookup pauses key
/// fetches too (a key refresh for a new `kid` waits, the known keys keep
/// verifying), and the pause ends at its capped Retry-After.
#[tokio::test]
async fn a_429_anywhere_pauses_every_backend_api_caller() {
    let f = Fixture::new().await;
    let old = TestIssuer::with_kid("ins_old");
    f.fake
        .set_jwks(serde_json::json!({"keys": [old.jwk()]}).to_string());
    let clerk = Clerk::new(
        clerk_core::ClerkConfig::builder()
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(f.fake.base_url())
            .issuer(clerk_core::testing::TEST_ISSUER)
            .authorized_parties([clerk_core::testing::TEST_AUTHORIZED_PARTY])
            .clock(f.clock.clone())
            .jwks_cooldown(Duration::ZERO)
            .http_timeout(Duration::from_millis(400))
            .build()
            .unwrap(),
    )
    .unwrap();
    let token = |issuer: &TestIssuer| issuer.token().issued_at(NOW).build();
    assert!(clerk.verify(&token(&old)).await.is_ok());
    let calls = f.fake.calls();
    f.fake.set_outage(Some(Outage::Status(429, Some(120))));
    assert!(matches!(
        clerk.directory().get_user("user_nomfa").await,
        Err(ApiError::RateLimited { retry_after, .. }) if retry_after.as_secs() <= 60
    ));
    f.fake.set_outage(None);
    // A new key cannot be fetched during the pause; the old one verifies.
    let new = TestIssuer::with_kid("ins_new");
    f.fake
        .set_jwks(serde_json::json!({"keys": [old.jwk(), new.jwk()]}).to_string());
    assert!(clerk.verify(&token(&new)).await.is_err());
    assert!(clerk.verify(&token(&old)).await.is_ok());
    assert_eq!(f.fake.calls(), calls + 1, "only the call that got the 429");
    f.clock.advance(60);
    assert!(clerk.verify(&token(&new)).await.is_ok());
}
