// The request-state table, with Clerk's cookie, query and reason
// names, through `Clerk::authenticate`, and its hostile rows.
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use serde_json::json;

use crate::Clerk;
use crate::auth::Auth;
use crate::auth::PageRedirect;
use crate::clock::{Clock, SystemClock};
use crate::testing::{TestIssuer, publishable_key_for, request};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

const HOST: &str = "clerk.test.invalid";

fn clerk(issuer: &TestIssuer, live: bool) -> Clerk {
    Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, live))
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn page(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("app.example.com"));
    h.insert("sec-fetch-dest", HeaderValue::from_static("document"));
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn run(clerk: &Clerk, method: &str, target: &str, h: &HeaderMap) -> Auth {
    let req = request(method, target, h);
    let mut fut = clerk.authenticate(&req);
    match Pin::new(&mut fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(auth) => auth,
        Poll::Pending => panic!("local keys never wait"),
    }
}

fn handshake(auth: &Auth) -> &PageRedirect {
    match auth {
        Auth::Redirect(h) => h,
        other => panic!("expected a handshake, got {other:?}"),
    }
}

fn signed_out(auth: &Auth) -> &'static str {
    match auth {
        Auth::SignedOut(r) => r.as_str(),
        other => panic!("expected signed out, got {other:?}"),
    }
}

fn now() -> i64 {
    SystemClock.now_unix()
}

#[test]
fn the_state_table_of_a_production_instance() {
    let issuer = TestIssuer::new();
    let c = clerk(&issuer, true);
    let valid = issuer.token().build();
    let uat = format!("__client_uat={}", now() - 3600);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "session-token-and-uat-missing"),
        ("__client_uat=0".into(), "session-token-and-uat-missing"),
        (
            format!("__client_uat=0; __session={valid}"),
            "session-token-but-no-client-uat",
        ),
        (
            format!("__session={valid}"),
            "session-token-but-no-client-uat",
        ),
        (
            format!("__client_uat=abc; __session={valid}"),
            "session-token-but-no-client-uat",
        ),
        (uat.clone(), "client-uat-but-no-session-token"),
        (
            format!("{uat}; __session={}", issuer.token().expired().build()),
            "session-token-expired-refresh-non-eligible-no-refresh-cookie",
        ),
        (
            format!(
                "{uat}; __session={}",
                issuer.token().not_yet_valid().build()
            ),
            "session-token-nbf",
        ),
        (
            format!(
                "__client_uat={}; __session={}",
                now() + 30,
                issuer.token().build()
            ),
            "session-token-iat-before-client-uat",
        ),
    ];
    for (cookie, reason) in cases {
        let h = page(&[("cookie", &cookie)]);
        let auth = run(&c, "GET", "/dashboard", &h);
        let got = match &auth {
            Auth::Redirect(h) => h.reason(),
            Auth::SignedOut(r) => r.as_str(),
            other => panic!("{cookie}: {other:?}"),
        };
        assert_eq!(got, reason, "{cookie}");
    }
    let h = page(&[("cookie", &format!("{uat}; __session={valid}"))]);
    assert!(run(&c, "GET", "/dashboard", &h).is_signed_in());
}

/// A signed-in document navigation from another site syncs through
/// a handshake once; from the same site, the Frontend API or the
/// Account Portal, or after a redirect, it does not.
#[test]
fn cross_origin_navigations_sync_once() {
    let issuer = TestIssuer::new();
    let c = clerk(&issuer, true);
    let cookie = format!(
        "__client_uat={}; __session={}",
        now() - 3600,
        issuer.token().build()
    );
    let with = |referer: &str, extra: &str| {
        page(&[
            ("cookie", &format!("{cookie}{extra}")),
            ("referer", referer),
        ])
    };
    let h = with("https://news.example.org/post", "");
    assert_eq!(
        handshake(&run(&c, "GET", "/", &h)).reason(),
        "primary-domain-cross-origin-sync"
    );
    for (referer, extra) in [
        ("https://app.example.com/other", ""),
        ("https://clerk.test.invalid/v1/client", ""),
        ("https://accounts.test.invalid/sign-in", ""),
        (
            "https://news.example.org/post",
            "; __clerk_redirect_count=1",
        ),
        ("not a url", ""),
    ] {
        let h = with(referer, extra);
        assert!(run(&c, "GET", "/", &h).is_signed_in(), "{referer}{extra}");
    }
    // Only `Sec-Fetch-Dest: document` (not an iframe, not `Accept`).
    let mut h = with("https://news.example.org/post", "");
    h.insert("sec-fetch-dest", HeaderValue::from_static("iframe"));
    assert!(run(&c, "GET", "/", &h).is_signed_in());
}

