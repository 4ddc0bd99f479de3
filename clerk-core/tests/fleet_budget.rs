//! The fleet-wide Backend API budget on a real Redis: two replicas of one
//! instance share one count per window and one 429 pause; with Redis down
//! each falls back to its local share (the fleet's calls divided by the
//! replicas), and counts in Redis again once it is back.
#![cfg(feature = "redis")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use clerk_core::Clerk;
use clerk_core::api::ApiError;
use clerk_core::clock::ManualClock;
use clerk_core::config::{BackendBudget, FleetBudget};
use clerk_core::testing::{FakeBackendApi, TestIssuer};
use serde_json::json;
use support::redis::RedisServer;

const NOW: i64 = 1_750_000_000;

fn replica(fake: &FakeBackendApi, redis_url: &str, clock: Arc<ManualClock>) -> Clerk {
    replica_with(
        fake,
        FleetBudget::new(redis_url).calls_per_window(10).replicas(2),
        clock,
    )
}

fn replica_with(fake: &FakeBackendApi, fleet: FleetBudget, clock: Arc<ManualClock>) -> Clerk {
    Clerk::new(
        TestIssuer::new()
            .config()
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(fake.base_url())
            .clock(clock)
            .backend_budget(BackendBudget {
                calls: 1000,
                ..BackendBudget::default()
            })
            .fleet_budget(fleet)
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// `user_1`'s first name as `clerk`'s directory has it.
async fn first_name(clerk: &Clerk) -> String {
    clerk
        .directory()
        .get_user("user_1")
        .await
        .unwrap()
        .first_name
        .clone()
        .unwrap_or_default()
}

/// Calls `get user` `n` times on `clerk`; how many were refused by a budget.
async fn refused_of(clerk: &Clerk, n: usize) -> usize {
    let mut refused = 0;
    for _ in 0..n {
        match clerk.api().users().get("user_1").await {
            Ok(_) => {}
            Err(ApiError::RateLimited { .. }) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_budget_and_fall_back_to_their_share_without_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let fake = FakeBackendApi::start().await.unwrap();
    fake.add_user(json!({"id": "user_1", "first_name": "A"}));
    let clock = Arc::new(ManualClock::new(NOW - NOW % 10));
    let (a, b) = (
        replica(&fake, &redis.url(), clock.clone()),
        replica(&fake, &redis.url(), clock.clone()),
    );

    // One window: 10 calls for both together.
    let refused = refused_of(&a, 6).await + refused_of(&b, 6).await;
    assert_eq!(refused, 2, "12 asked, 10 made");
    assert_eq!(fake.calls(), 10);

    // The next window: a 429 to one replica pauses the other too.
    clock.advance(10);
    fake.respond(
        "GET",
        "/v1/users/user_1",
        429,
        &[("retry-after", "5")],
        &json!({}),
    );
    assert!(matches!(
        a.api().users().get("user_1").await,
        Err(ApiError::RateLimited { .. })
    ));
    let before = fake.calls();
    assert!(matches!(
        b.api().users().get("user_1").await,
        Err(ApiError::RateLimited { .. })
    ));
    assert_eq!(fake.calls(), before, "b never called: paused by a's 429");

    // Redis down: each replica makes at most its share (10 / 2) a window,
    // and no call waits long for Redis.
    let port = redis.port;
    drop(redis);
    clock.advance(10);
    fake.respond(
        "GET",
        "/v1/users/user_1",
        200,
        &[],
        &json!({"id": "user_1"}),
    );
    let before = fake.calls();
    let started = std::time::Instant::now();
    let refused = refused_of(&a, 8).await;
    assert_eq!((refused, fake.calls() - before), (3, 5), "a's local share");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "never blocked on Redis"
    );

    // Redis back: counted in Redis again (after the 1 s retry pause).
    let redis = RedisServer::on(port).unwrap();
    clock.advance(10);
    let before = fake.calls();
    let refused = refused_of(&a, 8).await + refused_of(&b, 8).await;
    assert_eq!(
        (refused, fake.calls() - before),
        (6, 10),
        "one budget again"
    );
    drop(redis);
}

/// A webhook's invalidation on one replica reaches the other through
/// Redis: it stops serving its cached copy and fetches the new record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_on_one_replica_reaches_the_others() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let fake = FakeBackendApi::start().await.unwrap();
    fake.add_user(json!({"id": "user_1", "first_name": "Old", "updated_at": 1}));
    let clock = Arc::new(ManualClock::new(NOW));
    let (a, b) = (
        replica(&fake, &redis.url(), clock.clone()),
        replica(&fake, &redis.url(), clock.clone()),
    );
    assert_eq!(first_name(&a).await, "Old");
    assert_eq!(first_name(&b).await, "Old");
    fake.add_user(json!({"id": "user_1", "first_name": "New", "updated_at": 2}));
    assert_eq!(first_name(&b).await, "Old", "cached");

    // A's webhook handler forgets the user; B forgets it too. B may still
    // be subscribing when A sends, so A sends until B has it (bounded).
    let started = std::time::Instant::now();
    let arrived = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            a.directory().invalidate_user("user_1").await;
            for _ in 0..50 {
                if first_name(&b).await == "New" {
                    return;
                }
                tokio::task::yield_now().await;
            }
        }
    })
    .await;
    assert!(arrived.is_ok(), "B never heard of the invalidation");
    eprintln!(
        "fleet test: invalidation reached the other replica in {:?}",
        started.elapsed()
    );
    drop(redis);
}

