//! Machine tokens against a local fake Backend API: acceptance per layer,
//! no network for refused kinds, single-flight, bounded calls for floods of
//! bad keys, outages, and JWT-shaped M2M/OAuth tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use clerk_core::adapter::WithPeer;
use clerk_core::clock::ManualClock;
use clerk_core::machine::{AcceptsToken, TokenType};
use clerk_core::protect::{Pass, Protect};
use clerk_core::testing::{FakeBackendApi, Outage, TestIssuer, request};
use clerk_core::{Auth, Clerk, Reason, Requirement};
use http::{HeaderMap, HeaderValue, header};
use serde_json::json;

const NOW: i64 = 1_750_000_000;
const GOOD_KEY: &str = "ak_live_9f8e7d6c5b4a39f8e7d6c5b4a3";
const GOOD_M2M: &str = "mt_9F8E7D6C5B4A39F8E7D6C5B4A3210FED";
const GOOD_OAUTH: &str = "oat_9f8e7d6c5b4a39f8e7d6c5b4a3210fed";

struct Fixture {
    issuer: TestIssuer,
    fake: FakeBackendApi,
    clock: Arc<ManualClock>,
}

impl Fixture {
    async fn new() -> Self {
        let fake = FakeBackendApi::start().await.unwrap();
        fake.add_token(
            GOOD_KEY,
            json!({"object": "api_key", "id": "ak_1", "subject": "user_1", "name": "ci",
                "scopes": ["read"], "claims": {"team": "a"}, "revoked": false, "expired": false, "expiration": null}),
        );
        fake.add_token(
            GOOD_M2M,
            json!({"object": "machine_to_machine_token", "id": "mt_1", "subject": "mch_1",
                "scopes": ["mch_2"], "revoked": false, "expired": false, "expiration": (NOW + 3600) * 1000}),
        );
        fake.add_token(
            GOOD_OAUTH,
            json!({"object": "clerk_idp_oauth_access_token", "id": "oat_1", "client_id": "client_1",
                "subject": "user_9", "scopes": ["profile", "email"], "revoked": false, "expired": false}),
        );
        fake.add_token(
            "ak_revoked_5b4a39f8e7d6c",
            json!({"subject": "user_1", "revoked": true}),
        );
        fake.add_token(
            "ak_expired_5b4a39f8e7d6c",
            json!({"subject": "user_1", "expiration": (NOW - 1) * 1000}),
        );
        Self {
            issuer: TestIssuer::new(),
            fake,
            clock: Arc::new(ManualClock::new(NOW)),
        }
    }

    fn clerk(&self) -> Clerk {
        self.clerk_with(|b| b)
    }

