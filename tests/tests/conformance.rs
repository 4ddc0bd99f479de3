//! Conformance with Clerk's own public fixtures: each data file under
//! `tests/conformance/` is Clerk's (or Svix's, which signs Clerk's
//! webhooks) and names its source; each goes through the public calls a
//! user makes, and must be answered as `@clerk/backend`'s own tests answer
//! it. This is the guard against the next wrong guess about a format.
//!
//! * `clerk-backend-fixtures.json`: `packages/backend/src/fixtures/index.ts`
//!   and `machine.ts` (session tokens, the JWKS and PEM key that verify
//!   them, OAuth access-token JWTs, opaque machine tokens and the Backend
//!   API's verification answers used by `tokens/__tests__/verify.test.ts`);
//! * `clerk-backend-user.json`: `packages/backend/src/fixtures/user.json`;
//! * `webhooks.json`: Svix's worked signature example, Clerk's documented
//!   `user.created` payload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use clerk_core::clock::ManualClock;
use clerk_core::machine::{AcceptsToken, TokenType};
use clerk_core::testing::FakeBackendApi;
use clerk_core::webhook::{EventData, WebhookVerifier};
use clerk_core::{Auth, Clerk, ClerkConfig};
use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/conformance/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

fn reason(auth: &Auth) -> String {
    match auth {
        Auth::SignedOut(r) => r.as_str().to_owned(),
        other => panic!("expected signed out, got {other:?}"),
    }
}

/// `mockJwtPayload.iat + 10`: inside the fixtures' 60-second life.
const AT: i64 = 1_666_648_260;

fn clerk_with(
    key: impl FnOnce(clerk_core::config::ClerkConfigBuilder) -> clerk_core::config::ClerkConfigBuilder,
) -> Clerk {
    let builder = ClerkConfig::builder().clock(Arc::new(ManualClock::new(AT)));
    Clerk::new(key(builder).build().unwrap()).unwrap()
}

