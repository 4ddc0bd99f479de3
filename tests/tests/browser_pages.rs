//! Page loads Clerk's way through both adapters: an expired session cookie
//! on a `GET` document becomes the same 307 to the Frontend API's handshake
//! in axum and actix, answered by the authenticating layer itself. The
//! handlers have no extractor: they only count calls, so the layer is the
//! only thing deciding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::test as actix_test;
use clerk_core::Clerk;
use clerk_core::testing::{TestIssuer, publishable_key_for, request};
use tower::ServiceExt;

fn clerk(issuer: &TestIssuer) -> Clerk {
    Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for("clerk.test.invalid", true))
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// (status, sorted headers) of a response.
type Seen = (u16, Vec<(String, String)>);

async fn axum_call(clerk: &Clerk, hits: &Arc<AtomicUsize>, req: http::Request<()>) -> Seen {
    let h = hits.clone();
    let app = axum::Router::new()
        .route(
            "/dashboard",
            axum::routing::get(move || {
                h.fetch_add(1, Ordering::SeqCst);
                async { "page" }
            }),
        )
        .layer(clerk_axum::ClerkLayer::new(clerk.clone()));
    let (parts, ()) = req.into_parts();
    let res = app
        .oneshot(http::Request::from_parts(parts, axum::body::Body::empty()))
        .await
        .unwrap();
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(n, _)| *n != "content-length" && *n != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (res.status().as_u16(), headers)
}

async fn actix_call(clerk: &Clerk, hits: &Arc<AtomicUsize>, req: &http::Request<()>) -> Seen {
    let h = hits.clone();
    let app = actix_test::init_service(
        actix_web::App::new()
            .route(
                "/dashboard",
                actix_web::web::get().to(move || {
                    h.fetch_add(1, Ordering::SeqCst);
                    async { "page" }
                }),
            )
            .wrap(clerk_actix::ClerkMiddleware::new(clerk.clone())),
    )
    .await;
    let mut test = actix_test::TestRequest::get().uri(&req.uri().to_string());
    for (n, v) in req.headers() {
        test = test.append_header((n.as_str(), v.to_str().unwrap()));
    }
    let res = actix_test::call_service(&app, test.to_request()).await;
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(n, _)| n.as_str() != "content-length" && n.as_str() != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (res.status().as_u16(), headers)
}