    /// A `Clerk` of this fixture, its configuration edited by `edit`.
    fn clerk_with(
        &self,
        edit: impl FnOnce(
            clerk_core::config::ClerkConfigBuilder,
        ) -> clerk_core::config::ClerkConfigBuilder,
    ) -> Clerk {
        let builder = self
            .issuer
            .config()
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(self.fake.base_url())
            .clock(self.clock.clone())
            .http_timeout(Duration::from_millis(500));
        Clerk::new(edit(builder).build().unwrap()).unwrap()
    }
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

/// True when `clerk` verifies the machine token `token`.
async fn verified(clerk: &Clerk, token: &str) -> bool {
    clerk.authenticate(&bearer(token)).await.machine().is_some()
}

/// Why `clerk` refuses `token` (panics when it does not).
async fn refused(clerk: &Clerk, token: &str) -> Reason {
    reason(&clerk.authenticate(&bearer(token)).await)
}

fn reason(auth: &Auth) -> Reason {
    match auth {
        Auth::SignedOut(r) => *r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn each_kind_is_accepted_where_allowed_and_refused_elsewhere_without_network() {
    let f = Fixture::new().await;
    let session_only = f.clerk();
    let m2m_jwt = f
        .issuer
        .m2m_token("mch_7", &["read"])
        .issued_at(NOW)
        .build();
    let oauth_jwt = f
        .issuer
        .oauth_token("user_3", "client_3", &["email"])
        .issued_at(NOW)
        .build();
    for token in [
        GOOD_KEY,
        GOOD_M2M,
        GOOD_OAUTH,
        m2m_jwt.as_str(),
        oauth_jwt.as_str(),
    ] {
        let auth = session_only.authenticate(&bearer(token)).await;
        assert_eq!(reason(&auth), Reason::TokenTypeMismatch, "{token}");
    }
    assert_eq!(f.fake.calls(), 0, "refused kinds never reach the network");
    let session = f.issuer.token().issued_at(NOW).build();
    assert!(
        session_only
            .authenticate(&bearer(&session))
            .await
            .is_signed_in()
    );

    let keys_only = session_only.accepting(AcceptsToken::only([TokenType::ApiKey]));
    let auth = keys_only.authenticate(&bearer(GOOD_KEY)).await;
    let m = auth.machine().expect("machine identity");
    assert_eq!(m.token_type, TokenType::ApiKey);
    assert_eq!(
        (m.user_id(), m.name.as_deref()),
        (Some("user_1"), Some("ci"))
    );
    assert_eq!(m.claims["team"], "a");
    assert_eq!(f.fake.calls(), 1);
    assert_eq!(f.fake.seen()[0].line, "POST /v1/api_keys/verify");
    assert_eq!(
        f.fake.seen()[0].authorization.as_deref(),
        Some("Bearer sk_test_your_clerk_key_here")
    );
    assert_eq!(
        reason(&keys_only.authenticate(&bearer(GOOD_M2M)).await),
        Reason::TokenTypeMismatch
    );
    assert_eq!(
        reason(&keys_only.authenticate(&bearer(&session)).await),
        Reason::TokenTypeMismatch
    );
    assert_eq!(f.fake.calls(), 1);

    let any = session_only.accepting(AcceptsToken::Any);
    let m = any.authenticate(&bearer(GOOD_M2M)).await;
    assert_eq!(m.machine().unwrap().machine_id(), Some("mch_1"));
    let o = any.authenticate(&bearer(GOOD_OAUTH)).await;
    assert_eq!(o.machine().unwrap().client_id.as_deref(), Some("client_1"));
    let j = any.authenticate(&bearer(&m2m_jwt)).await;
    let j = j.machine().expect("JWT M2M verifies locally");
    assert_eq!(
        (j.token_type, j.machine_id()),
        (TokenType::M2mToken, Some("mch_7"))
    );
    assert!(j.has_scope("read"));
    let o = any.authenticate(&bearer(&oauth_jwt)).await;
    let o = o.machine().expect("JWT OAuth verifies locally");
    assert_eq!(
        (o.token_type, o.user_id(), o.client_id.as_deref()),
        (TokenType::OAuthToken, Some("user_3"), Some("client_3"))
    );
    assert!(any.authenticate(&bearer(&session)).await.is_signed_in());
    assert_eq!(
        f.fake.calls(),
        3,
        "JWT machine tokens need no Backend API call"
    );

    // Machine tokens only travel in the Authorization header.
    let mut cookie = HeaderMap::new();
    cookie.insert(
        header::COOKIE,
        HeaderValue::from_static("__session=ak_live_good"),
    );
    assert_eq!(
        reason(&any.authenticate(&cookie).await),
        Reason::TokenTypeMismatch
    );
    assert_eq!(f.fake.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_for_a_thousand_concurrent_lookups_of_one_key() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let clerk = clerk.clone();
            tokio::spawn(async move { clerk.authenticate(&bearer(GOOD_KEY)).await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().machine().is_some());
    }
    assert_eq!(f.fake.calls(), 1);
}

/// 5,000 tokens that cannot be Clerk machine tokens cost no Backend API
/// call at all.
#[tokio::test]
async fn junk_of_the_wrong_shape_makes_no_call() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    let shapes: [fn(usize) -> String; 10] = [
        |i| format!("ak_{i}"),                          // too short
        |i| format!("ak_{}", "a".repeat(513 + i % 50)), // too long
        |i| format!("ak_{i:016}.x"),                    // a dot
        |i| format!("mt_{i:016}\t/="),                  // a control character
        |i| format!("oat_{i:016}%20"),
        |i| format!("ak_{i:016}é"),
        |_| "mt_".to_owned(),
        |i| format!("oat_{i:08}"),
        |i| format!("ak_{i:016}!"),
        |i| format!("mt_{i:016}~"),
    ];
    for i in 0..5000 {
        let token = shapes[i % shapes.len()](i);
        let mut h = HeaderMap::new();
        let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            continue;
        };
        h.insert(header::AUTHORIZATION, v);
        assert_eq!(
            reason(&clerk.authenticate(&h).await),
            Reason::TokenInvalid,
            "{token}"
        );
    }
    assert_eq!(f.fake.calls(), 0);
}

/// A flood of well-shaped unknown keys: calls never exceed the budget
/// (50 per 10 s, of which unknown machine tokens may use 15), a legitimate key
/// verified before the flood keeps working throughout (from the cache,
/// then for the stale window), and a new legitimate key verifies as soon
/// as budget returns.
#[tokio::test]
async fn a_flood_of_well_shaped_keys_stays_in_the_budget_and_legitimate_keys_keep_working() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    assert!(verified(&clerk, GOOD_KEY).await);
    let mut calls = f.fake.calls();
    assert_eq!(calls, 1);
    let mut throttled = 0;
    // 5,000 distinct keys over 12 windows of 10 s (two minutes).
    for window in 0..12 {
        let start = f.fake.calls();
        for j in 0..417 {
            let token = format!("ak_flood_{window:02}_{j:016}");
            match refused(&clerk, &token).await {
                Reason::TokenInvalid => {}
                Reason::BackendApiUnavailable => throttled += 1,
                r => panic!("{r:?}"),
            }
        }
        let used = f.fake.calls() - start;
        assert!(used <= 15 + 1, "window {window}: {used} calls");
        assert!(
            verified(&clerk, GOOD_KEY).await,
            "the legitimate key answers during the flood (window {window})"
        );
        calls = f.fake.calls();
        f.clock.advance(10);
    }
    assert!(
        throttled > 4000,
        "most of the flood was refused: {throttled}"
    );
    assert!(calls <= 1 + 12 * 16);
    // Budget is back: a new legitimate key verifies at once.
    assert!(verified(&clerk, GOOD_M2M).await);
    // Re-checks of a known key stayed outside the flood's half of the
    // budget: the legitimate key was re-verified, not merely remembered.
    assert!(calls > 1 + 6, "the known key was re-checked: {calls}");
}

/// A key revoked at Clerk is refused once its cache entry ages, even when
/// the budget is spent as its re-check comes: a refusal by our own budget
/// is no outage, and nothing is served stale because of it.
#[tokio::test]
async fn a_revoked_key_is_never_kept_alive_by_a_spent_budget() {
    let f = Fixture::new().await;
    let clerk = f.clerk_with(|b| {
        b.backend_budget(clerk_core::config::BackendBudget {
            calls: 4,
            ..clerk_core::config::BackendBudget::default()
        })
    });
    let clerk = clerk.accepting(AcceptsToken::Any);
    assert!(verified(&clerk, GOOD_KEY).await);
    f.fake.remove_token(GOOD_KEY);
    // Past the TTL, in a window whose budget signed-in users spent.
    f.clock.advance(61);
    for i in 0..4 {
        let _ = clerk.directory().get_user(&format!("user_{i}")).await;
    }
    let calls = f.fake.calls();
    assert_eq!(
        refused(&clerk, GOOD_KEY).await,
        Reason::BackendApiUnavailable,
        "not asked, and not served stale"
    );
    assert_eq!(f.fake.calls(), calls);
    // The next window asks Clerk, who no longer knows it.
    f.clock.advance(10);
    assert_eq!(refused(&clerk, GOOD_KEY).await, Reason::TokenInvalid);
    // A 429 is no outage either: a key verified before is not served
    // stale while Clerk throttles.
    let other = "ak_other_5b4a39f8e7d6c5b4a39f";
    f.fake.add_token(other, json!({"subject": "user_3"}));
    f.clock.advance(10);
    assert!(verified(&clerk, other).await);
    f.clock.advance(61);
    f.fake.set_outage(Some(Outage::Status(429, Some(5))));
    assert_eq!(refused(&clerk, other).await, Reason::BackendApiUnavailable);
}

/// Under a flood of distinct well-shaped junk keys from one client, a
/// legitimate key never seen before, from another client, verifies at
/// once (no time passes), and the junk costs at most its client's part of
/// the share: 4 calls of the 15.
#[tokio::test]
async fn a_flood_from_one_client_never_locks_out_new_keys_of_another() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    let from = |ip: &str, token: &str| {
        let h = bearer(token);
        let peer = ip.parse().ok();
        let clerk = clerk.clone();
        async move {
            clerk
                .authenticate(&WithPeer {
                    request: &request("GET", "/api", &h),
                    peer,
                })
                .await
        }
    };
    for j in 0..1000 {
        let auth = from("203.0.113.9", &format!("ak_junk_{j:020}")).await;
        assert!(matches!(
            reason(&auth),
            Reason::TokenInvalid | Reason::BackendApiUnavailable
        ));
    }
    assert_eq!(f.fake.calls(), 4, "the flooding client's part of the share");
    let auth = from("198.51.100.4", GOOD_KEY).await;
    assert!(auth.machine().is_some(), "{auth:?}");
    // Once verified, a key is known: its re-checks come out of the
    // reserve, whatever floods the share in the same window.
    f.clock.advance(61);
    for j in 0..100 {
        let _ = from(&format!("192.0.2.{j}"), &format!("ak_more_{j:020}")).await;
    }
    let calls = f.fake.calls();
    assert!(from("198.51.100.4", GOOD_KEY).await.machine().is_some());
    assert_eq!(f.fake.calls(), calls + 1, "re-checked, not remembered");
}

