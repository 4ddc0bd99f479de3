//! The verification pipeline end to end: every reason string with a token
//! that triggers it, the hardening list, clock skew boundaries, and the cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use clerk_core::clock::ManualClock;
use clerk_core::config::ClerkConfigBuilder;
use clerk_core::testing::{TEST_AUTHORIZED_PARTY, TestIssuer};
use clerk_core::{Clerk, ClerkConfig, Reason};
use serde_json::json;

const NOW: i64 = 1_750_000_000;

struct Fixture {
    issuer: TestIssuer,
    clock: Arc<ManualClock>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            issuer: TestIssuer::new(),
            clock: Arc::new(ManualClock::new(NOW)),
        }
    }

    fn config(&self) -> ClerkConfigBuilder {
        self.issuer.config().clock(self.clock.clone())
    }

    fn verifier(&self) -> Clerk {
        Clerk::new(self.config().build().unwrap()).unwrap()
    }

    fn token(&self) -> clerk_core::testing::TokenBuilder<'_> {
        self.issuer.token().issued_at(NOW)
    }
}

async fn reason(v: &Clerk, token: &str) -> Reason {
    match v.verify(token).await {
        Ok(s) => panic!("expected a rejection, got a session for {}", s.user_id()),
        Err(e) => {
            assert!(
                token.len() < 8 || !e.to_string().contains(token),
                "errors never echo the token"
            );
            e.reason()
        }
    }
}

#[tokio::test]
async fn a_good_token_verifies() {
    let f = Fixture::new();
    let v = f.verifier();
    let s = v.verify(&f.token().user("user_9").build()).await.unwrap();
    assert_eq!(s.user_id(), "user_9");
    assert_eq!(s.session_id(), Some("sess_test"));
    assert!(v.is_ready());
}

#[tokio::test]
async fn token_expired() {
    let f = Fixture::new();
    let t = f.token().expired().build();
    assert_eq!(reason(&f.verifier(), &t).await, Reason::TokenExpired);
}

#[tokio::test]
async fn token_invalid() {
    let f = Fixture::new();
    let v = f.verifier();
    for t in ["", "garbage", "a.b.c", "a.b", "a.b.c.d"] {
        assert_eq!(reason(&v, t).await, Reason::TokenInvalid, "{t:?}");
    }
}

#[tokio::test]
async fn token_invalid_algorithm() {
    let f = Fixture::new();
    let v = f.verifier();
    for alg in ["none", "HS256", "ES256", "PS256"] {
        let t = f.token().header("alg", alg).build();
        assert_eq!(reason(&v, &t).await, Reason::TokenInvalidAlgorithm, "{alg}");
    }
}

#[tokio::test]
async fn token_invalid_authorized_parties() {
    let f = Fixture::new();
    let v = f.verifier();
    let t = f.token().azp("https://evil.example").build();
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalidAuthorizedParties);
    let t = f.token().remove("azp").build();
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalidAuthorizedParties);
    // Exact comparison: no prefix or trailing-slash leniency.
    let t = f.token().azp(&format!("{TEST_AUTHORIZED_PARTY}/")).build();
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalidAuthorizedParties);
    // Without an allow-list, azp is not checked.
    let open = Clerk::new(
        f.config()
            .authorized_parties(Vec::<String>::new())
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(open.verify(&t).await.is_ok());
}

#[tokio::test]
async fn token_invalid_signature() {
    let f = Fixture::new();
    let v = f.verifier();
    let good = f.token().build();
    // Payload swapped for another one: signature no longer matches.
    let other = f.token().user("user_admin").build();
    let parts: Vec<&str> = good.split('.').collect();
    let other_parts: Vec<&str> = other.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
    assert_eq!(reason(&v, &forged).await, Reason::TokenInvalidSignature);
    // Signed by another key that claims the same kid.
    let impostor = TestIssuer::new();
    let t = impostor.token().issued_at(NOW).build();
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalidSignature);
    // Truncated signature.
    let t = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalidSignature);
}

#[tokio::test]
async fn token_not_active_yet() {
    let f = Fixture::new();
    let t = f.token().not_yet_valid().build();
    assert_eq!(reason(&f.verifier(), &t).await, Reason::TokenNotActiveYet);
}