#[actix_web::test]
async fn an_expired_page_session_goes_through_the_handshake_in_both_adapters() {
    let issuer = TestIssuer::new();
    let clerk = clerk(&issuer);
    let expired = issuer.token().issued_at(1_000_000_000).build();
    let page = |cookie: String, dest: &str| {
        http::Request::get("/dashboard?tab=1")
            .header("host", "app.example.com")
            .header("sec-fetch-dest", dest)
            .header("cookie", cookie)
            .body(())
            .unwrap()
    };
    let hits = Arc::new(AtomicUsize::new(0));
    let req = page(
        format!("__client_uat=999999999; __session={expired}"),
        "document",
    );
    let axum = axum_call(&clerk, &hits, req.clone()).await;
    let actix = actix_call(&clerk, &hits, &req).await;
    assert_eq!(axum, actix, "byte-identical answers");
    assert_eq!(axum.0, 307);
    let header = |name: &str| {
        axum.1
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(header("location").unwrap().starts_with(
        "https://clerk.test.invalid/v1/client/handshake?redirect_url=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1&"
    ));
    assert_eq!(
        header("x-clerk-auth-reason"),
        Some("session-token-expired-refresh-non-eligible-no-refresh-cookie")
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no handler ran");

    // The same cookies on an API request (fetch) reach the handler signed
    // out (the layer never rejects), with Clerk's reason for an expired
    // cookie that is not a page load; the same in both.
    let req = page(
        format!("__client_uat=999999999; __session={expired}"),
        "empty",
    );
    let (axum, actix) = (
        axum_call(&clerk, &hits, req.clone()).await,
        actix_call(&clerk, &hits, &req).await,
    );
    assert_eq!(axum.0, 200);
    let debug: Vec<_> = axum
        .1
        .iter()
        .filter(|(n, _)| n.starts_with("x-clerk-auth"))
        .cloned()
        .collect();
    assert_eq!(
        debug,
        [
            (
                "x-clerk-auth-reason".to_owned(),
                "session-token-expired-refresh-non-eligible-no-refresh-cookie".to_owned()
            ),
            ("x-clerk-auth-status".to_owned(), "signed-out".to_owned())
        ]
    );
    assert_eq!(axum, actix);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // Turned off, there are none.
    let quiet = Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for("clerk.test.invalid", true))
            .debug_headers(false)
            .build()
            .unwrap(),
    )
    .unwrap();
    for seen in [
        axum_call(&quiet, &hits, req.clone()).await,
        actix_call(&quiet, &hits, &req).await,
    ] {
        assert!(
            !seen.1.iter().any(|(n, _)| n.starts_with("x-clerk")),
            "{seen:?}"
        );
    }
    hits.fetch_sub(2, Ordering::SeqCst);

    // A valid session passes to the handler.
    let fresh = issuer.token().build();
    let req = page(
        format!("__client_uat=999999999; __session={fresh}"),
        "document",
    );
    let (axum, actix) = (
        axum_call(&clerk, &hits, req.clone()).await,
        actix_call(&clerk, &hits, &req).await,
    );
    assert_eq!((axum.0, actix.0), (200, 200));
    assert!(
        !axum.1.iter().any(|(n, _)| n.starts_with("x-clerk")),
        "none when signed in"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

/// A browser stand-in: one cookie jar (every server is on `localhost`,
/// and cookies ignore ports), redirects followed by hand so each hop can
/// be checked, page headers on every request.
struct Visitor {
    http: reqwest::Client,
    jar: std::collections::BTreeMap<String, String>,
}

/// One response on the way: URL, status, Location, `x-clerk-auth-reason`.
#[derive(Debug)]
struct Hop {
    url: String,
    status: u16,
    location: Option<String>,
    reason: Option<String>,
    body: String,
}

impl Visitor {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Default::default(),
        }
    }

    async fn get(&mut self, url: &str) -> Hop {
        let cookie: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let res = self
            .http
            .get(url)
            .header("sec-fetch-dest", "document")
            .header("accept", "text/html")
            .header("cookie", cookie.join("; "))
            .send()
            .await
            .unwrap();
        for set in res.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let first = set.split(';').next().unwrap();
            let (name, value) = first.split_once('=').unwrap();
            let gone = value.is_empty() || set.contains("Max-Age=0");
            if gone {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
        let (location, reason) = (header("location"), header("x-clerk-auth-reason"));
        let status = res.status().as_u16();
        Hop {
            url: url.to_owned(),
            status,
            location,
            reason,
            body: res.text().await.unwrap(),
        }
    }

    /// Follows redirects (at most 10) and returns every hop.
    async fn visit(&mut self, url: &str) -> Vec<Hop> {
        let mut hops = Vec::new();
        let mut url = url.to_owned();
        for _ in 0..10 {
            let hop = self.get(&url).await;
            let next = hop.location.clone();
            let base = reqwest::Url::parse(&url).unwrap();
            hops.push(hop);
            match next {
                Some(to) if (300..400).contains(&hops.last().unwrap().status) => {
                    url = base.join(&to).unwrap().to_string();
                }
                _ => return hops,
            }
        }
        panic!("too many redirects: {hops:#?}");
    }
}

fn subject(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    json["sub"].as_str().unwrap().to_owned()
}

/// The dev app and its Frontend API stand-in over real HTTP, the way a
/// browser goes: signed out to sign-in and back, an expired session
/// refreshed through the handshake, forged handshakes and loops signed
/// out, sign-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_round_trips_over_http_against_the_dev_frontend_api() {
    let state =
        clerk_examples::AppState::start_dev(clerk_examples::DevMode::new(), "/sign-in".into())
            .await
            .unwrap();
    let dev = state.dev.clone().unwrap();
    let member = dev.personas.iter().find(|p| p.name == "member").unwrap();
    let user = subject(&member.token);
    let app = clerk_examples::axum_app::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let site = format!("http://localhost:{port}");
    let dashboard = format!("{site}/dashboard");
    // The stand-in, reached through the app's own Frontend API proxy (a
    // relative proxy URL, resolved against the page's origin).
    let fapi = format!("{site}/__clerk");
    let mut v = Visitor::new();

    // Signed out: a handshake gives the browser its dev browser, then the
    // guard sends it to sign in, naming the page to come back to.
    let hops = v.visit(&dashboard).await;
    assert_eq!(hops[0].status, 307);
    assert_eq!(hops[0].reason.as_deref(), Some("dev-browser-missing"));
    assert!(
        hops[0]
            .location
            .as_deref()
            .unwrap()
            .starts_with(&format!("{}/v1/client/handshake?", fapi))
    );
    let last = hops.last().unwrap();
    assert_eq!(last.status, 200, "{hops:#?}");
    assert!(
        last.url
            .starts_with(&format!("{}/sign-in?redirect_url=", fapi)),
        "{hops:#?}"
    );
    assert!(
        last.url.contains("redirect_url=http%3A%2F%2Flocalhost%3A"),
        "{hops:#?}"
    );
    assert!(last.body.contains("member"));
    assert!(v.jar.contains_key("__clerk_db_jwt"));

    // Sign in as a persona: back on the dashboard, signed in.
    let sign_in = format!(
        "{}/v1/dev/sign-in?persona=member&redirect_url={}",
        fapi,
        dashboard.replace(':', "%3A").replace('/', "%2F")
    );
    let hops = v.visit(&sign_in).await;
    let last = landed(&hops, &dashboard);
    assert!(last.body.contains(&user), "{}", last.body);

    // An hour later: the session token has expired. The page load goes
    // through the handshake and comes back signed in, on the clean URL.
    // Issued long ago, so expired (and after an old `__client_uat`).
    let expired = || {
        dev.issuer
            .token()
            .user(&user)
            .issued_at(1_000_000_000)
            .build()
    };
    v.jar.insert("__session".into(), expired());
    v.jar.insert("__client_uat".into(), "999999999".into());
    let hops = v.visit(&format!("{dashboard}?tab=2")).await;
    assert_eq!(
        hops[0].reason.as_deref(),
        Some("session-token-expired-refresh-non-eligible-no-refresh-cookie"),
        "{hops:#?}"
    );
    assert!(hops[1].url.starts_with(&fapi));
    assert!(hops[2].url.contains("__clerk_handshake="), "{hops:#?}");
    assert_eq!(
        hops[2].location.as_deref(),
        Some(format!("{dashboard}?tab=2").as_str())
    );
    let last = hops.last().unwrap();
    assert_eq!(last.status, 200, "{hops:#?}");
    assert!(last.body.contains(&user));
    assert_eq!(hops.len(), 4, "{hops:#?}");

    // A forged handshake token is never applied: the visitor's own
    // cookies decide (still signed in as themselves).
    let forged = clerk_core::testing::TestIssuer::new().sign_raw(
        &serde_json::json!({"alg": "RS256", "kid": dev.issuer.kid(), "typ": "JWT"}),
        &serde_json::json!({"handshake": ["__session=forged; Path=/"]}),
    );
    let hop = v
        .get(&format!("{dashboard}?__clerk_handshake={forged}"))
        .await;
    assert_eq!(hop.status, 200);
    assert!(hop.body.contains(&user));
    assert_ne!(v.jar.get("__session").map(String::as_str), Some("forged"));

    // A loop ends signed out: the third handshake in a row is not sent.
    v.jar.insert("__session".into(), expired());
    v.jar.insert("__clerk_redirect_count".into(), "3".into());
    let hop = v.get(&dashboard).await;
    assert_eq!(hop.status, 307);
    assert!(
        hop.location.unwrap().starts_with("/sign-in?redirect_url="),
        "signed out, to sign in"
    );
    v.jar.remove("__clerk_redirect_count");

    // Sign out: the dashboard sends the browser to sign in again.
    let hops = v.visit(&format!("{site}/sign-out")).await;
    assert_eq!(hops.last().unwrap().status, 200, "{hops:#?}");
    let hops = v.visit(&dashboard).await;
    assert!(
        hops.last()
            .unwrap()
            .url
            .starts_with(&format!("{fapi}/sign-in")),
        "{hops:#?}"
    );
}