/// Behind a trusted proxy, the client is the forwarded address: a flood
/// from one client through the proxy costs that client's part, and a new
/// key of another client through the same proxy verifies at once.
#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_the_forwarded_addresses() {
    let f = Fixture::new().await;
    let proxy: ipnet::IpNet = "10.0.0.0/8".parse().unwrap();
    let clerk = f
        .clerk_with(|b| b.trusted_proxies([proxy]))
        .accepting(AcceptsToken::Any);
    let via_proxy = |forwarded: &str, token: &str| {
        let mut h = bearer(token);
        h.insert("x-forwarded-for", HeaderValue::from_str(forwarded).unwrap());
        let clerk = clerk.clone();
        async move {
            clerk
                .authenticate(&WithPeer {
                    request: &request("GET", "/api", &h),
                    peer: "10.1.2.3".parse().ok(),
                })
                .await
        }
    };
    for j in 0..200 {
        // The flooder forges hops to its left: only the nearest counts.
        let forged = format!("198.51.100.{}, 203.0.113.9, 10.0.0.7", j % 250);
        let _ = via_proxy(&forged, &format!("ak_junk_{j:020}")).await;
    }
    assert_eq!(f.fake.calls(), 4, "one client's part, forged hops or not");
    let auth = via_proxy("198.51.100.4", GOOD_KEY).await;
    assert!(auth.machine().is_some(), "{auth:?}");
}