fn satellite(issuer: &TestIssuer, live: bool) -> Clerk {
    Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, live))
            .satellite(
                "sat.example.com",
                Some("https://primary.example.com/sign-in"),
            )
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn location(auth: &Auth) -> String {
    handshake(auth).headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Satellite domains sync document navigations with the primary
/// (steps C–E of `authenticateRequestWithTokenInCookie`).
#[test]
fn satellites_sync_with_the_primary() {
    let issuer = TestIssuer::new();
    let cookies = format!(
        "__client_uat={}; __session={}",
        now() - 3600,
        issuer.token().build()
    );
    // Production: no cookies and no sync asked: signed out, no hop.
    let prod = satellite(&issuer, true);
    assert_eq!(
        signed_out(&run(&prod, "GET", "/p", &page(&[]))),
        "session-token-and-uat-missing"
    );
    // Asked to sync: a handshake with `clerk.<domain>`.
    let auth = run(&prod, "GET", "/p?__clerk_synced=false", &page(&[]));
    assert_eq!(handshake(&auth).reason(), "satellite-needs-syncing");
    assert!(location(&auth).starts_with("https://clerk.sat.example.com/v1/client/handshake?"));
    // Cookies already there, or the sync done: the usual flow.
    assert!(run(&prod, "GET", "/p", &page(&[("cookie", &cookies)])).is_signed_in());
    assert_eq!(
        signed_out(&run(&prod, "GET", "/p?__clerk_synced=true", &page(&[]))),
        "session-token-and-uat-missing"
    );
    // Only document navigations (not `Accept: text/html` alone).
    let mut accept = HeaderMap::new();
    accept.insert("host", HeaderValue::from_static("app.example.com"));
    accept.insert("accept", HeaderValue::from_static("text/html"));
    assert_eq!(
        signed_out(&run(&prod, "GET", "/p?__clerk_synced=false", &accept)),
        "session-token-and-uat-missing"
    );

    // Development: through the primary's sign-in page.
    let dev = satellite(&issuer, false);
    let auth = run(&dev, "GET", "/p?__clerk_synced=false", &page(&[]));
    assert_eq!(handshake(&auth).reason(), "satellite-needs-syncing");
    assert_eq!(
        location(&auth),
        "https://primary.example.com/sign-in?__clerk_redirect_url=\
         https%3A%2F%2Fapp.example.com%2Fp%3F__clerk_synced%3Dfalse"
    );

    // A development primary sends the satellite back, synced.
    let primary = clerk(&issuer, false);
    let h = page(&[("cookie", "__clerk_db_jwt=dvb_1")]);
    let auth = run(
        &primary,
        "GET",
        "/sign-in?__clerk_redirect_url=https%3A%2F%2Fsat.example.com%2Fx%3F__clerk_synced%3Dfalse",
        &h,
    );
    assert_eq!(handshake(&auth).reason(), "primary-responds-to-syncing");
    assert_eq!(
        location(&auth),
        "https://sat.example.com/x?__clerk_db_jwt=dvb_1&__clerk_synced=true"
    );
    // Only to an http(s) URL.
    let auth = run(
        &primary,
        "GET",
        "/sign-in?__clerk_redirect_url=javascript%3Aalert(1)",
        &h,
    );
    assert!(!matches!(auth, Auth::Redirect(_)), "{auth:?}");
}

#[test]
fn satellites_need_a_domain_and_development_ones_a_sign_in_url() {
    let issuer = TestIssuer::new();
    let base = || {
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, true))
    };
    let no_domain = crate::ClerkConfig::builder()
        .jwks_json(issuer.jwks_json())
        .publishable_key(publishable_key_for(HOST, true));
    let mut env = std::collections::HashMap::new();
    env.insert("CLERK_IS_SATELLITE", "true");
    let from_env =
        crate::ClerkConfigBuilder::from_env_with(|k| env.get(k).map(|v| (*v).to_owned()))
            .unwrap()
            .jwks_json(issuer.jwks_json())
            .publishable_key(publishable_key_for(HOST, true));
    assert!(matches!(
        from_env.build(),
        Err(crate::ConfigError::Satellite(_))
    ));
    assert!(no_domain.build().is_ok(), "not a satellite");
    assert!(base().satellite("sat.example.com", None).build().is_ok());
    let dev = || {
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, false))
    };
    for sign_in in [None, Some("/sign-in")] {
        assert!(matches!(
            dev().satellite("sat.example.com", sign_in).build(),
            Err(crate::ConfigError::Satellite(_))
        ));
    }
    assert!(
        dev()
            .satellite(
                "sat.example.com",
                Some("https://primary.example.com/sign-in")
            )
            .build()
            .is_ok()
    );
}