#[tokio::test]
async fn token_iat_in_the_future() {
    let f = Fixture::new();
    let t = f.token().issued_at(NOW + 60).claim("nbf", NOW - 10).build();
    assert_eq!(reason(&f.verifier(), &t).await, Reason::TokenIatInTheFuture);
}

#[tokio::test]
async fn token_verification_failed() {
    let f = Fixture::new();
    let v = f.verifier();
    let cases = [
        ("alg differs from key", f.token().algorithm("RS384").build()),
        (
            "alg RS512 vs RS256 key",
            f.token().algorithm("RS512").build(),
        ),
        (
            "string exp",
            f.token().claim("exp", (NOW + 60).to_string()).build(),
        ),
        ("missing exp", f.token().remove("exp").build()),
        ("string nbf", f.token().claim("nbf", "0").build()),
        ("bool iat", f.token().claim("iat", true).build()),
        ("numeric sub", f.token().claim("sub", 42).build()),
        ("missing sub", f.token().remove("sub").build()),
        ("numeric iss", f.token().claim("iss", 1).build()),
    ];
    for (what, t) in cases {
        assert_eq!(
            reason(&v, &t).await,
            Reason::TokenVerificationFailed,
            "{what}"
        );
    }
}

/// A machine's token is never a session, even with a session-like header
/// (instances stamping Clerk's "ignore" category on every token).
#[tokio::test]
async fn a_machine_subject_is_not_a_session() {
    let f = Fixture::new();
    let v = f.verifier();
    for cat in [None, Some("cl_I7d4PD111III"), Some("cl_B7d4PD111AAA")] {
        let mut b = f.token().user("mch_2xhFjEI5X2qWRvtV13BzSj8H6Dk");
        if let Some(cat) = cat {
            b = b.header("cat", cat);
        }
        assert_eq!(
            reason(&v, &b.build()).await,
            Reason::TokenTypeMismatch,
            "{cat:?}"
        );
    }
}

/// A time no `i64` of seconds can hold would saturate to "never expires"
/// (or "active since forever"): the token is invalid instead.
#[tokio::test]
async fn times_beyond_i64_seconds_are_invalid() {
    let f = Fixture::new();
    let v = f.verifier();
    for (what, claim, value) in [
        ("exp 1e300", "exp", json!(1e300)),
        ("exp 1e19", "exp", json!(1e19)),
        ("exp 2^63", "exp", json!(9_223_372_036_854_775_808.0_f64)),
        ("nbf -1e300", "nbf", json!(-1e300)),
        ("iat -1e19", "iat", json!(-1e19)),
        ("exp u64::MAX", "exp", json!(u64::MAX)),
    ] {
        let t = f.token().claim(claim, value).build();
        assert_eq!(reason(&v, &t).await, Reason::TokenInvalid, "{what}");
    }
    // Large but representable times still verify.
    let t = f.token().claim("exp", json!(4_102_444_800_i64)).build();
    assert!(v.verify(&t).await.is_ok(), "year 2100");
}

#[tokio::test]
async fn jwk_kid_mismatch() {
    let f = Fixture::new();
    let v = f.verifier();
    let t = f.token().header("kid", "ins_other").build();
    assert_eq!(reason(&v, &t).await, Reason::JwkKidMismatch);
    let t = f.token().header("kid", serde_json::Value::Null).build();
    // A null kid is not a string: structurally invalid.
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalid);
    let mut header = json!({"alg":"RS256","typ":"JWT"});
    header.as_object_mut().unwrap().remove("kid");
    let t = f.issuer.sign_raw(&header, &f.token().payload());
    assert_eq!(reason(&v, &t).await, Reason::JwkKidMismatch);
}