/// During an outage a key verified in the last minutes keeps working, up to
/// the stale window; a key Clerk has since refused never does.
#[tokio::test]
async fn stale_serving_never_revives_a_refused_key() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    let revoked_later = "ak_revoked_later_5b4a39f8e7d6c";
    f.fake.add_token(
        revoked_later,
        json!({"id": "ak_2", "subject": "user_2", "revoked": false, "expired": false}),
    );
    assert!(verified(&clerk, GOOD_KEY).await);
    assert!(verified(&clerk, revoked_later).await);
    // Clerk revokes the second key; the next re-check (past the 60 s TTL)
    // learns it.
    f.clock.advance(61);
    f.fake
        .add_token(revoked_later, json!({"subject": "user_2", "revoked": true}));
    assert_eq!(refused(&clerk, revoked_later).await, Reason::TokenRevoked);
    // Then the Backend API goes down (past the 10 s negative cache).
    f.clock.advance(11);
    f.fake.set_outage(Some(Outage::Status(503, None)));
    assert_eq!(
        refused(&clerk, revoked_later).await,
        Reason::BackendApiUnavailable,
        "a revoked key is not served stale"
    );
    assert!(
        verified(&clerk, GOOD_KEY).await,
        "a good key verified 72 s ago is"
    );
    // Past the TTL plus the stale window (360 s), it is not any more.
    f.clock.advance(300);
    assert_eq!(
        refused(&clerk, GOOD_KEY).await,
        Reason::BackendApiUnavailable
    );
}