#[test]
fn the_handshake_redirect_has_clerks_parameters_and_counts_loops() {
    let issuer = TestIssuer::new();
    let c = clerk(&issuer, true);
    let token = issuer.token().build();
    let h = page(&[("cookie", &format!("__session={token}"))]);
    let auth = run(&c, "GET", "/dashboard?a=1", &h);
    let hs = handshake(&auth);
    let location = hs.headers()[header::LOCATION].to_str().unwrap();
    assert_eq!(
        location,
        format!(
            "https://{HOST}/v1/client/handshake?redirect_url=https%3A%2F%2Fapp.example.com%2Fdashboard%3Fa%3D1\
             &__clerk_api_version=2026-05-12&suffixed_cookies=false\
             &__clerk_hs_reason=session-token-but-no-client-uat&__session={token}"
        )
    );
    assert_eq!(hs.to_response::<String>().status(), 307);
    assert_eq!(hs.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        hs.headers()[header::SET_COOKIE],
        "__clerk_redirect_count=1; SameSite=Lax; HttpOnly; Max-Age=2"
    );
    assert_eq!(hs.headers()["x-clerk-auth-status"], "handshake");
    assert_eq!(
        hs.headers()["x-clerk-auth-reason"],
        "session-token-but-no-client-uat"
    );
    assert!(!format!("{hs:?}").contains(&token), "Debug hides the URL");
    // The third redirect in a row ends signed out with the reason.
    let h = page(&[(
        "cookie",
        &format!("__clerk_redirect_count=3; __session={token}"),
    )]);
    assert_eq!(
        signed_out(&run(&c, "GET", "/dashboard", &h)),
        "session-token-but-no-client-uat"
    );
    let h = page(&[(
        "cookie",
        &format!("__clerk_redirect_count=2; __session={token}"),
    )]);
    let auth = run(&c, "GET", "/dashboard", &h);
    assert_eq!(
        handshake(&auth).headers()[header::SET_COOKIE],
        "__clerk_redirect_count=3; SameSite=Lax; HttpOnly; Max-Age=2"
    );
}

