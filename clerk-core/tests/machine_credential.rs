//! The calling side of M2M (`MachineCredential`) against a local fake
//! Backend API on an injected clock: one mint for many concurrent callers,
//! renewal before expiry, 429 and outages answered from the current token
//! while it is valid and with no call during the pause, never an expired
//! token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use clerk_core::Clerk;
use clerk_core::api::{ApiError, NewM2mToken};
use clerk_core::clock::ManualClock;
use clerk_core::machine::MachineCredential;
use clerk_core::testing::{FakeBackendApi, TestIssuer};
use serde_json::json;

const NOW: i64 = 1_750_000_000;
const MINT: &str = "/v1/m2m_tokens";

struct Fixture {
    fake: FakeBackendApi,
    clock: Arc<ManualClock>,
    credential: MachineCredential,
}

impl Fixture {
    async fn new() -> Self {
        let fake = FakeBackendApi::start().await.unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let clerk = Clerk::new(
            TestIssuer::new()
                .config()
                .secret_key("sk_test_your_clerk_key_here")
                .machine_secret_key("ak_your_machine_secret_key_here")
                .api_url(fake.base_url())
                .http_timeout(Duration::from_millis(300))
                .clock(clock.clone())
                .build()
                .unwrap(),
        )
        .unwrap();
        let credential = clerk
            .machine_credential(NewM2mToken::new().seconds_until_expiration(600))
            .unwrap();
        Self {
            fake,
            clock,
            credential,
        }
    }

    /// The fake mints `token`, expiring `lifetime` seconds from now.
    fn mints(&self, token: &str, lifetime: i64) {
        let now = clerk_core::clock::Clock::now_unix(&*self.clock);
        self.fake.respond(
            "POST",
            MINT,
            200,
            &[],
            &json!({"object": "machine_to_machine_token", "id": "mt_1", "token": token,
                "subject": "mch_self", "scopes": [], "claims": null, "revoked": false,
                "expired": false, "expiration": (now + lifetime) * 1000,
                "created_at": now * 1000, "updated_at": now * 1000}),
        );
    }

    fn mint_calls(&self) -> usize {
        self.fake
            .seen()
            .iter()
            .filter(|s| s.line == format!("POST {MINT}"))
            .count()
    }

    async fn bearer(&self) -> Result<String, ApiError> {
        self.credential
            .bearer()
            .await
            .map(|s| s.expose().to_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_share_one_mint_and_renewal_starts_before_expiry() {
    let f = Fixture::new().await;
    f.mints("mt_first", 600);
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let c = f.credential.clone();
            tokio::spawn(async move { c.bearer().await.map(|s| s.expose().to_owned()) })
        })
        .collect();
    for c in callers {
        assert_eq!(c.await.unwrap().unwrap(), "mt_first");
    }
    assert_eq!(f.mint_calls(), 1, "one mint for 50 callers");
    let seen = f.fake.seen();
    let mint = seen.last().unwrap();
    assert_eq!(
        mint.authorization.as_deref(),
        Some("Bearer ak_your_machine_secret_key_here"),
        "minted with the machine secret key"
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&mint.body).unwrap()["seconds_until_expiration"],
        600
    );

    // 539 s in: still fresh (renewal starts 60 s before expiry).
    f.clock.advance(539);
    f.mints("mt_second", 600);
    assert_eq!(f.bearer().await.unwrap(), "mt_first");
    assert_eq!(f.mint_calls(), 1);
    // 541 s in: renewed.
    f.clock.advance(2);
    assert_eq!(f.bearer().await.unwrap(), "mt_second");
    assert_eq!(f.mint_calls(), 2);

    // A token living 60 s is renewed at half its life, not at once.
    f.clock.advance(541);
    f.mints("mt_short", 60);
    assert_eq!(f.bearer().await.unwrap(), "mt_short");
    f.clock.advance(29);
    assert_eq!(f.bearer().await.unwrap(), "mt_short");
    assert_eq!(f.mint_calls(), 3);
    f.clock.advance(2);
    f.mints("mt_after_short", 600);
    assert_eq!(f.bearer().await.unwrap(), "mt_after_short");
    assert_eq!(f.mint_calls(), 4);
}

