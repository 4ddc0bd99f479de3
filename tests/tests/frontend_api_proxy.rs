//! Clerk's Frontend API proxy (`/__clerk/*`) through both adapters,
//! against a local stand-in for the Frontend API on a loopback port: what
//! is forwarded, what comes back, and the hostile table (another host,
//! absolute-form targets, dot segments, oversized headers and bodies, a
//! slow, a huge and a missing upstream). Both adapters answer alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::test as actix_test;
use axum::body::Body;
use clerk_core::Clerk;
use clerk_core::browser::FrontendApiProxy;
use clerk_core::testing::{TestIssuer, publishable_key_for};
use tower::ServiceExt;

/// The stand-in Frontend API: echoes what it got, and misbehaves on
/// `/v1/slow` (never answers) and `/v1/huge` (17 MiB).
async fn upstream(hits: Arc<AtomicUsize>) -> SocketAddr {
    use axum::routing::{any, get};
    let counted = move |h: Arc<AtomicUsize>| {
        move |req: axum::extract::Request| {
            let h = h.clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 4 << 20).await.unwrap();
                let headers: serde_json::Map<_, _> = parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").into()))
                    .collect();
                let echo = serde_json::json!({
                    "method": parts.method.as_str(),
                    "uri": parts.uri.to_string(),
                    "headers": headers,
                    "body": String::from_utf8_lossy(&body),
                });
                http::Response::builder()
                    .header("set-cookie", "__client=a; Path=/")
                    .header("set-cookie", "__client_uat=1; Path=/")
                    .header("connection", "x-internal")
                    .header("x-internal", "hop")
                    .header("keep-alive", "timeout=5")
                    .header("location", "/v1/next?x=1")
                    .header("content-type", "application/json")
                    .body(Body::from(echo.to_string()))
                    .unwrap()
            }
        }
    };
    let app = axum::Router::new()
        .route("/v1/slow", get(std::future::pending::<&'static str>))
        .route("/v1/huge", get(|| async { vec![b'x'; 17 * 1024 * 1024] }))
        .fallback(any(counted(hits)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn proxy_to(upstream: &str) -> FrontendApiProxy {
    let clerk = Clerk::new(
        TestIssuer::new()
            .config()
            .publishable_key(publishable_key_for("clerk.test.invalid", true))
            .secret_key("sk_test_your_clerk_key_here")
            .build()
            .unwrap(),
    )
    .unwrap();
    clerk
        .frontend_api_proxy()
        .unwrap()
        .upstream(upstream)
        .unwrap()
        .timeout(Duration::from_millis(500))
}

/// (status, headers without date/length, body) of one answer.
type Seen = (u16, Vec<(String, String)>, Vec<u8>);

async fn via_axum(proxy: &FrontendApiProxy, req: http::Request<Vec<u8>>) -> Result<Seen, String> {
    let app = axum::Router::new()
        .route_service(
            "/__clerk/{*path}",
            clerk_tower::FrontendApiProxyService::new(proxy.clone()),
        )
        .route_service(
            "/{*other}",
            clerk_tower::FrontendApiProxyService::new(proxy.clone()),
        );
    let (mut parts, body) = req.into_parts();
    parts
        .extensions
        .insert(SocketAddr::from(([203, 0, 113, 7], 4000)));
    let res = app
        .oneshot(http::Request::from_parts(parts, Body::from(body)))
        .await
        .unwrap();
    let status = res.status().as_u16();
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "content-length"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    let body = axum::body::to_bytes(res.into_body(), 64 << 20)
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, headers, body.to_vec()))
}

async fn via_actix(proxy: &FrontendApiProxy, req: &http::Request<Vec<u8>>) -> Result<Seen, String> {
    use actix_web::web;
    let app = actix_test::init_service(
        actix_web::App::new()
            .app_data(web::Data::new(proxy.clone()))
            .route("/{tail:.*}", web::to(clerk_actix::frontend_api_proxy)),
    )
    .await;
    let mut test = actix_test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(req.method().as_str().as_bytes()).unwrap())
        .uri(&req.uri().to_string())
        .peer_addr(SocketAddr::from(([203, 0, 113, 7], 4000)))
        .set_payload(req.body().clone());
    for (n, v) in req.headers() {
        test = test.append_header((n.as_str(), v.as_bytes()));
    }
    let res = actix_test::call_service(&app, test.to_request()).await;
    let status = res.status().as_u16();
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "date" | "content-length"))
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    let body = actix_web::body::to_bytes(res.into_body())
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, headers, body.to_vec()))
}