/// A request with Clerk's cookies that is not a page load follows
/// Clerk's cookie rules with no handshake: each handshake is a signed-out
/// answer with its reason (`handleMaybeHandshakeStatus`). Only a GET
/// document (or `Accept: text/html` without `Sec-Fetch-Dest`) with no
/// `Authorization` header is a page; a request whose URL cannot be
/// built is read as an API request (the plain extraction).
#[test]
fn only_page_loads_take_the_browser_path() {
    let issuer = TestIssuer::new();
    let c = clerk(&issuer, true);
    let expired = format!("__session={}", issuer.token().expired().build());
    let api = |pairs: &[(&str, &str)], method: &str| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        signed_out(&run(&c, method, "/x", &h))
    };
    let host = ("host", "app.example.com");
    let with_uat = format!("__client_uat=1; {expired}");
    for (pairs, method, reason) in [
        (
            vec![host, ("cookie", expired.as_str())],
            "GET",
            "session-token-but-no-client-uat",
        ),
        (
            vec![host, ("cookie", &with_uat)],
            "GET",
            "session-token-expired-refresh-non-eligible-no-refresh-cookie",
        ),
        (
            vec![host, ("cookie", &with_uat), ("sec-fetch-dest", "empty")],
            "GET",
            "session-token-expired-refresh-non-eligible-no-refresh-cookie",
        ),
        (
            vec![host, ("cookie", &with_uat), ("sec-fetch-dest", "document")],
            "POST",
            "session-token-expired-refresh-non-eligible-non-get",
        ),
        (
            vec![host, ("cookie", &with_uat), ("sec-fetch-dest", "document")],
            "get",
            "session-token-expired-refresh-non-eligible-non-get",
        ),
        (
            vec![
                host,
                ("cookie", &with_uat),
                ("accept", "application/json, text/html"),
            ],
            "GET",
            "session-token-expired-refresh-non-eligible-no-refresh-cookie",
        ),
    ] {
        assert_eq!(api(&pairs, method), reason, "{pairs:?} {method}");
    }
    for (pairs, method) in [
        // Two Host (or X-Forwarded-Host) lines: no URL is trusted.
        (
            vec![
                host,
                ("host", "evil.example.com"),
                ("cookie", &expired),
                ("sec-fetch-dest", "document"),
            ],
            "GET",
        ),
        (
            vec![
                host,
                ("cookie", &expired),
                ("sec-fetch-dest", "document"),
                ("x-forwarded-host", "a.example.com"),
                ("x-forwarded-host", "b.example.com"),
            ],
            "GET",
        ),
        // No host, or hosts and schemes that cannot make a URL.
        (
            vec![("cookie", expired.as_str()), ("sec-fetch-dest", "document")],
            "GET",
        ),
        (
            vec![
                ("host", "evil.com/x"),
                ("cookie", &expired),
                ("sec-fetch-dest", "document"),
            ],
            "GET",
        ),
        (
            vec![
                ("host", "u@evil.com"),
                ("cookie", &expired),
                ("sec-fetch-dest", "document"),
            ],
            "GET",
        ),
        (
            vec![
                host,
                ("x-forwarded-proto", "javascript"),
                ("cookie", &expired),
                ("sec-fetch-dest", "document"),
            ],
            "GET",
        ),
    ] {
        assert_eq!(api(&pairs, method), "token-expired", "{pairs:?} {method}");
    }
    // A cookie header over the size limit is not read as a page either:
    // the API path refuses it.
    let huge = format!(
        "{expired}; pad={}",
        "x".repeat(crate::request::MAX_HEADER_LEN)
    );
    let h = page(&[("cookie", &huge)]);
    assert_eq!(signed_out(&run(&c, "GET", "/x", &h)), "token-invalid");
    // Any Authorization header keeps the API path (another scheme
    // shadows the cookie, as before).
    let h = page(&[("cookie", &expired), ("authorization", "Basic eA==")]);
    assert_eq!(
        signed_out(&run(&c, "GET", "/x", &h)),
        "session-token-missing"
    );
    // `Accept: text/html…` without Sec-Fetch-Dest is a page.
    let h = {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("app.example.com"));
        h.insert(
            "accept",
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        h.insert(
            "cookie",
            HeaderValue::from_str(&format!("__client_uat=1; {expired}")).unwrap(),
        );
        h
    };
    assert!(matches!(run(&c, "GET", "/x", &h), Auth::Redirect(_)));
    // Without a publishable key there is no browser path at all.
    let plain = Clerk::new(issuer.config().build().unwrap()).unwrap();
    assert_eq!(signed_out(&run(&plain, "GET", "/x", &h)), "token-expired");
}