#[tokio::test]
async fn bearer_only_never_takes_a_page_load_or_a_cookie() {
    let issuer = TestIssuer::new();
    let clerk = clerk(&issuer);
    let expired = issuer.token().issued_at(1_000_000_000).build();
    let fresh = issuer.token().build();
    let page = |cookie: String| {
        let req = http::Request::get("/dashboard")
            .header("host", "app.example.com")
            .header("sec-fetch-dest", "document")
            .header("cookie", cookie)
            .body(())
            .unwrap();
        req.headers().clone()
    };
    let expired_page = page(format!("__client_uat=999999999; __session={expired}"));
    let auth = clerk
        .authenticate(&request("GET", "/dashboard", &expired_page))
        .await;
    assert!(
        matches!(auth, clerk_core::Auth::Page(_)),
        "the page path, without bearer_only"
    );
    let grpc = clerk.bearer_only();
    for headers in [
        expired_page,
        page(format!("__client_uat=999999999; __session={fresh}")),
    ] {
        let auth = grpc
            .authenticate(&request("GET", "/dashboard", &headers))
            .await;
        assert!(
            matches!(auth, clerk_core::Auth::SignedOut(r) if r.as_str() == "session-token-missing"),
            "{auth:?}"
        );
        assert!(!grpc.authenticate(&headers).await.is_signed_in());
    }
}