#[tokio::test]
async fn pem_mode_ignores_kid() {
    let f = Fixture::new();
    let v = Clerk::new(
        ClerkConfig::builder()
            .jwt_key(f.issuer.public_key_pem())
            .clock(f.clock.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    let t = f.token().header("kid", "anything").build();
    assert!(v.verify(&t).await.is_ok());
    // The PEM without armour or line breaks works the same.
    let bare: String = f
        .issuer
        .public_key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let v = Clerk::new(
        ClerkConfig::builder()
            .jwt_key(bare)
            .clock(f.clock.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(v.verify(&t).await.is_ok());
    // Literal "\n" escapes, as .env files hold them.
    let escaped = f.issuer.public_key_pem().replace('\n', "\\n");
    assert!(ClerkConfig::builder().jwt_key(escaped).build().is_ok());
}

#[tokio::test]
async fn token_invalid_issuer() {
    let f = Fixture::new();
    let v = f.verifier();
    let t = f
        .token()
        .iss("https://other-instance.clerk.accounts.dev")
        .build();
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalidIssuer);
    let t = f.token().remove("iss").build();
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalidIssuer);
}

#[tokio::test]
async fn issuer_pinned_from_publishable_key() {
    let f = Fixture::new();
    let v = Clerk::new(
        ClerkConfig::builder()
            .jwt_key(f.issuer.public_key_pem())
            .publishable_key(clerk_core::testing::publishable_key_for(
                "clerk.example.com",
                true,
            ))
            .clock(f.clock.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    let t = f.token().iss("https://clerk.example.com").build();
    assert!(v.verify(&t).await.is_ok());
    let t = f.token().build(); // default test issuer
    assert_eq!(reason(&v, &t).await, Reason::TokenInvalidIssuer);
}

#[tokio::test]
async fn token_type_mismatch() {
    let f = Fixture::new();
    let v = f.verifier();
    let t = f.token().without_session().build();
    assert_eq!(reason(&v, &t).await, Reason::TokenTypeMismatch);
    let t = f.token().claim("sid", 5).build();
    assert_eq!(reason(&v, &t).await, Reason::TokenTypeMismatch);
    for cat in ["cl_B7d4PD333AAA", "cl_B7d4PD222AAA"] {
        let t = f.token().header("cat", cat).build();
        assert_eq!(reason(&v, &t).await, Reason::TokenTypeMismatch, "{cat}");
    }
    // Opt-in: template tokens accepted.
    let v = Clerk::new(f.config().accept_template_tokens(true).build().unwrap()).unwrap();
    let s = v
        .verify(&f.token().without_session().build())
        .await
        .unwrap();
    assert_eq!(s.session_id(), None);
}

#[tokio::test]
async fn pending_sessions_are_signed_out_unless_accepted() {
    let f = Fixture::new();
    let t = f.token().pending().build();
    assert_eq!(reason(&f.verifier(), &t).await, Reason::SessionPending);
    let v = Clerk::new(f.config().accept_pending_sessions(true).build().unwrap()).unwrap();
    assert!(v.verify(&t).await.unwrap().is_pending());
    let t = f.token().claim("sts", "revoked").build();
    assert_eq!(reason(&v, &t).await, Reason::TokenVerificationFailed);
}

#[tokio::test]
async fn audience_is_checked_only_when_configured_and_present() {
    let f = Fixture::new();
    let v = Clerk::new(f.config().audience(["api-a", "api-b"]).build().unwrap()).unwrap();
    assert!(
        v.verify(&f.token().build()).await.is_ok(),
        "no aud: not checked"
    );
    assert!(
        v.verify(&f.token().claim("aud", "api-a").build())
            .await
            .is_ok()
    );
    assert!(
        v.verify(&f.token().claim("aud", json!(["x", "api-b"])).build())
            .await
            .is_ok()
    );
    for aud in [json!("x"), json!(["x", "y"]), json!(5), json!([])] {
        let t = f.token().claim("aud", aud.clone()).build();
        assert_eq!(
            reason(&v, &t).await,
            Reason::TokenVerificationFailed,
            "{aud}"
        );
    }
    // Not configured: any aud is fine.
    assert!(
        f.verifier()
            .verify(&f.token().claim("aud", "x").build())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn skew_boundaries() {
    let f = Fixture::new();
    let v = Clerk::new(
        f.config()
            .clock_skew(Duration::from_secs(5))
            .token_cache_capacity(0)
            .build()
            .unwrap(),
    )
    .unwrap();
    // exp <= now - skew is expired.
    let exp_at = |exp: i64| f.token().claim("exp", exp).build();
    assert_eq!(reason(&v, &exp_at(NOW - 5)).await, Reason::TokenExpired);
    assert!(v.verify(&exp_at(NOW - 4)).await.is_ok());
    // nbf > now + skew is not active yet.
    let nbf_at = |nbf: i64| f.token().claim("nbf", nbf).build();
    assert!(v.verify(&nbf_at(NOW + 5)).await.is_ok());
    assert_eq!(
        reason(&v, &nbf_at(NOW + 6)).await,
        Reason::TokenNotActiveYet
    );
    // iat > now + skew is in the future.
    let iat_at = |iat: i64| f.token().claim("iat", iat).build();
    assert!(v.verify(&iat_at(NOW + 5)).await.is_ok());
    assert_eq!(
        reason(&v, &iat_at(NOW + 6)).await,
        Reason::TokenIatInTheFuture
    );
    // Fractional NumericDate values are numbers too.
    assert!(
        v.verify(&f.token().claim("exp", (NOW + 30) as f64 + 0.5).build())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn duplicate_claims_with_a_valid_signature_are_invalid() {
    let f = Fixture::new();
    let header = br#"{"alg":"RS256","kid":"ins_test","typ":"JWT"}"#;
    let payload = format!(
        r#"{{"sub":"user_1","sub":"user_admin","sid":"s","exp":{},"iss":"{}","azp":"{}"}}"#,
        NOW + 60,
        f.issuer.issuer(),
        TEST_AUTHORIZED_PARTY
    );
    let t = f.issuer.sign_bytes("RS256", header, payload.as_bytes());
    assert_eq!(reason(&f.verifier(), &t).await, Reason::TokenInvalid);
    let dup_header = br#"{"alg":"RS256","kid":"ins_test","kid":"other"}"#;
    let ok_payload = f.token().payload().to_string();
    let t = f
        .issuer
        .sign_bytes("RS256", dup_header, ok_payload.as_bytes());
    assert_eq!(reason(&f.verifier(), &t).await, Reason::TokenInvalid);
}

#[tokio::test]
async fn crit_cty_and_typ_with_a_valid_signature_are_invalid() {
    // (An `at+jwt` typ is an OAuth token: `token-type-mismatch`, tested
    // with the machine tokens.)
    let f = Fixture::new();
    let v = f.verifier();
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("cty", json!("JWT")),
        ("typ", json!("JOSE+JSON")),
    ] {
        let t = f.token().header(name, value).build();
        assert_eq!(reason(&v, &t).await, Reason::TokenInvalid, "{name}");
    }
}

#[tokio::test]
async fn rs384_and_rs512_keys_from_jwks() {
    let f = Fixture::new();
    let mut jwk = f.issuer.jwk();
    jwk["alg"] = json!("RS512");
    let v = Clerk::new(
        ClerkConfig::builder()
            .jwks_json(json!({ "keys": [jwk] }).to_string())
            .clock(f.clock.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    let t = f.token().algorithm("RS512").build();
    assert!(v.verify(&t).await.is_ok());
    let t = f.token().build(); // RS256 token, RS512 key
    assert_eq!(reason(&v, &t).await, Reason::TokenVerificationFailed);
}

/// A JWKS with keys that cannot be used still verifies with the good ones
/// (the per-key checks are unit tests of the key set).
#[tokio::test]
async fn jwks_skips_bad_keys_without_failing_the_set() {
    let f = Fixture::new();
    let good = f.issuer.jwk();
    let mut enc = good.clone();
    enc["use"] = json!("enc");
    let mut small = good.clone();
    small["n"] = json!("AQAB");
    let n = base64_url_decode(good["n"].as_str().unwrap());
    let mut padded_n = vec![0u8, 0u8];
    padded_n.extend_from_slice(&n);
    let mut zero_padded = good.clone();
    zero_padded["kid"] = json!("padded");
    zero_padded["n"] = json!(base64_url_encode(&padded_n));
    let doc = json!({ "keys": [enc, small, "junk", good, zero_padded] });
    let v = Clerk::new(
        ClerkConfig::builder()
            .jwks_json(doc.to_string())
            .issuer(f.issuer.issuer())
            .clock(f.clock.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(v.verify(&f.token().build()).await.is_ok());
    assert!(
        v.verify(&f.token().header("kid", "padded").build())
            .await
            .is_ok()
    );
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn base64_url_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn small_pem_keys_are_refused() {
    // A 1024-bit SPKI key (public test vector shape, generated offline is not
    // needed: a JWKS with a 1024-bit modulus exercises the same check).
    let n = vec![0xC5u8; 128];
    let doc = json!({"keys":[{"kty":"RSA","kid":"k","n":base64_url_encode(&n),"e":"AQAB"}]});
    assert!(
        ClerkConfig::builder()
            .jwks_json(doc.to_string())
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn cache_hit_rechecks_expiry() {
    let f = Fixture::new();
    let v = f.verifier();
    let t = f.token().build(); // exp = NOW + 60
    let first = v.verify(&t).await.unwrap();
    let second = v.verify(&t).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second), "second call is a cache hit");
    f.clock.advance(64);
    assert!(v.verify(&t).await.is_ok(), "inside skew");
    f.clock.advance(1);
    assert_eq!(reason(&v, &t).await, Reason::TokenExpired);
}

#[tokio::test]
async fn cache_can_be_disabled() {
    let f = Fixture::new();
    let t = f.token().build();
    let on = f.verifier();
    let first = on.verify(&t).await.unwrap();
    assert!(Arc::ptr_eq(&first, &on.verify(&t).await.unwrap()));
    let off = Clerk::new(f.config().token_cache_capacity(0).build().unwrap()).unwrap();
    let a = off.verify(&t).await.unwrap();
    let b = off.verify(&t).await.unwrap();
    assert!(!Arc::ptr_eq(&a, &b));
}

#[tokio::test]
async fn cache_is_keyed_by_the_whole_token() {
    let f = Fixture::new();
    let v = f.verifier();
    let t = f.token().build();
    v.verify(&t).await.unwrap();
    // Same token with its last signature character changed is not a hit.
    let mut forged = t.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert!(v.verify(&forged).await.is_err());
}

#[tokio::test]
async fn v1_and_v2_tokens_verify_to_the_same_shape() {
    let f = Fixture::new();
    let v = f.verifier();
    for builder in [f.token(), f.token().v1()] {
        let t = builder
            .org("org_1", "acme", "admin")
            .permissions(["org:reports:read", "org:reports:write", "org:billing:read"])
            .plan("o:pro")
            .feature("u:avatar")
            .factor_age(2, 5)
            .actor("user_support", "sess_support")
            .claim("metadata", json!({"role": "editor"}))
            .build();
        let s = v.verify(&t).await.unwrap();
        assert_eq!(s.organization().map(|o| o.id()), Some("org_1"));
        assert_eq!(s.org_role(), Some("org:admin"));
        let mut perms = s.org_permissions().to_vec();
        perms.sort();
        assert_eq!(
            perms,
            ["org:billing:read", "org:reports:read", "org:reports:write"]
        );
        assert!(clerk_core::Requirement::plan("pro").is_met_by(&s));
        assert!(clerk_core::Requirement::feature("user:avatar").is_met_by(&s));
        assert_eq!(s.actor().unwrap().subject(), "user_support");
        assert_eq!(s.raw()["metadata"]["role"], "editor");
    }
}

#[tokio::test]
async fn every_reason_string_is_exact() {
    let all: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        all,
        [
            "session-token-missing",
            "token-expired",
            "token-invalid",
            "token-invalid-algorithm",
            "token-invalid-authorized-parties",
            "token-invalid-signature",
            "token-not-active-yet",
            "token-iat-in-the-future",
            "token-verification-failed",
            "secret-key-invalid",
            "jwk-local-missing",
            "jwk-remote-failed-to-load",
            "jwk-failed-to-resolve",
            "jwk-kid-mismatch",
            "token-invalid-issuer",
            "token-type-mismatch",
            "session-pending",
            "token-revoked",
            "backend-api-unavailable",
            "session-token-and-uat-missing",
            "client-uat-but-no-session-token",
            "session-token-but-no-client-uat",
            "session-token-iat-before-client-uat",
            "session-token-expired-refresh-non-eligible-no-refresh-cookie",
            "session-token-expired-refresh-non-eligible-non-get",
            "session-token-expired-refresh-missing-api-client",
            "session-token-expired-refresh-expired-session-token-missing-sid-claim",
            "session-token-expired-refresh-fetch-error",
            "session-token-expired-refresh-unexpected-bapi-error",
            "session-token-expired-refresh-unexpected-sdk-error",
            "session-token-expired-refresh-invalid-session-token",
            "session-token-nbf",
            "session-token-iat-in-the-future",
            "dev-browser-sync",
            "dev-browser-missing",
            "primary-domain-cross-origin-sync",
            "satellite-needs-syncing",
            "primary-responds-to-syncing",
            "active-organization-mismatch",
        ]
    );
}