/// A record one replica fetched is served to the others from Redis (one
/// Backend API call for the fleet), fresh for the same 60 s; an
/// invalidation removes the shared copy too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_fetched_once_serves_every_replica() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let fake = FakeBackendApi::start().await.unwrap();
    fake.add_user(json!({"id": "user_1", "first_name": "Old", "updated_at": 1}));
    let clock = Arc::new(ManualClock::new(NOW));
    let replicas: Vec<Clerk> = (0..3)
        .map(|_| {
            let fleet = FleetBudget::new(&redis.url()).calls_per_window(200);
            replica_with(&fake, fleet, clock.clone())
        })
        .collect();
    let calls = || {
        fake.seen()
            .iter()
            .filter(|s| s.line == "GET /v1/users/user_1")
            .count()
    };
    for r in &replicas {
        assert_eq!(first_name(r).await, "Old");
    }
    assert_eq!(calls(), 1, "one Backend API call for three replicas");

    // What a shared hit costs against the Backend API call it saves (the
    // local fake on loopback; Clerk's is a round trip to its region):
    // printed, not asserted.
    for i in 0..50 {
        fake.add_user(json!({"id": format!("user_c{i}"), "first_name": "C"}));
    }
    let timed = |c: Clerk| async move {
        let started = std::time::Instant::now();
        for i in 0..50 {
            c.directory().get_user(&format!("user_c{i}")).await.unwrap();
        }
        started.elapsed() / 50
    };
    let api = timed(replicas[0].clone()).await;
    let shared = timed(replicas[1].clone()).await;
    eprintln!(
        "fleet test: a lookup through the Backend API (local fake) {api:?}, a shared-cache hit {shared:?}"
    );
    assert_eq!(calls(), 1, "the timing lookups are other users");

    // Past its freshness (by the clock): fetched again, once.
    clock.advance(61);
    for r in &replicas {
        assert_eq!(first_name(r).await, "Old");
    }
    assert_eq!(calls(), 2);

    // Invalidated: the shared copy goes too, so the next replica asking
    // fetches the new record instead of reading the old one from Redis.
    fake.add_user(json!({"id": "user_1", "first_name": "New", "updated_at": 2}));
    replicas[0].directory().invalidate_user("user_1").await;
    let fresh = Clerk::clone(&replicas[2]);
    let arrived = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if first_name(&fresh).await == "New" {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(arrived.is_ok(), "never saw the new record");
    assert!(calls() >= 3);
    drop(redis);
}

/// Three replicas under a load of distinct users and API keys, against a
/// fake that answers 429 past Clerk's limit (100 a window): the fleet
/// keeps the fake under it, so it never answers 429; with Redis killed
/// the replicas keep answering within their local shares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_under_load_stay_under_clerks_limit() {
    use clerk_core::machine::{AcceptsToken, TokenType};
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let fake = FakeBackendApi::start().await.unwrap();
    for i in 0..300 {
        fake.add_user(json!({"id": format!("user_{i}"), "first_name": "U"}));
        fake.add_token(
            &format!("ak_load_{i:0>24}"),
            json!({"object": "api_key", "id": format!("ak_{i}"), "subject": "user_1", "name": "k",
                "scopes": [], "claims": {}, "revoked": false, "expired": false, "expiration": null}),
        );
    }
    // Two windows of Clerk's development limit.
    fake.limit_calls(200);
    let clock = Arc::new(ManualClock::new(NOW - NOW % 10));
    let replicas: Vec<Clerk> = (0..3)
        .map(|_| {
            let fleet = FleetBudget::new(&redis.url())
                .calls_per_window(90)
                .replicas(3);
            replica_with(&fake, fleet, clock.clone()).accepting(AcceptsToken::only([
                TokenType::SessionToken,
                TokenType::ApiKey,
            ]))
        })
        .collect();
    let load = |from: usize| {
        let tasks: Vec<_> = (from..from + 120)
            .map(|i| {
                let c = replicas[i % 3].clone();
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        c.directory().get_user(&format!("user_{i}")).await.is_ok()
                    } else {
                        let mut h = http::HeaderMap::new();
                        h.insert(
                            "authorization",
                            format!("Bearer ak_load_{i:0>24}").parse().unwrap(),
                        );
                        c.authenticate(&h).await.machine().is_some()
                    }
                })
            })
            .collect();
        async move {
            let mut ok = 0;
            for t in tasks {
                ok += usize::from(t.await.unwrap());
            }
            ok
        }
    };

    // One window: 120 distinct lookups, the fleet's 90 made, no 429.
    let ok = load(0).await;
    assert_eq!(fake.calls(), 90, "the fleet's limit, not more");
    assert_eq!(ok, 90, "every call made was answered");

    // Redis killed: the next window, each replica its share (90 / 3), and
    // still no 429 from the fake.
    drop(redis);
    clock.advance(10);
    let before = fake.calls();
    let ok = load(120).await;
    let made = fake.calls() - before;
    assert_eq!(made, 90, "three local shares of 30");
    assert_eq!(ok, 90, "replicas kept answering");
    assert!(fake.calls() <= 200, "the fake never answered 429");
}