/// Both adapters, the same answer.
async fn both(proxy: &FrontendApiProxy, req: http::Request<Vec<u8>>) -> Seen {
    let actix = via_actix(proxy, &req).await.unwrap();
    let axum = via_axum(proxy, req).await.unwrap();
    assert_eq!(
        (axum.0, &axum.1, String::from_utf8_lossy(&axum.2)),
        (actix.0, &actix.1, String::from_utf8_lossy(&actix.2)),
        "axum and actix answer alike"
    );
    axum
}

fn get(target: &str) -> http::request::Builder {
    http::Request::get(target).header("host", "app.example.com")
}

fn header<'a>(seen: &'a Seen, name: &str) -> Vec<&'a str> {
    seen.1
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[actix_web::test]
async fn the_proxy_forwards_with_clerks_headers_and_streams_back() {
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = upstream(hits.clone()).await;
    let proxy = proxy_to(&format!("http://{addr}"));

    let req = get("/__clerk/v1/client?_clerk_js_version=5&x=%2F")
        .header("cookie", "__client_uat=1; other=2")
        .header("connection", "keep-alive, x-secret-hop")
        .header("x-secret-hop", "1")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("x-forwarded-for", "198.51.100.1")
        .header("clerk-secret-key", "sk_test_forged")
        .header("x-custom", "kept")
        .body(Vec::new())
        .unwrap();
    let seen = both(&proxy, req).await;
    assert_eq!(seen.0, 200);
    let echo: serde_json::Value = serde_json::from_slice(&seen.2).unwrap();
    assert_eq!(echo["uri"], "/v1/client?_clerk_js_version=5&x=%2F");
    let sent = &echo["headers"];
    assert_eq!(sent["clerk-secret-key"], "sk_test_your_clerk_key_here");
    assert_eq!(sent["clerk-proxy-url"], "https://app.example.com/__clerk");
    assert_eq!(sent["host"], addr.to_string());
    assert_eq!(sent["accept-encoding"], "identity");
    // The connection's peer, not what the client wrote (no trusted proxy).
    assert_eq!(sent["x-forwarded-for"], "203.0.113.7");
    assert_eq!(sent["x-forwarded-host"], "app.example.com");
    assert_eq!(sent["x-forwarded-proto"], "https");
    assert_eq!(sent["cookie"], "__client_uat=1; other=2");
    assert_eq!(sent["x-custom"], "kept");
    for hop in ["connection", "x-secret-hop", "keep-alive", "te"] {
        assert!(sent.get(hop).is_none(), "{hop} forwarded: {sent}");
    }
    // Back: both cookies, no hop-by-hop headers, the redirect through the
    // proxy.
    assert_eq!(
        header(&seen, "set-cookie"),
        ["__client=a; Path=/", "__client_uat=1; Path=/"]
    );
    for hop in ["connection", "x-internal", "keep-alive"] {
        assert!(header(&seen, hop).is_empty(), "{hop}: {seen:?}");
    }
    assert_eq!(header(&seen, "location"), ["/__clerk/v1/next?x=1"]);

    // A body streams up (a form post).
    let req = http::Request::post("/__clerk/v1/client/sign_ins")
        .header("host", "app.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"identifier=a%40example.com".to_vec())
        .unwrap();
    let seen = both(&proxy, req).await;
    let echo: serde_json::Value = serde_json::from_slice(&seen.2).unwrap();
    assert_eq!(
        (echo["method"].as_str(), echo["body"].as_str()),
        (Some("POST"), Some("identifier=a%40example.com"))
    );
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

/// Nothing a request carries can point the proxy at another host or
/// outside the Frontend API's paths; oversized requests are refused before
/// any upstream call.
#[actix_web::test]
async fn the_proxy_is_never_an_open_proxy() {
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = upstream(hits.clone()).await;
    let proxy = proxy_to(&format!("http://{addr}"));
    let big_cookie = "c".repeat(40 * 1024);
    let cases: Vec<(http::Request<Vec<u8>>, u16)> = vec![
        (get("/__clerk/../admin").body(vec![]).unwrap(), 400),
        (get("/__clerk/%2e%2e/admin").body(vec![]).unwrap(), 400),
        (get("/__clerk//evil.example/x").body(vec![]).unwrap(), 400),
        (get("/__clerk/a%2Fb").body(vec![]).unwrap(), 400),
        (get("/__clerk/a\\b").body(vec![]).unwrap(), 400),
        (
            get("/__clerk/%0d%0aSet-Cookie:x").body(vec![]).unwrap(),
            400,
        ),
        (get("/__clerkevil/v1/client").body(vec![]).unwrap(), 400),
        (get("/v1/client").body(vec![]).unwrap(), 400),
        (
            get("http://evil.example/__clerk/v1/client")
                .body(vec![])
                .unwrap(),
            400,
        ),
        (
            get("/__clerk/v1/client")
                .header("cookie", big_cookie.as_str())
                .body(vec![])
                .unwrap(),
            431,
        ),
        (
            http::Request::post("/__clerk/v1/client")
                .header("host", "app.example.com")
                .header("content-length", "2000000")
                .body(vec![b'x'; 2_000_000])
                .unwrap(),
            413,
        ),
        // No host to name the proxy by.
        (
            http::Request::get("/__clerk/v1/client")
                .body(vec![])
                .unwrap(),
            400,
        ),
    ];
    for (req, status) in cases {
        let target = req.uri().to_string();
        let seen = via_axum(&proxy, req).await.unwrap();
        assert_eq!(seen.0, status, "{target}: {seen:?}");
        assert_eq!(header(&seen, "cache-control"), ["no-store"], "{target}");
        let body: serde_json::Value = serde_json::from_slice(&seen.2).unwrap();
        assert!(body["errors"][0]["code"].is_string(), "{target}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request reached the upstream"
    );
    // The same refusals through actix (its test client cannot send an
    // absolute-form target or a `..` path unnormalised, so a subset).
    for (target, status) in [("/__clerk/%2e%2e/admin", 400), ("/v1/client", 400)] {
        let seen = via_actix(&proxy, &get(target).body(vec![]).unwrap())
            .await
            .unwrap();
        assert_eq!(seen.0, status, "{target}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

/// A slow upstream is 504, a missing one 502, a huge answer is cut short.
#[actix_web::test]
async fn upstream_failures_are_answered_not_waited_on() {
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = upstream(hits.clone()).await;
    let proxy = proxy_to(&format!("http://{addr}"));
    let seen = both(&proxy, get("/__clerk/v1/slow").body(vec![]).unwrap()).await;
    assert_eq!(seen.0, 504);
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gone = proxy_to(&format!("http://{closed}"));
    let seen = both(&gone, get("/__clerk/v1/client").body(vec![]).unwrap()).await;
    assert_eq!(seen.0, 502);
    // Past the response cap the body ends in an error, never in full.
    let req = get("/__clerk/v1/huge").body(vec![]).unwrap();
    assert!(via_axum(&proxy, req.clone()).await.is_err());
    assert!(via_actix(&proxy, &req).await.is_err());
}
