//! Remote key sets against a real local HTTP server: storms, rotation,
//! outages, hanging endpoints, and where the secret key goes. Time comes
//! from a manual clock; nothing sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use clerk_core::clock::{Clock, ManualClock};
use clerk_core::config::ClerkConfigBuilder;
use clerk_core::testing::{JwksServer, Reply, TEST_AUTHORIZED_PARTY, TestIssuer};
use clerk_core::{Clerk, ClerkConfig, Reason};
use serde_json::json;

const T0: i64 = 1_750_000_000;
const SECRET: &str = "sk_test_your_clerk_key_here";

fn jwks(issuers: &[&TestIssuer]) -> String {
    json!({ "keys": issuers.iter().map(|i| i.jwk()).collect::<Vec<_>>() }).to_string()
}

struct Fixture {
    clock: Arc<ManualClock>,
    server: JwksServer,
}

impl Fixture {
    async fn new(reply: Reply) -> Self {
        Self {
            clock: Arc::new(ManualClock::new(T0)),
            server: JwksServer::start(reply).await.unwrap(),
        }
    }

    fn config(&self) -> ClerkConfigBuilder {
        ClerkConfig::builder()
            .secret_key(SECRET)
            .api_url(self.server.base_url())
            .issuer(clerk_core::testing::TEST_ISSUER)
            .authorized_parties([TEST_AUTHORIZED_PARTY])
            .clock(self.clock.clone())
            .http_timeout(Duration::from_secs(5))
    }

    fn verifier(&self) -> Clerk {
        Clerk::new(self.config().build().unwrap()).unwrap()
    }

    fn token(&self, issuer: &TestIssuer) -> String {
        issuer.token().issued_at(self.clock.now_unix()).build()
    }
}