/// (status, sorted headers) of one guarded page in both adapters: the
/// handler has no extractor; `ProtectLayer` / `ClerkProtect` with
/// `signed_in()` decide from the `Auth` the authenticating layer gave.
async fn guarded_both(clerk: &Clerk, req: &http::Request<()>) -> (Seen, Seen) {
    let protect = || clerk_core::Protect::signed_in();
    let axum_app = axum::Router::new()
        .route(
            "/dashboard",
            axum::routing::get(|| async { "page" }).layer(clerk_axum::ProtectLayer::new(protect())),
        )
        .layer(clerk_axum::ClerkLayer::new(clerk.clone()));
    let mut axum_req = http::Request::get(req.uri().to_string());
    for (n, v) in req.headers() {
        axum_req = axum_req.header(n, v);
    }
    let res = axum_app
        .oneshot(axum_req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let mut axum_headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(n, _)| *n != "content-length" && *n != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    axum_headers.sort();
    let axum = (res.status().as_u16(), axum_headers);

    let app = actix_test::init_service(
        actix_web::App::new()
            .service(
                actix_web::web::resource("/dashboard")
                    .wrap(clerk_actix::ClerkProtect::new(protect()))
                    .route(actix_web::web::get().to(|| async { "page" })),
            )
            .wrap(clerk_actix::ClerkMiddleware::new(clerk.clone())),
    )
    .await;
    let mut test = actix_test::TestRequest::get().uri(&req.uri().to_string());
    for (n, v) in req.headers() {
        test = test.append_header((n.as_str(), v.to_str().unwrap()));
    }
    let res = actix_test::call_service(&app, test.to_request()).await;
    let mut headers: Vec<_> = res
        .headers()
        .iter()
        .filter(|(n, _)| n.as_str() != "content-length" && n.as_str() != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (axum, (res.status().as_u16(), headers))
}

/// A production instance finishes a handshake on the page's own response
/// (Clerk's `resolveHandshake`): the guarded page is served signed in,
/// with the handshake's cookies and `Cache-Control: no-store` added, the
/// handshake cookie cleared; byte-identical in axum and actix. A forged
/// handshake cookie is never applied.
#[actix_web::test]
async fn a_production_handshake_finishes_on_the_page_itself_in_both_adapters() {
    let issuer = TestIssuer::new();
    let clerk = clerk(&issuer);
    let session = issuer.token().build();
    let signed = |issuer: &TestIssuer| {
        issuer.sign_raw(
            &serde_json::json!({"alg": "RS256", "kid": issuer.kid(), "typ": "JWT"}),
            &serde_json::json!({"handshake": [
                format!("__session={session}; Path=/; SameSite=Lax"),
                "__client_uat=999999999; Path=/",
            ]}),
        )
    };
    let page = |cookie: String| {
        http::Request::get("/dashboard?tab=1")
            .header("host", "app.example.com")
            .header("sec-fetch-dest", "document")
            .header("cookie", cookie)
            .body(())
            .unwrap()
    };
    let req = page(format!("__clerk_handshake={}", signed(&issuer)));
    let (axum, actix) = guarded_both(&clerk, &req).await;
    assert_eq!(axum, actix, "byte-identical answers");
    assert_eq!(axum.0, 200, "served, signed in: {axum:?}");
    let all = |name: &str| -> Vec<&str> {
        axum.1
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert!(all("location").is_empty());
    assert!(all("access-control-allow-origin").is_empty());
    assert_eq!(all("cache-control"), ["no-store"]);
    let cookies = all("set-cookie");
    assert!(cookies.contains(&format!("__session={session}; Path=/; SameSite=Lax").as_str()));
    assert!(cookies.contains(&"__client_uat=999999999; Path=/"));
    assert!(cookies.contains(&"__clerk_handshake=; Path=/; Max-Age=0"));

    // Signed by another key: never applied; the page's own cookies (none)
    // decide, and the guard sends the visitor to sign in.
    let req = page(format!("__clerk_handshake={}", signed(&TestIssuer::new())));
    let (axum, actix) = guarded_both(&clerk, &req).await;
    assert_eq!(axum, actix);
    assert_ne!(axum.0, 200, "{axum:?}");
    assert!(
        !axum
            .1
            .iter()
            .any(|(n, v)| n == "set-cookie" && v.starts_with("__session=")),
        "{axum:?}"
    );
}

/// Organization sync in both adapters: a page naming another
/// organization than the session's is the same 307 handshake (carrying
/// `organization_id`) from axum and actix, with handlers that have no
/// extractor; a member's page reaches the handler, which reads the URL's
/// organization from the request extensions.
#[actix_web::test]
async fn organization_sync_answers_alike_in_both_adapters() {
    use clerk_core::browser::OrganizationTarget;
    let issuer = TestIssuer::new();
    let clerk = Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for("clerk.test.invalid", true))
            .organization_sync(["/orgs/:slug", "/orgs/:slug/(.*)"], ["/me", "/me/(.*)"])
            .build()
            .unwrap(),
    )
    .unwrap();
    let page = |path: &str, token: &str| {
        http::Request::get(path)
            .header("host", "app.example.com")
            .header("sec-fetch-dest", "document")
            .header("cookie", format!("__client_uat=1; __session={token}"))
            .body(())
            .unwrap()
    };
    fn named(target: Option<&OrganizationTarget>) -> String {
        format!("{target:?}")
    }
    let axum_app = axum::Router::new()
        .route(
            "/orgs/{slug}/dashboard",
            axum::routing::get(
                |t: Option<axum::Extension<OrganizationTarget>>| async move { named(t.as_deref()) },
            ),
        )
        .layer(clerk_axum::ClerkLayer::new(clerk.clone()));
    let actix_app = actix_test::init_service(
        actix_web::App::new()
            .route(
                "/orgs/{slug}/dashboard",
                actix_web::web::get().to(
                    |t: Option<actix_web::web::ReqData<OrganizationTarget>>| async move {
                        named(t.as_deref())
                    },
                ),
            )
            .wrap(clerk_actix::ClerkMiddleware::new(clerk.clone())),
    )
    .await;
    let call = |req: http::Request<()>| {
        let axum_app = axum_app.clone();
        let actix_app = &actix_app;
        async move {
            let mut test = actix_test::TestRequest::get().uri(&req.uri().to_string());
            for (n, v) in req.headers() {
                test = test.append_header((n.as_str(), v.to_str().unwrap()));
            }
            let actix = actix_test::call_service(actix_app, test.to_request()).await;
            let mut actix_headers: Vec<_> = actix
                .headers()
                .iter()
                .filter(|(n, _)| !matches!(n.as_str(), "content-length" | "date" | "content-type"))
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            actix_headers.sort();
            let actix_status = actix.status().as_u16();
            let actix_body = actix_test::read_body(actix).await;
            let (parts, ()) = req.into_parts();
            let res = axum_app
                .oneshot(http::Request::from_parts(parts, axum::body::Body::empty()))
                .await
                .unwrap();
            let mut headers: Vec<_> = res
                .headers()
                .iter()
                .filter(|(n, _)| !matches!(n.as_str(), "content-length" | "date" | "content-type"))
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            headers.sort();
            let status = res.status().as_u16();
            let body = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            assert_eq!(
                (status, &headers, &body[..]),
                (actix_status, &actix_headers, &actix_body[..]),
                "byte-identical answers"
            );
            (status, headers, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let in_other = issuer.token().org("org_2", "other", "org:member").build();
    let (status, headers, _) = call(page("/orgs/acme/dashboard", &in_other)).await;
    assert_eq!(status, 307);
    let location = &headers.iter().find(|(n, _)| n == "location").unwrap().1;
    assert!(location.contains("organization_id=acme"), "{location}");
    assert!(headers.contains(&(
        "x-clerk-auth-reason".to_owned(),
        "active-organization-mismatch".to_owned()
    )));

    let in_acme = issuer.token().org("org_1", "acme", "org:admin").build();
    let (status, _, body) = call(page("/orgs/acme/dashboard", &in_acme)).await;
    assert_eq!((status, body.as_str()), (200, r#"Some(Slug("acme"))"#));
    // A hostile slug names nothing (and no handshake).
    let (status, _, body) = call(page("/orgs/ac%2Fme/dashboard", &in_other)).await;
    assert_eq!((status, body.as_str()), (200, "None"));
}

/// One service, two Clerk instances picked by host: each verifies only
/// its own tokens, a host naming no instance is 421 before any handler,
/// the same in axum and actix (handlers without extractors, guarded).
#[actix_web::test]
async fn several_instances_are_picked_by_host_and_unknown_hosts_refused() {
    let (a, b) = (TestIssuer::new(), TestIssuer::new());
    let (clerk_a, clerk_b) = (clerk(&a), clerk(&b));
    let rule = move |host: &str| match host {
        "a.example.com" => Some(clerk_a.clone()),
        "b.example.com" => Some(clerk_b.clone()),
        _ => None,
    };
    let rule = Arc::new(rule);
    let hits = Arc::new(AtomicUsize::new(0));
    let call = |host: &str, token: &str| {
        let req = http::Request::get("/dashboard")
            .header("host", host)
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        let rule = rule.clone();
        let hits = hits.clone();
        async move {
            let h = hits.clone();
            let r = rule.clone();
            let axum_app = axum::Router::new()
                .route(
                    "/dashboard",
                    axum::routing::get(move || {
                        h.fetch_add(1, Ordering::SeqCst);
                        async { "page" }
                    })
                    .layer(clerk_axum::ProtectLayer::new(
                        clerk_core::Protect::signed_in(),
                    )),
                )
                .layer(clerk_axum::ClerkLayer::per_host(move |host| r(host)));
            let (parts, ()) = req.clone().into_parts();
            let res = axum_app
                .oneshot(http::Request::from_parts(parts, axum::body::Body::empty()))
                .await
                .unwrap();
            let axum_status = res.status().as_u16();
            let h = hits.clone();
            let r = rule.clone();
            let app = actix_test::init_service(
                actix_web::App::new()
                    .service(
                        actix_web::web::resource("/dashboard")
                            .wrap(clerk_actix::ClerkProtect::new(
                                clerk_core::Protect::signed_in(),
                            ))
                            .route(actix_web::web::get().to(move || {
                                h.fetch_add(1, Ordering::SeqCst);
                                async { "page" }
                            })),
                    )
                    .wrap(clerk_actix::ClerkMiddleware::per_host(move |host| r(host))),
            )
            .await;
            let mut test = actix_test::TestRequest::get().uri("/dashboard");
            for (n, v) in req.headers() {
                test = test.append_header((n.as_str(), v.to_str().unwrap()));
            }
            let res = actix_test::call_service(&app, test.to_request()).await;
            assert_eq!(axum_status, res.status().as_u16(), "both adapters alike");
            axum_status
        }
    };
    let (ta, tb) = (a.token().build(), b.token().build());
    assert_eq!(call("a.example.com", &ta).await, 200);
    assert_eq!(call("B.example.com:8443", &tb).await, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 4);
    // Another instance's token is refused (its keys, its issuer).
    assert_eq!(call("a.example.com", &tb).await, 401);
    // No instance for the host: 421, no handler.
    assert_eq!(call("c.example.com", &ta).await, 421);
    assert_eq!(call("a.example.com@c.example.com", &ta).await, 421);
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

/// The last hop, after asserting the walk landed on `url` with a 200.
fn landed<'a>(hops: &'a [Hop], url: &str) -> &'a Hop {
    let last = hops.last().unwrap();
    assert_eq!((last.status, last.url.as_str()), (200, url), "{hops:#?}");
    last
}

/// Organization sync by URL over real HTTP, through each app's Frontend
/// API proxy to the dev stand-in: a member of two organizations opens the
/// other one's page and lands on it with it active; a page naming an
/// organization they are not in, hostile slugs and a forged handshake
/// carrying a switch never switch; the personal account switches to no
/// organization. Both apps alike.
async fn organization_sync_walk(site: &str, dev: &clerk_examples::DevMode) -> Vec<(u16, String)> {
    let fapi = format!("{site}/__clerk");
    let enc = |u: &str| u.replace(':', "%3A").replace('/', "%2F");
    let org_of = |body: &str| {
        let start = body.find("id=\"org\">").map(|i| i + 9).unwrap_or(0);
        body[start..].split('<').next().unwrap_or("").to_owned()
    };
    let mut seen = Vec::new();
    let mut v = Visitor::new();
    // Sign in through the proxy (the stand-in's links follow
    // `Clerk-Proxy-Url`), back on globex's page.
    let globex = format!("{site}/orgs/globex/dashboard");
    let sign_in = v
        .visit(&format!("{fapi}/sign-in?redirect_url={}", enc(&globex)))
        .await;
    let page = &sign_in.last().unwrap().body;
    assert!(
        page.contains("href=\"/__clerk/v1/dev/sign-in?persona=two-orgs"),
        "{page}"
    );
    let hops = v
        .visit(&format!(
            "{fapi}/v1/dev/sign-in?persona=two-orgs&redirect_url={}",
            enc(&globex)
        ))
        .await;
    let last = landed(&hops, &globex);
    assert_eq!(org_of(&last.body), "globex");

    // The other organization: a handshake naming it, then its page with
    // it active.
    let initech = format!("{site}/orgs/initech/dashboard");
    let hops = v.visit(&initech).await;
    assert_eq!(hops[0].status, 307, "{hops:#?}");
    assert_eq!(
        hops[0].reason.as_deref(),
        Some("active-organization-mismatch")
    );
    let location = hops[0].location.as_deref().unwrap();
    assert!(
        location.starts_with(&format!("{fapi}/v1/client/handshake?")),
        "{location}"
    );
    assert!(location.contains("organization_id=initech"), "{location}");
    let last = landed(&hops, &initech);
    assert_eq!(org_of(&last.body), "initech");
    assert!(last.body.contains("scripts run") || last.body.contains("nonce=\""));
    seen.extend(
        hops.iter()
            .map(|h| (h.status, h.reason.clone().unwrap_or_default())),
    );

    // The session keeps it: /dashboard shows initech, no handshake.
    let hop = v.get(&format!("{site}/dashboard")).await;
    assert_eq!((hop.status, org_of(&hop.body)), (200, "initech".to_owned()));

    // Not a member of acme: handshakes until Clerk's loop guard (3), then
    // signed in with no switch. (The loop counter lives 2 seconds, Clerk's
    // `Max-Age=2`; this visitor's jar keeps it, so it is dropped here as
    // time would.)
    v.jar.remove("__clerk_redirect_count");
    let acme = format!("{site}/orgs/acme/dashboard");
    let hops = v.visit(&acme).await;
    let last = landed(&hops, &acme);
    assert_eq!(org_of(&last.body), "initech", "no switch");
    assert!(last.body.contains("id=\"named\">acme<"));
    let handshakes = hops
        .iter()
        .filter(|h| h.url.contains("/v1/client/handshake"))
        .count();
    assert_eq!(handshakes, 3, "{hops:#?}");
    v.jar.remove("__clerk_redirect_count");
    seen.extend(
        hops.iter()
            .map(|h| (h.status, h.reason.clone().unwrap_or_default())),
    );

    // The personal account: towards no organization.
    let me = format!("{site}/me/dashboard");
    let hops = v.visit(&me).await;
    assert!(
        hops[0]
            .location
            .as_deref()
            .is_some_and(|l| l.contains("organization_id=&") || l.ends_with("organization_id=")),
        "{hops:#?}"
    );
    let last = landed(&hops, &me);
    assert_eq!(org_of(&last.body), "personal account");
    seen.extend(
        hops.iter()
            .map(|h| (h.status, h.reason.clone().unwrap_or_default())),
    );

    // Hostile slugs: encodings, dot segments, separators. Never a switch.
    for path in [
        "/orgs/%2e%2e/dashboard",
        "/orgs/..%2Finitech/dashboard",
        "/orgs/initech%2F..%2Facme/dashboard",
        "/orgs/initech%00/dashboard",
        "/orgs/initech%0d%0aSet-Cookie:%20a=b/dashboard",
        "/orgs//dashboard",
    ] {
        let hop = v.get(&format!("{site}{path}")).await;
        assert!(
            !hop.location
                .as_deref()
                .is_some_and(|l| l.contains("organization_id")),
            "{path}: {hop:#?}"
        );
        assert_ne!(hop.status, 500, "{path}");
        assert!(!hop.body.contains("Set-Cookie: a=b") || hop.status != 200);
        // axum routes an empty `{slug}`, actix does not (404): only the
        // guard's answer is compared for it, below.
        if !path.contains("//") {
            seen.push((
                hop.status,
                format!("{path} {}", hop.reason.unwrap_or_default()),
            ));
        }
        // Signed out, every one is guarded like the dashboard (or refused
        // as unreadable, 400, or not routed, 404): never served.
        let hops = Visitor::new().visit(&format!("{site}{path}")).await;
        let last = hops.last().unwrap();
        assert!(
            last.url
                .starts_with(&format!("{fapi}/sign-in?redirect_url="))
                || [400, 404].contains(&last.status),
            "{path}: {hops:#?}"
        );
    }
    let hop = v.get(&me).await;
    assert_eq!(org_of(&hop.body), "personal account", "still personal");
    // An escaped letter names what the router reads (`%74` is `t`).
    let hop = v.get(&format!("{site}/orgs/ini%74ech/dashboard")).await;
    assert!(
        hop.location
            .as_deref()
            .is_some_and(|l| l.contains("organization_id=initech")),
        "{hop:#?}"
    );

    // A forged handshake carrying a switch (a dev-key token with acme
    // active, inside a handshake token signed by another key): ignored.
    let acme_session = dev
        .issuer
        .token()
        .user("user_multi")
        .org("org_acme", "acme", "admin")
        .build();
    let forged = clerk_core::testing::TestIssuer::new().sign_raw(
        &serde_json::json!({"alg": "RS256", "kid": dev.issuer.kid(), "typ": "JWT"}),
        &serde_json::json!({"handshake": [format!("__session={acme_session}; Path=/")]}),
    );
    let hop = v.get(&format!("{acme}?__clerk_handshake={forged}")).await;
    assert!(v.jar.get("__session") != Some(&acme_session), "{hop:#?}");
    assert_ne!(org_of(&hop.body), "acme");
    seen.push((hop.status, hop.reason.clone().unwrap_or_default()));
    seen
}

#[actix_web::test]
async fn a_member_of_two_organizations_lands_on_the_other_with_it_active_in_both_apps() {
    let state =
        clerk_examples::AppState::start_dev(clerk_examples::DevMode::new(), "/sign-in".into())
            .await
            .unwrap();
    let dev = state.dev.clone().unwrap();
    let app_state = state.clone();
    let (addr, handle) =
        clerk_tests::serve_actix(move || clerk_examples::actix_app::app(app_state.clone()));
    let actix = organization_sync_walk(&format!("http://{addr}"), &dev).await;
    handle.stop(true).await;
    let axum = organization_sync_walk(&clerk_tests::serve_axum(&state).await, &dev).await;
    let differ: Vec<_> = axum.iter().zip(&actix).filter(|(x, a)| x != a).collect();
    assert!(
        differ.is_empty() && axum.len() == actix.len(),
        "axum vs actix: {differ:?}"
    );
}
