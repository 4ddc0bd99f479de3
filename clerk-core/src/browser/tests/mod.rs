// The request-state table, with Clerk's cookie, query and reason
// names, through `Clerk::authenticate`, and its hostile rows.
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use serde_json::json;

use crate::Clerk;
use crate::auth::Auth;
use crate::auth::PageAnswer;
use crate::clock::{Clock, SystemClock};
use crate::testing::{TestIssuer, publishable_key_for, request};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

const HOST: &str = "clerk.test.invalid";

mod calls;
mod organizations;
mod satellites;

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

fn handshake(auth: &Auth) -> &PageAnswer {
    match auth {
        Auth::Page(h) => h,
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
            Auth::Page(h) => h.reason(),
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
    assert!(matches!(run(&c, "GET", "/x", &h), Auth::Page(_)));
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

/// A relative proxy URL (`CLERK_PROXY_URL=/__clerk`) is resolved against
/// each page's own origin, as Clerk's `new URL(proxyUrl, clerkUrl)`; an
/// absolute one is used as given; a hostile path is refused at build.
#[test]
fn a_relative_proxy_url_is_resolved_per_request() {
    let issuer = TestIssuer::new();
    let build = |proxy: &str| {
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, true))
            .frontend_api_url(proxy)
            .build()
    };
    let c = Clerk::new(build("/__clerk/").unwrap()).unwrap();
    let expired = issuer.token().issued_at(1_000_000_000).build();
    let cookies = format!("__client_uat={}; __session={expired}", now() - 3600);
    for host in ["app.example.com", "tenant.example.org:8443"] {
        let mut h = page(&[("cookie", &cookies)]);
        h.insert("host", HeaderValue::from_str(host).unwrap());
        let auth = run(&c, "GET", "/dashboard", &h);
        let location = handshake(&auth).headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            location.starts_with(&format!("https://{host}/__clerk/v1/client/handshake?")),
            "{location}"
        );
    }
    // The proxy's own path is never sent through a handshake (Clerk's
    // middleware proxies it before authenticating): the handshake itself
    // goes through it.
    let h = page(&[("cookie", &cookies)]);
    // (`%5F` is `_` in the reading the router routes.)
    for path in [
        "/__clerk",
        "/__clerk/v1/client/handshake?redirect_url=x",
        "/%5F_clerk/x",
    ] {
        assert!(!matches!(run(&c, "GET", path, &h), Auth::Page(_)), "{path}");
    }
    // Only the one routed reading, with no dot segment: anything else
    // stays a page load (the stricter path).
    for path in [
        "/__clerkx/a",
        "/__clerk/../dashboard",
        "/__clerk/%2E%2E/dashboard",
        "/__clerk/./x",
        "/__clerk/a%2Fb",
        "/__clerk//x",
        "/__CLERK/x",
    ] {
        assert!(matches!(run(&c, "GET", path, &h), Auth::Page(_)), "{path}");
    }
    // The proxy serves at the same path by default.
    let proxy = Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, true))
            .secret_key("sk_test_your_clerk_key_here")
            .frontend_api_url("/auth/clerk")
            .build()
            .unwrap(),
    )
    .unwrap()
    .frontend_api_proxy()
    .unwrap();
    assert!(proxy.matches("/auth/clerk/v1/client"));
    assert!(!proxy.matches("/__clerk/v1/client"));
    // Absolute: as given, whatever the Host; its path is the proxy's on
    // that origin only (another host's `/__clerk` is a page here).
    let c = Clerk::new(build("https://proxy.example.com/__clerk").unwrap()).unwrap();
    let h = page(&[("cookie", &cookies)]);
    assert!(matches!(run(&c, "GET", "/__clerk/x", &h), Auth::Page(_)));
    let mut on_proxy = h.clone();
    on_proxy.insert("host", HeaderValue::from_static("proxy.example.com"));
    assert!(!matches!(
        run(&c, "GET", "/__clerk/x", &on_proxy),
        Auth::Page(_)
    ));
    let auth = run(&c, "GET", "/dashboard", &h);
    assert!(
        handshake(&auth).headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("https://proxy.example.com/__clerk/v1/client/handshake?")
    );
    // Hostile paths never reach a Location.
    for bad in [
        "/",
        "//evil.com",
        "/a/../b",
        "/./x",
        "/a//b",
        "/x?y",
        "/x#y",
        "/x%2f",
        "/x\\y",
        "/x\r\nSet-Cookie: a=b",
        "/x y",
        "/é",
    ] {
        assert!(build(bad).is_err(), "{bad:?}");
    }
    assert!(build(&format!("/{}", "a".repeat(300))).is_err());
}