#[tokio::test]
async fn a_429_keeps_the_valid_token_pauses_and_never_hands_out_an_expired_one() {
    let f = Fixture::new().await;
    // Lives 100 s: renewal from 50 s (half its life).
    f.mints("mt_first", 100);
    assert_eq!(f.bearer().await.unwrap(), "mt_first");

    // Renewal due at 80 s, Clerk answers 429 (Retry-After 30): the current
    // token still serves, and no mint is tried during the pause.
    f.clock.advance(80);
    f.fake.respond(
        "POST",
        MINT,
        429,
        &[("retry-after", "30")],
        &json!({"errors": []}),
    );
    assert_eq!(f.bearer().await.unwrap(), "mt_first");
    assert_eq!(f.mint_calls(), 2);
    f.clock.advance(5);
    assert_eq!(f.bearer().await.unwrap(), "mt_first");
    assert_eq!(f.mint_calls(), 2, "no call during the pause");

    // Within 5 s of its expiry and still paused: an error, never the
    // expiring token, and still no call.
    f.clock.advance(11);
    let err = f.bearer().await.unwrap_err();
    assert!(matches!(err, ApiError::RateLimited { .. }), "{err:?}");
    assert_eq!(f.mint_calls(), 2);

    // After the pause: minted again.
    f.clock.advance(15);
    f.mints("mt_again", 600);
    assert_eq!(f.bearer().await.unwrap(), "mt_again");
    assert_eq!(f.mint_calls(), 3);
}

#[tokio::test]
async fn outages_back_off_and_bad_answers_are_never_used() {
    let f = Fixture::new().await;
    // No token yet and Clerk failing: errors at once, with 1, 2, 4 s
    // pauses between tries.
    f.fake.respond("POST", MINT, 503, &[], &json!({}));
    for (wait, calls) in [(0, 1), (0, 1), (1, 2), (1, 2), (1, 3), (3, 3), (1, 4)] {
        f.clock.advance(wait);
        assert!(f.bearer().await.is_err());
        assert_eq!(f.mint_calls(), calls, "after {wait}s");
    }
    // A success resets the pause.
    f.clock.advance(8);
    f.mints("mt_ok", 600);
    assert_eq!(f.bearer().await.unwrap(), "mt_ok");

    // An answer without a token, or already expired, is refused.
    let f = Fixture::new().await;
    f.fake.respond(
        "POST",
        MINT,
        200,
        &[],
        &json!({"object": "machine_to_machine_token", "id": "mt_1", "subject": "mch_self"}),
    );
    assert_eq!(f.bearer().await.unwrap_err(), ApiError::InvalidResponse);
    f.clock.advance(1);
    f.mints("mt_stale", 3);
    assert_eq!(f.bearer().await.unwrap_err(), ApiError::InvalidResponse);

    // Without a machine secret key there is no credential.
    let clerk = Clerk::new(
        TestIssuer::new()
            .config()
            .secret_key("sk_test_x")
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(clerk.machine_credential(NewM2mToken::new()).is_err());
}

/// Whatever the settings, a token is renewed before its last 5 seconds; a
/// token that never expires is renewed hourly; `invalidate` forces a mint.
#[tokio::test]
async fn the_last_five_seconds_are_never_handed_out_and_forever_is_an_hour() {
    let mut f = Fixture::new().await;
    f.credential = f.credential.clone().refresh_before(Duration::ZERO);
    f.mints("mt_short", 8);
    assert_eq!(f.bearer().await.unwrap(), "mt_short");
    f.clock.advance(3);
    f.mints("mt_next", 8);
    // 5 s left: not handed out, renewed.
    assert_eq!(f.bearer().await.unwrap(), "mt_next");
    assert_eq!(f.mint_calls(), 2);

    // Never expires (`expiration: null`): kept an hour, then renewed.
    f.clock.advance(100);
    f.fake.respond(
        "POST",
        MINT,
        200,
        &[],
        &json!({"object": "machine_to_machine_token", "id": "mt_1", "token": "mt_forever",
            "subject": "mch_self", "expiration": null}),
    );
    assert_eq!(f.bearer().await.unwrap(), "mt_forever");
    f.clock.advance(3_599);
    assert_eq!(f.bearer().await.unwrap(), "mt_forever");
    assert_eq!(f.mint_calls(), 3);
    f.clock.advance(1);
    assert_eq!(f.bearer().await.unwrap(), "mt_forever");
    assert_eq!(f.mint_calls(), 4, "renewed after an hour");

    // Refused downstream (revoked): dropped, the next call mints.
    f.credential.invalidate();
    assert_eq!(f.bearer().await.unwrap(), "mt_forever");
    assert_eq!(f.mint_calls(), 5);
}