#[test]
fn odd_cookies_are_refused_not_trusted() {
    let issuer = TestIssuer::new();
    let c = clerk(&issuer, true);
    let uat = format!("__client_uat={}", now() - 3600);
    let m2m = issuer.m2m_token("mch_1", &["read"]).build();
    let other = TestIssuer::new().token().build();
    let oauth = issuer.oauth_token("user_1", "client_1", &["email"]).build();
    let template = issuer.token().header("cat", "cl_B7d4PD222AAA").build();
    let undecodable_header = format!(
        "e30x!.{}",
        issuer.token().build().split_once('.').unwrap().1
    );
    for (session, reason) in [
        ("garbage".to_owned(), "token-invalid"),
        ("a.b".to_owned(), "token-invalid"),
        (undecodable_header, "token-invalid"),
        (m2m, "token-type-mismatch"),
        (oauth, "token-type-mismatch"),
        (template, "token-type-mismatch"),
        (other, "token-invalid-signature"),
    ] {
        let h = page(&[("cookie", &format!("{uat}; __session={session}"))]);
        assert_eq!(signed_out(&run(&c, "GET", "/", &h)), reason, "{session}");
    }
    // An expired token with a refresh cookie: Clerk would refresh it
    // through the Backend API; this SDK reports it has no client for it.
    let suffix = crate::cookies::cookie_suffix(&publishable_key_for(HOST, true));
    let h = page(&[(
        "cookie",
        &format!(
            "{uat}; __session={}; __refresh_{suffix}=r",
            issuer.token().expired().build()
        ),
    )]);
    assert_eq!(
        handshake(&run(&c, "GET", "/", &h)).reason(),
        "session-token-expired-refresh-missing-api-client"
    );
}

#[test]
fn development_instances_need_the_dev_browser() {
    let issuer = TestIssuer::new();
    let c = clerk(&issuer, false);
    let h = page(&[]);
    assert_eq!(
        handshake(&run(&c, "GET", "/", &h)).reason(),
        "dev-browser-missing"
    );
    let auth = run(&c, "GET", "/p?__clerk_db_jwt=dvb_1&x=1", &h);
    let hs = handshake(&auth);
    assert_eq!(hs.reason(), "dev-browser-sync");
    let location = hs.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        location.contains("redirect_url=https%3A%2F%2Fapp.example.com%2Fp%3Fx%3D1&"),
        "{location}"
    );
    assert!(location.ends_with("&__clerk_db_jwt=dvb_1"), "{location}");
    let h = page(&[("cookie", "__clerk_db_jwt=dvb_1")]);
    assert_eq!(
        signed_out(&run(&c, "GET", "/", &h)),
        "session-token-and-uat-missing"
    );
}