#[tokio::test]
async fn backend_down_is_503_for_opaque_tokens_while_sessions_keep_working() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    let protect = Protect::new(Requirement::signed_in()).accepts_token(AcceptsToken::Any);
    let session = f.issuer.token().issued_at(NOW).build();
    for outage in [
        Outage::Status(500, None),
        Outage::Status(429, Some(3)),
        Outage::Hang,
    ] {
        f.fake.set_outage(Some(outage.clone()));
        let auth = clerk.authenticate(&bearer(GOOD_KEY)).await;
        assert_eq!(reason(&auth), Reason::BackendApiUnavailable, "{outage:?}");
        let refused = protect
            .decide("GET", "/api/machine", &HeaderMap::new(), &auth)
            .await;
        assert_eq!(refused.unwrap_err().status(), 503, "{outage:?}");
        assert!(
            clerk.authenticate(&bearer(&session)).await.is_signed_in(),
            "{outage:?}"
        );
    }
    // Outages are not remembered: recovery comes once the 429's pause
    // (its Retry-After, 3 s) has passed.
    f.fake.set_outage(None);
    f.clock.advance(3);
    assert!(verified(&clerk, GOOD_KEY).await);
}

#[tokio::test]
async fn revoked_expired_and_unknown_keys() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    assert_eq!(
        reason(
            &clerk
                .authenticate(&bearer("ak_revoked_5b4a39f8e7d6c"))
                .await
        ),
        Reason::TokenRevoked
    );
    assert_eq!(
        reason(
            &clerk
                .authenticate(&bearer("ak_expired_5b4a39f8e7d6c"))
                .await
        ),
        Reason::TokenExpired
    );
    assert_eq!(
        reason(
            &clerk
                .authenticate(&bearer("oat_unknown_5b4a39f8e7d6c"))
                .await
        ),
        Reason::TokenInvalid
    );
    // A cached key stops working when it expires.
    assert!(verified(&clerk, GOOD_M2M).await);
    f.clock.advance(3600);
    assert_eq!(refused(&clerk, GOOD_M2M).await, Reason::TokenExpired);
}

#[tokio::test]
async fn machine_jwts_are_checked_like_sessions() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    let expired = f
        .issuer
        .m2m_token("mch_1", &[])
        .issued_at(NOW - 3600)
        .build();
    assert_eq!(refused(&clerk, &expired).await, Reason::TokenExpired);
    let not_a_machine = f.issuer.m2m_token("user_1", &[]).issued_at(NOW).build();
    assert_eq!(
        refused(&clerk, &not_a_machine).await,
        Reason::TokenTypeMismatch
    );
    let forged = TestIssuer::with_kid(f.issuer.kid())
        .oauth_token("user_1", "c", &[])
        .issued_at(NOW)
        .build();
    assert_eq!(
        refused(&clerk, &forged).await,
        Reason::TokenInvalidSignature
    );
    let other_issuer = f
        .issuer
        .oauth_token("user_1", "c", &[])
        .issued_at(NOW)
        .iss("https://evil.example")
        .build();
    assert_eq!(
        refused(&clerk, &other_issuer).await,
        Reason::TokenInvalidIssuer
    );
}

#[tokio::test]
async fn scopes_routes_and_oauth_challenges() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    let machine = clerk.authenticate(&bearer(GOOD_KEY)).await;
    let h = HeaderMap::new();
    let read = Protect::new(Requirement::scope("read")).accepts_token(AcceptsToken::Any);
    assert!(matches!(
        read.decide("GET", "/", &h, &machine).await,
        Ok(Pass::Handler)
    ));
    let write = Protect::new(Requirement::scope("write")).accepts_token(AcceptsToken::Any);
    let refused = write.decide("GET", "/", &h, &machine).await;
    assert_eq!(refused.unwrap_err().status(), 403);
    // has() on a machine is false for user requirements.
    assert!(!machine.has(&Requirement::role("org:admin")));
    assert!(!machine.has(&Requirement::role("org:admin").not()));
    assert!(
        !machine.has(&Requirement::scope("read")),
        "has() is false for machines"
    );
    assert!(machine.machine().unwrap().has_scope("read"));
    // A session-only route refuses the machine.
    let session_route = Protect::signed_in();
    let r = session_route
        .decide("GET", "/", &h, &machine)
        .await
        .unwrap_err();
    assert_eq!(r.status(), 401);
    assert!(r.response().body().contains("token-type-mismatch"));
}