/// A machine token verified by one replica is accepted by the others with
/// no call (its shared verdict, by digest), an unknown one refused the
/// same way; revoking it through one replica's client makes every replica
/// refuse it at once, not at the end of its cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_verdicts_are_shared_and_revocations_reach_every_replica() {
    use clerk_core::machine::{AcceptsToken, TokenType};
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let fake = FakeBackendApi::start().await.unwrap();
    let key = "ak_shared_0123456789abcdef0123";
    fake.add_token(
        key,
        json!({"object": "api_key", "id": "ak_1", "subject": "user_1", "name": "k",
            "scopes": [], "claims": {}, "revoked": false, "expired": false, "expiration": null}),
    );
    let clock = Arc::new(ManualClock::new(NOW));
    let (a, b) = (
        replica(&fake, &redis.url(), clock.clone())
            .accepting(AcceptsToken::only([TokenType::ApiKey])),
        replica(&fake, &redis.url(), clock.clone())
            .accepting(AcceptsToken::only([TokenType::ApiKey])),
    );
    let accepts = |c: &Clerk, token: &str| {
        let c = c.clone();
        let mut h = http::HeaderMap::new();
        h.insert("authorization", format!("Bearer {token}").parse().unwrap());
        async move { c.authenticate(&h).await.machine().is_some() }
    };
    assert!(accepts(&a, key).await);
    let calls = fake.calls();
    assert!(accepts(&b, key).await);
    assert_eq!(fake.calls(), calls, "B used A's verdict");
    let junk = "ak_unknown_0123456789abcdef012";
    assert!(!accepts(&a, junk).await);
    let calls = fake.calls();
    assert!(!accepts(&b, junk).await);
    assert_eq!(fake.calls(), calls, "and its refusal");

    // Revoked through A: B refuses it too, well before its 60 s cache.
    fake.respond(
        "POST",
        "/v1/api_keys/ak_1/revoke",
        200,
        &[],
        &json!({"object": "api_key", "id": "ak_1", "revoked": true, "revocation_reason": "leaked"}),
    );
    fake.remove_token(key);
    a.api()
        .api_keys()
        .revoke("ak_1", Some("leaked"))
        .await
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        while accepts(&a, key).await || accepts(&b, key).await {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(refused.is_ok(), "a replica kept accepting a revoked key");
    assert!(!accepts(&a, key).await && !accepts(&b, key).await);
    drop(redis);
}

/// Whatever Redis holds where a shared record or verdict should be
/// (garbage, a future or absurd timestamp, a record of another shape, an
/// oversized value), a replica falls back to Clerk's own answer: never a
/// panic, never a garbled value believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbled_shared_values_are_never_believed() {
    use clerk_core::machine::{AcceptsToken, TokenType};
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let fake = FakeBackendApi::start().await.unwrap();
    fake.add_user(json!({"id": "user_1", "first_name": "Real"}));
    let key = "ak_garbled_0123456789abcdef012";
    let clock = Arc::new(ManualClock::new(NOW));
    let roomy = || FleetBudget::new(&redis.url()).calls_per_window(200);
    let a = replica_with(&fake, roomy(), clock.clone())
        .accepting(AcceptsToken::only([TokenType::ApiKey]));
    assert_eq!(first_name(&a).await, "Real");
    let mut h = http::HeaderMap::new();
    h.insert("authorization", format!("Bearer {key}").parse().unwrap());
    assert!(a.authenticate(&h).await.machine().is_none(), "unknown key");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &redis.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let keys: Vec<String> = cli(&["--scan", "--pattern", "clerk:*:record:*"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let huge = format!("{NOW}:{}", "x".repeat(100_000));
    for garbage in [
        "no-colon".to_owned(),
        ":".to_owned(),
        "abc:{}".to_owned(),
        format!(
            "{}:{{\"id\":\"user_1\",\"first_name\":\"Forged\"}}",
            NOW + 3600
        ),
        format!("{}:{{\"id\":\"user_1\"}}", i64::MIN),
        format!("{NOW}:not json at all"),
        format!("{NOW}:ok:[1,2]"),
        huge,
    ] {
        for k in &keys {
            cli(&["set", k, &garbage]);
        }
        // A fresh replica (empty local caches) reads what Redis holds.
        let b = replica_with(&fake, roomy(), clock.clone())
            .accepting(AcceptsToken::only([TokenType::ApiKey]));
        assert_eq!(
            first_name(&b).await,
            "Real",
            "{}",
            &garbage[..garbage.len().min(40)]
        );
        assert!(
            b.authenticate(&h).await.machine().is_none(),
            "{garbage:.40}"
        );
    }
}