/// Session tokens verify with Clerk's JWKS and with its PEM key, offline,
/// and each broken fixture is refused with Clerk's reason.
#[tokio::test]
async fn clerks_session_token_fixtures() {
    let f = fixture("clerk-backend-fixtures.json");
    let tokens = &f["session_tokens"];
    let payload = &f["mockJwtPayload"];
    let by_jwks = clerk_with(|b| b.jwks_json(f["mockJwks"].to_string()));
    let by_pem = clerk_with(|b| b.jwt_key(f["pemEncodedPublicKey"].as_str().unwrap()));
    for clerk in [&by_jwks, &by_pem] {
        let session = clerk
            .verify(tokens["mockJwt"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(session.user_id(), payload["sub"].as_str().unwrap());
        assert_eq!(session.session_id(), payload["sid"].as_str());
        let auth = clerk
            .authenticate(&bearer(tokens["mockJwt"].as_str().unwrap()))
            .await;
        assert_eq!(auth.user_id(), payload["sub"].as_str());
        // `verifyJwt.test.ts`: expired, tampered, malformed.
        for (name, want) in [
            ("mockExpiredJwt", "token-expired"),
            ("mockInvalidSignatureJwt", "token-invalid-signature"),
        ] {
            let auth = clerk
                .authenticate(&bearer(tokens[name].as_str().unwrap()))
                .await;
            assert_eq!(reason(&auth), want, "{name}");
        }
        let auth = clerk
            .authenticate(&bearer(tokens["mockMalformedJwt"].as_str().unwrap()))
            .await;
        assert!(!auth.is_signed_in(), "a token with no sub never signs in");
    }
    // Another key: the signature does not verify.
    let other = clerk_with(|b| b.jwt_key(f["someOtherPublicKey"].as_str().unwrap()));
    let auth = other
        .authenticate(&bearer(tokens["mockJwt"].as_str().unwrap()))
        .await;
    assert_eq!(reason(&auth), "token-invalid-signature");
    // Clerk's authorized-party check (`azp`).
    let parties = clerk_with(|b| {
        b.jwks_json(f["mockJwks"].to_string())
            .authorized_parties(["https://accounts.inspired.puma-74.lcl.dev"])
    });
    assert!(
        parties
            .authenticate(&bearer(tokens["mockJwt"].as_str().unwrap()))
            .await
            .is_signed_in()
    );
    let elsewhere = clerk_with(|b| {
        b.jwks_json(f["mockJwks"].to_string())
            .authorized_parties(["https://app.example.com"])
    });
    assert_eq!(
        reason(
            &elsewhere
                .authenticate(&bearer(tokens["mockJwt"].as_str().unwrap()))
                .await
        ),
        "token-invalid-authorized-parties"
    );
}

/// Clerk's OAuth access-token JWTs (`typ: at+jwt` and
/// `application/at+jwt`) are OAuth tokens, verified locally.
#[tokio::test]
async fn clerks_oauth_access_token_jwts() {
    let f = fixture("clerk-backend-fixtures.json");
    let clerk = clerk_with(|b| b.jwks_json(f["mockJwks"].to_string()))
        .accepting(AcceptsToken::only([TokenType::OAuthToken]));
    for (name, token) in f["oauth_access_token_jwts"].as_object().unwrap() {
        let auth = clerk.authenticate(&bearer(token.as_str().unwrap())).await;
        let machine = auth.machine().unwrap_or_else(|| panic!("{name}: {auth:?}"));
        assert_eq!(machine.token_type, TokenType::OAuthToken, "{name}");
        assert_eq!(machine.subject, "user_2vYVtestTESTtestTESTtestTESTtest");
        assert_eq!(machine.scopes, ["read:foo", "write:bar"]);
        assert_eq!(
            machine.client_id.as_deref(),
            Some("client_2VTWUzvGC5UhdJCNx6xG1D98edc")
        );
    }
    // A session-only `Clerk` refuses them by kind, before any key.
    let sessions = clerk_with(|b| b.jwks_json(f["mockJwks"].to_string()));
    let token = f["oauth_access_token_jwts"]["mockSignedOAuthAccessTokenJwt"]
        .as_str()
        .unwrap();
    assert_eq!(
        reason(&sessions.authenticate(&bearer(token)).await),
        "token-type-mismatch"
    );
}

/// Clerk's opaque machine tokens (its API key is standard base64 with `/`
/// and `=`) and its Backend API's verification answers, as
/// `verify.test.ts` asserts them.
#[tokio::test]
async fn clerks_machine_token_fixtures() {
    let f = fixture("clerk-backend-fixtures.json");
    let fake = FakeBackendApi::start().await.unwrap();
    for kind in ["api_key", "oauth_token", "m2m_token"] {
        fake.add_token(
            f["mockTokens"][kind].as_str().unwrap(),
            f["mockVerificationResults"][kind].clone(),
        );
    }
    let clerk = Clerk::new(
        ClerkConfig::builder()
            .jwks_json(f["mockJwks"].to_string())
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(fake.base_url())
            .http_timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
    )
    .unwrap()
    .accepting(AcceptsToken::Any);
    for (kind, token_type, id) in [
        (
            "api_key",
            TokenType::ApiKey,
            "ak_ey966f1b1xf93586b2debdcadb0b3bd1",
        ),
        (
            "oauth_token",
            TokenType::OAuthToken,
            "oat_2VTWUzvGC5UhdJCNx6xG1D98edc",
        ),
        (
            "m2m_token",
            TokenType::M2mToken,
            "mt_ey966f1b1xf93586b2debdcadb0b3bd1",
        ),
    ] {
        let want = &f["mockVerificationResults"][kind];
        let auth = clerk
            .authenticate(&bearer(f["mockTokens"][kind].as_str().unwrap()))
            .await;
        let m = auth.machine().unwrap_or_else(|| panic!("{kind}: {auth:?}"));
        assert_eq!(m.token_type, token_type);
        assert_eq!(m.id.as_deref(), Some(id));
        assert_eq!(m.subject, want["subject"].as_str().unwrap());
        assert_eq!(Value::from(m.scopes.clone()), want["scopes"]);
        if let Some(claims) = want.get("claims") {
            assert_eq!(&m.claims, claims, "{kind}");
        }
        if kind == "api_key" {
            assert_eq!(m.name.as_deref(), Some("my-api-key"));
        }
    }
    assert_eq!(fake.calls(), 3, "one verification call per token");
    // `verify.test.ts`'s unknown key (`ak_invalid_token`): token-invalid,
    // here without a call (a 13-character body is no key Clerk issued).
    let auth = clerk.authenticate(&bearer("ak_invalid_token")).await;
    assert_eq!(reason(&auth), "token-invalid");
    assert_eq!(fake.calls(), 3);
}

/// Clerk's Backend API user fixture reads as a `User` through the typed
/// client, every documented field in place.
#[tokio::test]
async fn clerks_user_fixture_through_the_typed_client() {
    let user_json = fixture("clerk-backend-user.json");
    let fake = FakeBackendApi::start().await.unwrap();
    fake.add_user(user_json.clone());
    let clerk = Clerk::new(
        ClerkConfig::builder()
            .jwks_json(fixture("clerk-backend-fixtures.json")["mockJwks"].to_string())
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(fake.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let user = clerk.api().users().get("user_cafebabe").await.unwrap();
    assert_eq!(user.id, "user_cafebabe");
    assert_eq!(user.first_name.as_deref(), Some("John"));
    assert_eq!(user.last_name.as_deref(), Some("Doe"));
    assert_eq!(user.primary_email(), Some("john.doe@clerk.test"));
    assert!(user.two_factor_enabled && !user.banned);
    assert_eq!(user.public_metadata, user_json["public_metadata"]);
    assert_eq!(user.phone_numbers.len(), 1);
}

/// Svix's worked example verifies; Clerk's documented `user.created`
/// payload reads as a typed user event.
#[test]
fn svix_signature_example_and_clerks_user_created_payload() {
    let f = fixture("webhooks.json");
    let v = &f["signature_vector"];
    let verifier = WebhookVerifier::new(v["secret"].as_str().unwrap())
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(
            v["svix_timestamp"].as_i64().unwrap(),
        )));
    let mut h = HeaderMap::new();
    for (name, field) in [("svix-id", "svix_id"), ("svix-signature", "svix_signature")] {
        h.insert(
            name,
            HeaderValue::from_str(v[field].as_str().unwrap()).unwrap(),
        );
    }
    h.insert(
        "svix-timestamp",
        HeaderValue::from_str(&v["svix_timestamp"].to_string()).unwrap(),
    );
    let body = v["body"].as_str().unwrap().as_bytes();
    verifier.verify_signature(&h, body).unwrap();
    assert!(
        verifier
            .verify_signature(&h, b"{\"test\":2432232314}")
            .is_err()
    );

    let payload = f["user_created"]["payload"].to_string();
    let event = clerk_core::webhook::WebhookEvent::from_json("msg_1", payload.as_bytes()).unwrap();
    assert_eq!(event.kind, "user.created");
    assert_eq!(event.timestamp, Some(1_654_012_591_835));
    let EventData::User(user) = &event.data else {
        panic!("not a user: {:?}", event.data)
    };
    assert_eq!(user.id, "user_29w83sxmDNGwOuEthce5gg56FcC");
    assert_eq!(user.external_id.as_deref(), Some("567772"));
    assert_eq!(user.primary_email(), Some("example@example.org"));
}

/// Clerk's fixture machine tokens, and a key of the same shape holding `+`,
/// end to end through `/api/machine` in both example apps (their Backend
/// API stand-in knows them); junk of no Clerk shape costs no call.
#[actix_web::test]
async fn clerks_machine_tokens_through_both_apps() {
    use clerk_tests::{ActixTarget, AxumTarget, Target, dev_state};
    let f = fixture("clerk-backend-fixtures.json");
    let state = dev_state().await;
    let backend = state.backend.clone().unwrap();
    let plus = "ak_LCWGdaM8mv8K4PC+57IICZQXAeWfCgF30DZaFXHoGn9=";
    let mut tokens = vec![];
    for kind in ["api_key", "oauth_token", "m2m_token"] {
        let token = f["mockTokens"][kind].as_str().unwrap().to_owned();
        backend.add_token(&token, f["mockVerificationResults"][kind].clone());
        tokens.push((token, f["mockVerificationResults"][kind]["subject"].clone()));
    }
    backend.add_token(plus, f["mockVerificationResults"]["api_key"].clone());
    tokens.push((
        plus.to_owned(),
        "user_2vYVtestTESTtestTESTtestTESTtest".into(),
    ));
    let axum = AxumTarget(clerk_examples::axum_app::router(state.clone()));
    let actix = ActixTarget(
        actix_web::test::init_service(clerk_examples::actix_app::app(state.clone())).await,
    );
    let get = |token: &str| {
        http::Request::get("/api/machine")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap()
    };
    for (token, subject) in &tokens {
        let (x, a) = (axum.send(get(token)).await, actix.send(get(token)).await);
        assert_eq!(x.status(), 200, "{token}: {}", x.body());
        assert_eq!((a.status(), a.body()), (x.status(), x.body()), "{token}");
        let body: Value = serde_json::from_str(x.body()).unwrap();
        assert_eq!(&body["subject"], subject, "{token}");
    }
    let before = backend.calls();
    for junk in [
        "ak_LCWGdaM8mv8K4PC%2F57IICZQXAeWfCgF30DZaFXHoGn9=",
        "ak_LCWGdaM8mv8K4PC 57IICZQXAeWfCgF30DZaFXHoGn9=",
        "ak_LCWGdaM8mv8K4PC\"57IICZQXAeWfCgF30DZaFXHoGn9=",
        "ak_short",
    ] {
        for target_status in [axum.send(get(junk)).await, actix.send(get(junk)).await] {
            assert_eq!(target_status.status(), 401, "{junk}");
        }
    }
    let long = format!("ak_{}", "A".repeat(600));
    assert_eq!(axum.send(get(&long)).await.status(), 401);
    assert_eq!(backend.calls(), before, "junk costs no Backend API call");
}