/// An MCP server's route: challenges point at the resource's own metadata
/// (RFC 9728), not at Clerk's; a refused token says `invalid_token`; an
/// OAuth token without the route's scope gets 403 `insufficient_scope`
/// naming it; sessions are refused as the wrong kind.
#[tokio::test]
async fn oauth_routes_challenge_with_the_resources_own_metadata() {
    let f = Fixture::new().await;
    let clerk = f
        .clerk_with(|b| {
            b.publishable_key(clerk_core::testing::publishable_key_for(
                "clerk.example.com",
                true,
            ))
        })
        .accepting(AcceptsToken::Any);
    let mcp = clerk
        .protected_resource("https://app.example.com/mcp")
        .unwrap();
    let route = Protect::new(Requirement::scope("mcp:write"))
        .accepts_token(AcceptsToken::only([TokenType::OAuthToken]))
        .oauth_resource(&mcp);
    let metadata = "https://app.example.com/.well-known/oauth-protected-resource/mcp";
    let challenge = |r: &clerk_core::Refusal| {
        r.response().headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let none = HeaderMap::new();
    let out = clerk.authenticate(&none).await;
    let r = route.decide("POST", "/mcp", &none, &out).await.unwrap_err();
    assert_eq!(r.status(), 401);
    assert_eq!(
        challenge(&r),
        format!("Bearer resource_metadata=\"{metadata}\"")
    );
    let forged = f
        .issuer
        .oauth_token("user_1", "c", &["mcp:write"])
        .issued_at(1)
        .build();
    let h = bearer(&forged);
    let out = clerk.authenticate(&h).await;
    let r = route.decide("POST", "/mcp", &h, &out).await.unwrap_err();
    assert_eq!(
        challenge(&r),
        format!("Bearer error=\"invalid_token\", resource_metadata=\"{metadata}\"")
    );
    // Signed in with the wrong scope: 403 naming the one missing.
    let reader = f
        .issuer
        .oauth_token("user_1", "c", &["mcp:read"])
        .issued_at(NOW)
        .build();
    let h = bearer(&reader);
    let auth = clerk.authenticate(&h).await;
    assert!(auth.machine().is_some(), "{auth:?}");
    let r = route.decide("POST", "/mcp", &h, &auth).await.unwrap_err();
    assert_eq!(r.status(), 403);
    assert_eq!(
        challenge(&r),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"mcp:write\", resource_metadata=\"{metadata}\""
        )
    );
    // Scopes that would not help (the route also needs a role no machine
    // has), or a token of another kind: a plain 403, no step-up.
    let mixed = Protect::new(Requirement::scope("mcp:write").and(Requirement::role("org:admin")))
        .accepts_token(AcceptsToken::Any)
        .oauth_resource(&mcp);
    let h = bearer(&reader);
    let auth = clerk.authenticate(&h).await;
    let r = mixed.decide("POST", "/mcp", &h, &auth).await.unwrap_err();
    assert_eq!(r.status(), 403);
    assert!(
        r.response()
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .is_none()
    );
    let h = bearer(GOOD_KEY);
    let auth = clerk.authenticate(&h).await;
    assert!(auth.machine().is_some());
    let keyed = Protect::new(Requirement::scope("mcp:write"))
        .accepts_token(AcceptsToken::Any)
        .oauth_resource(&mcp);
    let r = keyed.decide("POST", "/mcp", &h, &auth).await.unwrap_err();
    assert_eq!(r.status(), 403);
    assert!(
        r.response()
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .is_none(),
        "an API key is not sent for OAuth scopes"
    );
    let writer = f
        .issuer
        .oauth_token("user_1", "c", &["mcp:write"])
        .issued_at(NOW)
        .build();
    let h = bearer(&writer);
    let auth = clerk.authenticate(&h).await;
    assert!(matches!(
        route.decide("POST", "/mcp", &h, &auth).await,
        Ok(Pass::Handler)
    ));
    // A session token is the wrong kind here.
    let session = f.issuer.token().issued_at(NOW).build();
    let h = bearer(&session);
    let auth = clerk.authenticate(&h).await;
    let r = route.decide("POST", "/mcp", &h, &auth).await.unwrap_err();
    assert_eq!(r.status(), 401);
    assert!(r.response().body().contains("token-type-mismatch"));
    // Resource URLs that are not one.
    for bad in [
        "http://app.example.com/mcp",
        "https://app.example.com/mcp?x=1",
        "https://u@app.example.com/",
        "mcp",
    ] {
        assert!(clerk.protected_resource(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn oauth_jwts_need_the_configured_audience() {
    let f = Fixture::new().await;
    let clerk = |audience: Option<&str>| {
        f.clerk_with(|b| match audience {
            Some(aud) => b.audience([aud]),
            None => b,
        })
        .accepting(AcceptsToken::Any)
    };
    let oauth = |aud: Option<serde_json::Value>| {
        let b = f
            .issuer
            .oauth_token("user_1", "c", &["email"])
            .issued_at(NOW);
        match aud {
            Some(a) => b.claim("aud", a).build(),
            None => b.build(),
        }
    };
    let api = clerk(Some("https://api.example.com"));
    for (what, token) in [
        ("matching", oauth(Some(json!("https://api.example.com")))),
        (
            "matching in a list",
            oauth(Some(json!([
                "https://other.example",
                "https://api.example.com"
            ]))),
        ),
    ] {
        assert!(
            api.authenticate(&bearer(&token)).await.machine().is_some(),
            "{what}"
        );
    }
    for (what, token) in [
        ("missing", oauth(None)),
        ("another", oauth(Some(json!("https://other.example")))),
        ("empty list", oauth(Some(json!([])))),
        ("not a string", oauth(Some(json!(7)))),
    ] {
        assert_eq!(
            reason(&api.authenticate(&bearer(&token)).await),
            Reason::TokenVerificationFailed,
            "{what}"
        );
    }
    // Without a configured audience, `aud` is not required.
    assert!(
        clerk(None)
            .authenticate(&bearer(&oauth(None)))
            .await
            .machine()
            .is_some()
    );
    // An M2M JWT's `aud` is checked when present, not required.
    let m2m = f.issuer.m2m_token("mch_1", &[]).issued_at(NOW);
    assert!(
        api.authenticate(&bearer(&m2m.build()))
            .await
            .machine()
            .is_some()
    );
    let m2m = f.issuer.m2m_token("mch_1", &[]).issued_at(NOW);
    let wrong = m2m.claim("aud", "https://other.example").build();
    assert_eq!(
        reason(&api.authenticate(&bearer(&wrong)).await),
        Reason::TokenVerificationFailed
    );
}

#[tokio::test]
async fn token_categories_are_allow_lists() {
    let f = Fixture::new().await;
    let clerk = f.clerk().accepting(AcceptsToken::Any);
    let m2m = |cat: &str| {
        f.issuer
            .m2m_token("mch_1", &[])
            .issued_at(NOW)
            .header("cat", cat)
            .build()
    };
    for cat in ["cl_B7d4PD111AAA", "cl_B7d4PD222AAA", "cl_B7d4PD444AAA"] {
        assert_eq!(
            reason(&clerk.authenticate(&bearer(&m2m(cat))).await),
            Reason::TokenTypeMismatch,
            "M2M with cat {cat}"
        );
    }
    assert!(
        clerk
            .authenticate(&bearer(&m2m("cl_I7d4PD111III")))
            .await
            .machine()
            .is_some()
    );
    let session = |cat: &str| f.issuer.token().issued_at(NOW).header("cat", cat).build();
    for cat in ["cl_B7d4PD444AAA", "cl_B7d4PD222AAA", "x"] {
        assert_eq!(
            reason(&clerk.authenticate(&bearer(&session(cat))).await),
            Reason::TokenTypeMismatch,
            "session with cat {cat}"
        );
    }
    for cat in ["cl_B7d4PD111AAA", "cl_I7d4PD111III"] {
        assert!(
            clerk
                .authenticate(&bearer(&session(cat)))
                .await
                .is_signed_in(),
            "{cat}"
        );
    }
}

#[tokio::test]
async fn a_machine_id_must_be_in_an_m2m_tokens_scopes() {
    let f = Fixture::new().await;
    let clerk = |id: &str| {
        f.clerk_with(|b| b.machine_id(id))
            .accepting(AcceptsToken::Any)
    };
    // `GOOD_M2M` (opaque) has scopes ["mch_2"].
    let me = clerk("mch_2");
    let other = clerk("mch_3");
    assert!(me.authenticate(&bearer(GOOD_M2M)).await.machine().is_some());
    assert_eq!(
        reason(&other.authenticate(&bearer(GOOD_M2M)).await),
        Reason::TokenVerificationFailed
    );
    let jwt = f
        .issuer
        .m2m_token("mch_1", &["mch_2"])
        .issued_at(NOW)
        .build();
    assert!(me.authenticate(&bearer(&jwt)).await.machine().is_some());
    assert_eq!(
        reason(&other.authenticate(&bearer(&jwt)).await),
        Reason::TokenVerificationFailed
    );
    // Other machine kinds are not affected.
    assert!(
        other
            .authenticate(&bearer(GOOD_KEY))
            .await
            .machine()
            .is_some()
    );
}