async fn reason(v: &Clerk, token: &str) -> Reason {
    v.verify(token).await.unwrap_err().reason()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_storm_rotation_and_cooldown() {
    let old = TestIssuer::with_kid("ins_old");
    let new = TestIssuer::with_kid("ins_new");
    let f = Fixture::new(Reply::Json(jwks(&[&old]))).await;
    let v = f.verifier();
    v.prefetch().await.unwrap();
    assert_eq!(f.server.requests(), 1);

    // The instance rotates in a new key; 1,000 requests carry it at once.
    f.server.set_reply(Reply::Json(jwks(&[&old, &new])));
    let token = f.token(&new);
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let v = v.clone();
            let token = token.clone();
            tokio::spawn(async move { v.verify(&token).await.map(|s| s.user_id().to_owned()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "user_test");
    }
    assert_eq!(f.server.requests(), 2, "one fetch for 1,000 requests");

    // A second unknown kid inside the cool-down: refused, no fetch.
    let stranger = TestIssuer::with_kid("ins_stranger");
    let t = f.token(&stranger);
    assert_eq!(reason(&v, &t).await, Reason::JwkKidMismatch);
    assert_eq!(reason(&v, &t).await, Reason::JwkKidMismatch);
    assert_eq!(f.server.requests(), 2);

    // After the cool-down, a newly rotated-in key is picked up.
    f.clock.advance(300);
    f.server.set_reply(Reply::Json(jwks(&[&new, &stranger])));
    let t = f.token(&stranger);
    assert!(v.verify(&t).await.is_ok());
    assert_eq!(f.server.requests(), 3);
}

#[tokio::test]
async fn known_kids_hit_the_cache_without_fetching() {
    let issuer = TestIssuer::new();
    let f = Fixture::new(Reply::Json(jwks(&[&issuer]))).await;
    let v = Clerk::new(f.config().token_cache_capacity(0).build().unwrap()).unwrap();
    assert!(!v.is_ready(), "nothing fetched before the first token");
    for _ in 0..20 {
        v.verify(&f.token(&issuer)).await.unwrap();
        f.clock.advance(60);
    }
    // 20 minutes inside the one-hour TTL: one fetch.
    assert_eq!(f.server.requests(), 1);
    assert!(v.is_ready());
    f.clock.advance(3600);
    v.verify(&f.token(&issuer)).await.unwrap();
    assert_eq!(f.server.requests(), 2, "TTL passed: refreshed");
}

#[tokio::test]
async fn outage_serves_last_good_keys_for_the_stale_window() {
    let issuer = TestIssuer::new();
    let f = Fixture::new(Reply::Json(jwks(&[&issuer]))).await;
    let v = Clerk::new(
        f.config()
            .key_cache(Duration::from_secs(3600), Duration::from_secs(86_400))
            .token_cache_capacity(0)
            .build()
            .unwrap(),
    )
    .unwrap();
    v.prefetch().await.unwrap();
    f.server.set_reply(Reply::Status(500));

    // Past the TTL, through the whole stale window, tokens keep verifying.
    let mut t = 3600;
    while t < 3600 + 86_400 {
        f.clock.set(T0 + t);
        assert!(v.verify(&f.token(&issuer)).await.is_ok(), "at +{t}s");
        t += 1800;
    }
    f.clock.set(T0 + 3600 + 86_399);
    assert!(v.verify(&f.token(&issuer)).await.is_ok());
    let attempts = f.server.requests() - 1;
    assert!(
        (1..=60).contains(&attempts),
        "failed refreshes are spaced by backoff, not per request: {attempts}"
    );
    assert!(v.is_ready());

    // The window is over: a clean "unavailable", never a panic.
    f.clock.set(T0 + 3600 + 86_400);
    let e = v.verify(&f.token(&issuer)).await.unwrap_err();
    assert_eq!(e.reason(), Reason::JwkRemoteFailedToLoad);
    assert!(e.reason().is_unavailable());
    assert!(!v.is_ready());

    // The endpoint recovers: the next allowed fetch restores service.
    f.server.set_reply(Reply::Json(jwks(&[&issuer])));
    f.clock.advance(300);
    assert!(v.verify(&f.token(&issuer)).await.is_ok());
}

#[tokio::test]
async fn first_fetch_failures_map_to_clear_reasons() {
    let issuer = TestIssuer::new();
    let mut bad = issuer.jwk();
    bad["kid"] = json!("ins_bad");
    bad["n"] = json!("!!!");
    let cases = [
        (Reply::Status(500), Reason::JwkRemoteFailedToLoad),
        (Reply::Status(404), Reason::JwkRemoteFailedToLoad),
        (Reply::Status(401), Reason::SecretKeyInvalid),
        (Reply::Status(403), Reason::SecretKeyInvalid),
        (Reply::Json("not json".into()), Reason::JwkFailedToResolve),
        (
            Reply::Json(r#"{"keys":[]}"#.into()),
            Reason::JwkFailedToResolve,
        ),
        (
            Reply::Json(json!({ "keys": [bad.clone()] }).to_string()),
            Reason::JwkFailedToResolve,
        ),
    ];
    for (reply, want) in cases {
        let f = Fixture::new(reply.clone()).await;
        let v = f.verifier();
        let e = v.verify(&f.token(&issuer)).await.unwrap_err();
        assert_eq!(e.reason(), want, "{reply:?}");
        assert!(e.reason().is_unavailable(), "{reply:?} is a 503, not a 401");
        assert!(v.prefetch().await.is_err());
        assert!(!v.is_ready());
    }
    // An oversized key set is refused without being buffered whole.
    let f = Fixture::new(Reply::Json(format!(
        r#"{{"keys":[],"pad":"{}"}}"#,
        "x".repeat(300 * 1024)
    )))
    .await;
    let e = f.verifier().verify(&f.token(&issuer)).await.unwrap_err();
    assert_eq!(e.reason(), Reason::JwkRemoteFailedToLoad);
    // One bad key among good ones is skipped, not fatal.
    let f = Fixture::new(Reply::Json(
        json!({ "keys": [bad, issuer.jwk()] }).to_string(),
    ))
    .await;
    assert!(f.verifier().verify(&f.token(&issuer)).await.is_ok());
}

#[tokio::test]
async fn backoff_limits_fetches_while_the_endpoint_is_down() {
    let issuer = TestIssuer::new();
    let f = Fixture::new(Reply::Status(503)).await;
    let v = f.verifier();
    for _ in 0..50 {
        assert_eq!(
            reason(&v, &f.token(&issuer)).await,
            Reason::JwkRemoteFailedToLoad
        );
    }
    assert_eq!(f.server.requests(), 1, "no retry before the backoff ends");
    f.clock.advance(5);
    let _ = v.verify(&f.token(&issuer)).await;
    assert_eq!(f.server.requests(), 2);
    f.clock.advance(5); // second backoff is 10 s
    let _ = v.verify(&f.token(&issuer)).await;
    assert_eq!(f.server.requests(), 2);
}

#[tokio::test]
async fn a_hanging_endpoint_is_cut_off_by_the_timeout() {
    let issuer = TestIssuer::new();
    let f = Fixture::new(Reply::Hang).await;
    let v = Clerk::new(
        f.config()
            .http_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .unwrap();
    // The guard only proves the call returns; the client's own timeout ends it.
    let outcome = tokio::time::timeout(Duration::from_secs(20), v.verify(&f.token(&issuer)))
        .await
        .expect("verification must not hang");
    assert_eq!(outcome.unwrap_err().reason(), Reason::JwkRemoteFailedToLoad);
}

#[tokio::test]
async fn the_secret_key_goes_only_to_the_backend_api() {
    let issuer = TestIssuer::new();
    let bapi = Fixture::new(Reply::Json(jwks(&[&issuer]))).await;
    bapi.verifier().verify(&bapi.token(&issuer)).await.unwrap();
    let seen = bapi.server.seen();
    assert_eq!(seen[0].line, "GET /v1/jwks");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer sk_test_your_clerk_key_here")
    );

    // Frontend API: no credentials, even with a secret key configured.
    let fapi = JwksServer::start(Reply::Json(jwks(&[&issuer])))
        .await
        .unwrap();
    let v = Clerk::new(
        ClerkConfig::builder()
            .publishable_key(clerk_core::testing::publishable_key_for(
                "clerk.example.com",
                true,
            ))
            .frontend_api_url(fapi.base_url())
            .issuer(clerk_core::testing::TEST_ISSUER)
            .clock(bapi.clock.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    v.verify(&bapi.token(&issuer)).await.unwrap();
    let seen = fapi.seen();
    assert_eq!(seen[0].line, "GET /.well-known/jwks.json");
    assert_eq!(seen[0].authorization, None);

    // A redirect from the Backend API is not followed: the secret never
    // reaches the other host.
    let elsewhere = JwksServer::start(Reply::Json(jwks(&[&issuer])))
        .await
        .unwrap();
    let redirecting =
        Fixture::new(Reply::Redirect(format!("{}/v1/jwks", elsewhere.base_url()))).await;
    let e = redirecting
        .verifier()
        .verify(&redirecting.token(&issuer))
        .await
        .unwrap_err();
    assert_eq!(e.reason(), Reason::JwkRemoteFailedToLoad);
    assert_eq!(elsewhere.requests(), 0);
}

#[tokio::test]
async fn a_lost_key_forgets_tokens_it_signed() {
    let keep = TestIssuer::with_kid("ins_keep");
    let gone = TestIssuer::with_kid("ins_gone");
    let f = Fixture::new(Reply::Json(jwks(&[&keep, &gone]))).await;
    let v = f.verifier();
    let gone_token = gone.token().issued_at(T0).ttl(7200).build();
    let first = v.verify(&gone_token).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &v.verify(&gone_token).await.unwrap()),
        "cached"
    );

    // The instance drops a key; the next refresh notices.
    f.server.set_reply(Reply::Json(jwks(&[&keep])));
    f.clock.advance(3600);
    v.verify(&f.token(&keep)).await.unwrap();
    assert_eq!(reason(&v, &gone_token).await, Reason::JwkKidMismatch);
}

/// A key replaced under the same `kid` (another modulus) is a lost key:
/// tokens the old key verified are not served from the cache any more.
#[tokio::test]
async fn a_key_replaced_under_its_kid_forgets_tokens_it_signed() {
    let old = TestIssuer::with_kid("ins_same");
    let f = Fixture::new(Reply::Json(jwks(&[&old]))).await;
    let v = f.verifier();
    let old_token = old.token().issued_at(T0).ttl(7200).build();
    let first = v.verify(&old_token).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &v.verify(&old_token).await.unwrap()),
        "cached"
    );

    // The same kid now names another key.
    let replacement = TestIssuer::with_kid("ins_same");
    f.server.set_reply(Reply::Json(jwks(&[&replacement])));
    f.clock.advance(3600);
    v.verify(&f.token(&replacement)).await.unwrap();
    assert_eq!(
        reason(&v, &old_token).await,
        Reason::TokenInvalidSignature,
        "re-verified against the new key, not served from the cache"
    );
}

#[tokio::test]
async fn prefetch_and_readiness() {
    let issuer = TestIssuer::new();
    let f = Fixture::new(Reply::Status(500)).await;
    let v = f.verifier();
    assert!(!v.is_ready());
    let e = v.prefetch().await.unwrap_err();
    assert_eq!(e.reason(), Reason::JwkRemoteFailedToLoad);
    f.server.set_reply(Reply::Json(jwks(&[&issuer])));
    v.prefetch().await.unwrap();
    assert!(v.is_ready());
    assert!(v.verify(&f.token(&issuer)).await.is_ok());
}