/// Clerk's server-side refresh: an expired page session with a
/// `__refresh_<suffix>` cookie is refreshed through the Backend API and
/// the page reloaded with the new cookies; when the refresh fails, the
/// handshake goes ahead with the refresh's reason.
#[tokio::test]
async fn expired_sessions_with_a_refresh_cookie_refresh_through_the_backend_api() {
    let issuer = TestIssuer::new();
    let backend = crate::testing::FakeBackendApi::start().await.unwrap();
    let pk = publishable_key_for(HOST, true);
    let c = Clerk::new(
        issuer
            .config()
            .publishable_key(pk.clone())
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(backend.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let suffix = crate::cookies::cookie_suffix(&pk);
    // A page whose session `sid` expired long ago, with a refresh cookie.
    let expired = |sid: &str| issuer.token().session(sid).issued_at(1_700_000_000).build();
    let refreshing = |token: &str, refresh: &str| {
        page(&[(
            "cookie",
            &format!("__client_uat=1; __session={token}; __refresh_{suffix}={refresh}"),
        )])
    };
    let h = refreshing(&expired("sess_r0"), "rt_0");
    // The Backend API knows no such session: the handshake, with why.
    let auth = c.authenticate(&request("GET", "/p?x=1", &h)).await;
    assert_eq!(
        handshake(&auth).reason(),
        "session-token-expired-refresh-unexpected-bapi-error"
    );
    let seen = backend.seen();
    let call = seen.last().unwrap();
    assert_eq!(call.line, "POST /v1/sessions/sess_r0/refresh");
    let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(body["format"], "cookie");
    assert_eq!(body["refresh_token"], "rt_0");
    assert_eq!(body["expired_token"], expired("sess_r0").as_str());
    assert_eq!(body["request_origin"], "https://app.example.com");
    // Clerk's refusal is remembered for the session: asked once, even
    // with other refresh cookies.
    let calls = backend.calls();
    for rt in ["rt_0", "rt_x", "rt_y"] {
        let h = refreshing(&expired("sess_r0"), rt);
        let auth = c.authenticate(&request("GET", "/p?x=1", &h)).await;
        assert_eq!(
            handshake(&auth).reason(),
            "session-token-expired-refresh-unexpected-bapi-error"
        );
    }
    assert_eq!(backend.calls(), calls);
    let h = refreshing(&expired("sess_r1"), "rt_1");

    // It refreshes: the new cookies, back to the same page.
    let fresh = issuer.token().session("sess_r1").build();
    backend.add_session_refresh(
        "sess_r1",
        vec![
            format!("__session_{suffix}={fresh}; Path=/; SameSite=Lax"),
            format!("__client_uat_{suffix}=2; Path=/"),
        ],
    );
    let auth = c.authenticate(&request("GET", "/p?x=1", &h)).await;
    let hs = handshake(&auth);
    assert_eq!(hs.reason(), "session-token-refreshed");
    assert_eq!(
        hs.headers()[header::LOCATION],
        "https://app.example.com/p?x=1"
    );
    assert_eq!(hs.headers().get_all(header::SET_COOKIE).iter().count(), 2);

    // A refresh answer whose session does not verify is not applied.
    let forged = TestIssuer::new().token().session("sess_r2").build();
    backend.add_session_refresh("sess_r2", vec![format!("__session={forged}; Path=/")]);
    let h = refreshing(&expired("sess_r2"), "rt_2");
    let auth = c.authenticate(&request("GET", "/p", &h)).await;
    assert_eq!(
        handshake(&auth).reason(),
        "session-token-expired-refresh-invalid-session-token"
    );
    // A session id that cannot go into a path is never sent.
    let calls = backend.calls();
    let h = refreshing(&expired("../users"), "rt_3");
    let auth = c.authenticate(&request("GET", "/p", &h)).await;
    assert_eq!(
        handshake(&auth).reason(),
        "session-token-expired-refresh-expired-session-token-missing-sid-claim"
    );
    assert_eq!(backend.calls(), calls);
}

/// Back from a handshake with a nonce (cookie in production): its
/// directives come from the Backend API; an unknown nonce gives none,
/// so the visitor is signed out, as Clerk.
#[tokio::test]
async fn a_handshake_nonce_is_resolved_through_the_backend_api() {
    let issuer = TestIssuer::new();
    let backend = crate::testing::FakeBackendApi::start().await.unwrap();
    let c = Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, true))
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(backend.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let session = issuer.token().build();
    backend.add_handshake_nonce(
        "n_1",
        vec![
            format!("__session={session}; Path=/"),
            "__client_uat=5; Path=/".to_owned(),
        ],
    );
    let h = page(&[("cookie", "__clerk_handshake_nonce=n_1")]);
    let auth = c.authenticate(&request("GET", "/p", &h)).await;
    let hs = handshake(&auth);
    assert_eq!(hs.reason(), "handshake-complete");
    assert_eq!(hs.headers()[header::LOCATION], "https://app.example.com/p");
    let cookies: Vec<_> = hs.headers().get_all(header::SET_COOKIE).iter().collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("__session="))
    );
    assert!(
        cookies
            .iter()
            .any(|c| *c == "__clerk_handshake_nonce=; Path=/; Max-Age=0")
    );
    assert!(
        backend
            .seen()
            .iter()
            .any(|r| r.line == "GET /v1/clients/handshake_payload?nonce=n_1")
    );

    let h = page(&[("cookie", "__clerk_handshake_nonce=unknown")]);
    let auth = c.authenticate(&request("GET", "/p", &h)).await;
    assert_eq!(handshake(&auth).reason(), "session-token-missing");
    // An oversized nonce is never sent to the Backend API.
    let calls = backend.calls();
    let long = format!("__clerk_handshake_nonce={}", "n".repeat(300));
    let auth = c
        .authenticate(&request("GET", "/p", &page(&[("cookie", &long)])))
        .await;
    assert_eq!(handshake(&auth).reason(), "session-token-missing");
    assert_eq!(backend.calls(), calls);
    // In production the query form is ignored.
    let auth = c
        .authenticate(&request(
            "GET",
            "/p?__clerk_handshake_nonce=n_1",
            &page(&[]),
        ))
        .await;
    assert_eq!(signed_out(&auth), "session-token-and-uat-missing");
}

