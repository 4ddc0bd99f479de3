//! The library's metrics on the example app's `/metrics` (dev mode), after
//! a few requests: authentication outcomes by reason, token cache hits and
//! misses, verification latency, Backend API calls by outcome. Its own test
//! binary, so the process-wide recorder counts only these requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use clerk_examples::{AppState, DevMode};

/// The value of the sample of `name` carrying every label of `labels`.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let state = AppState::start_dev(DevMode::new(), "/sign-in".into())
        .await
        .unwrap();
    let dev = state.dev.clone().unwrap();
    let backend = state.backend.clone().unwrap();
    let admin = dev
        .personas
        .iter()
        .find(|p| p.name == "org-admin")
        .unwrap()
        .token
        .clone();
    let base = clerk_tests::serve_axum(&state).await;
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut req = client.get(format!("{base}{path}"));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };

    for _ in 0..3 {
        assert_eq!(get("/api/me", Some(&admin)).await, 200);
    }
    assert_eq!(get("/api/me/profile", Some(&admin)).await, 200);
    assert_eq!(get("/api/me", Some("not-a-jwt")).await, 401);
    assert_eq!(
        get("/api/me", Some(&dev.issuer.token().expired().build())).await,
        401
    );

    // The Backend API throttles a user lookup: counted as rate limited.
    backend.set_outage(Some(clerk_core::testing::Outage::Status(429, Some(30))));
    let member = dev
        .personas
        .iter()
        .find(|p| p.name == "member")
        .unwrap()
        .token
        .clone();
    assert_eq!(get("/api/me/profile", Some(&member)).await, 503);

    let res = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let page = res.text().await.unwrap();
    let auth = "clerk_authentications_total";
    assert_eq!(
        sample(&page, auth, &[("outcome", "signed_in")]),
        5.0,
        "{page}"
    );
    assert_eq!(
        sample(
            &page,
            auth,
            &[("outcome", "signed_out"), ("reason", "token-invalid")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &page,
            auth,
            &[("outcome", "signed_out"), ("reason", "token-expired")]
        ),
        1.0
    );
    let cache = "clerk_token_cache_total";
    assert_eq!(
        sample(&page, cache, &[("result", "hit")]),
        3.0,
        "the admin token, after its first use"
    );
    assert_eq!(
        sample(&page, cache, &[("result", "miss")]),
        4.0,
        "admin and member once, the two refused tokens"
    );
    let verified = "clerk_token_verification_duration_seconds_count";
    assert_eq!(sample(&page, verified, &[]), 4.0);
    let api = "clerk_backend_api_requests_total";
    assert_eq!(
        sample(&page, api, &[("endpoint", "users"), ("outcome", "ok")]),
        1.0,
        "the profile lookup"
    );
    assert_eq!(
        sample(
            &page,
            api,
            &[("endpoint", "users"), ("outcome", "rate_limited")]
        ),
        1.0,
        "the 429"
    );
    // No token, user id or secret is ever a label.
    for secret in [admin.as_str(), "user_admin", "sk_test"] {
        assert!(!page.contains(secret), "{secret} in the metrics page");
    }
}