fn handshake_token(issuer: &TestIssuer, directives: &[String]) -> String {
    issuer.sign_raw(
        &json!({"alg": "RS256", "kid": issuer.kid(), "typ": "JWT"}),
        &json!({"handshake": directives}),
    )
}

#[test]
fn finishing_sets_the_cookies_and_returns_to_the_clean_url() {
    let issuer = TestIssuer::new();
    let c = clerk(&issuer, false);
    let session = issuer.token().build();
    let directives = vec![
        format!("__session={session}; Path=/; SameSite=Lax"),
        format!("__client_uat={}; Path=/; Max-Age=315360000", now()),
    ];
    let token = handshake_token(&issuer, &directives);
    let h = page(&[]);
    let target = format!("/dashboard?tab=2&__clerk_handshake={token}&__clerk_db_jwt=dvb_1");
    let auth = run(&c, "GET", &target, &h);
    let hs = handshake(&auth);
    assert_eq!(hs.reason(), "handshake-complete");
    assert_eq!(
        hs.headers()[header::LOCATION],
        "https://app.example.com/dashboard?tab=2"
    );
    let cookies: Vec<_> = hs.headers().get_all(header::SET_COOKIE).iter().collect();
    assert_eq!(
        cookies.len(),
        2,
        "the two directives (a query finish is not counted)"
    );
    assert!(hs.headers().get("x-clerk-auth-status").is_none());
    // Round too often: the handshake is not applied again, the cookies
    // decide (here: no dev browser yet).
    let token = handshake_token(&issuer, &directives);
    let looping = page(&[(
        "cookie",
        &format!("__clerk_redirect_count=3; __clerk_handshake={token}"),
    )]);
    let auth = run(&c, "GET", "/dashboard", &looping);
    assert!(!matches!(&auth, Auth::Redirect(h) if h.reason() == "handshake-complete"));

    // No session among the directives: back, signed out.
    let token = handshake_token(&issuer, &["__client_uat=0; Path=/".to_owned()]);
    let auth = run(&c, "GET", &format!("/?__clerk_handshake={token}"), &h);
    let hs = handshake(&auth);
    assert_eq!(hs.reason(), "session-token-missing");
    assert_eq!(hs.headers()["x-clerk-auth-status"], "signed-out");
    assert_eq!(hs.headers()[header::LOCATION], "https://app.example.com/");

    // Forged (another key) or not a JWT: never its cookies; the
    // request's own cookies decide (here: no dev browser yet).
    let forged = handshake_token(&TestIssuer::new(), &directives);
    for bad in [forged, "x.y.z".to_owned(), "garbage".to_owned()] {
        let auth = run(&c, "GET", &format!("/?__clerk_handshake={bad}"), &h);
        let hs = handshake(&auth);
        assert_eq!(hs.reason(), "dev-browser-missing", "{auth:?}");
        assert!(
            hs.headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .all(|c| c.to_str().unwrap().starts_with("__clerk_redirect_count=")),
            "{auth:?}"
        );
    }
    // A production instance takes a handshake from its cookie only: a
    // link carrying someone's handshake token signs no one in.
    let prod = clerk(&issuer, true);
    let token = handshake_token(&issuer, &directives);
    let auth = run(&prod, "GET", &format!("/?__clerk_handshake={token}"), &h);
    assert_eq!(signed_out(&auth), "session-token-and-uat-missing");
    // From a cookie, the handshake cookie is cleared on the way back.
    let token = handshake_token(&issuer, &directives);
    let h = page(&[("cookie", &format!("__clerk_handshake={token}"))]);
    let auth = run(&c, "GET", "/", &h);
    let cleared = handshake(&auth)
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v == "__clerk_handshake=; Path=/; Max-Age=0");
    assert!(cleared);
    assert!(
        handshake(&auth)
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("__clerk_redirect_count=1;")),
        "a finish from a cookie counts"
    );
}
