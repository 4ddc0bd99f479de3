//! The hostile-request table: route guards must fail closed on axum and
//! actix alike.
//!
//! Every protected handler here has **no extractor of its own**: it only
//! counts that it was called. So the guard is the only thing between a
//! request and the handler, and a bypass cannot hide behind a second check.
//! For every request (every byte 0x00–0xFF percent-encoded at the start,
//! middle and end of each protected segment; encoded delimiters, case, `//`,
//! dot segments, trailing slashes, `;params`, overlong UTF-8, double
//! encoding; `GET`, `HEAD`, a CORS preflight, `POST`, `DELETE`; signed out
//! and as a plain member) either the handler was not called or the caller
//! was allowed. Controls: an admin reaches every protected handler.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::dev::ServiceResponse;
use actix_web::test as actix_test;
use axum::Router;
use axum::routing::{any, get};
use clerk_core::{Clerk, Protect, Requirement, RouteMatcher};
use clerk_examples::DevMode;
use clerk_tests::{ActixTarget, AxumTarget, Target};
use http::{Method, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Counts calls of the protected handlers.
#[derive(Clone, Default)]
struct Hits(Arc<AtomicUsize>);

impl Hits {
    fn hit(&self) -> &'static str {
        self.0.fetch_add(1, Ordering::SeqCst);
        "protected handler"
    }

    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

fn admin() -> Requirement {
    Requirement::role("org:admin")
}

/// The guard placed on the whole app: patterns with `(.*)`, a parameter, a
/// wildcard parameter, and a `GET`-only method rule.
fn global_protect() -> Protect {
    Protect::new(admin()).routes(
        RouteMatcher::with_methods([
            ("/admin(.*)", None),
            ("/api/orgs/:id", None),
            ("/api/orgs/:id/members", None),
            ("/files/:path*", None),
            ("/reports", Some(vec![Method::GET])),
        ])
        .unwrap(),
    )
}

/// A guard inside a nested router / scope, written with the full path.
fn nested_protect() -> Protect {
    Protect::new(admin()).routes(RouteMatcher::new(["/nested/admin(.*)"]).unwrap())
}

/// A guard inside a nested router / scope, written below the mount point.
fn mounted_protect() -> Protect {
    Protect::new(admin()).routes(RouteMatcher::new(["/secret(.*)"]).unwrap())
}

/// Paths that reach a protected handler, unmodified. `GET` reaches each.
const PROTECTED: &[&str] = &[
    "/admin",
    "/admin/reports",
    "/api/orgs/org_1",
    "/api/orgs/org_1/members",
    "/files/a/b.txt",
    "/reports",
    "/api/admin",
    "/nested/admin",
    "/nested/admin/x",
    "/rel/secret",
];

fn axum_app(clerk: Clerk, hits: &Hits) -> Router {
    use clerk_axum::{ClerkLayer, ProtectLayer, protect};
    let h = |hits: &Hits| {
        let hits = hits.clone();
        move || async move { hits.hit() }
    };
    let nested = Router::new()
        .route("/admin", any(h(hits)))
        .route("/admin/{*rest}", any(h(hits)))
        .layer(ProtectLayer::new(nested_protect()));
    let mounted = Router::new()
        .route("/secret", any(h(hits)))
        .layer(ProtectLayer::new(mounted_protect()));
    Router::new()
        .route("/admin", any(h(hits)))
        .route("/admin/{*rest}", any(h(hits)))
        .route("/api/orgs/{id}", any(h(hits)))
        .route("/api/orgs/{id}/members", any(h(hits)))
        .route("/files/{*path}", any(h(hits)))
        .route("/reports", get(h(hits)))
        .merge(
            Router::new()
                .route("/api/admin", any(h(hits)))
                .route_layer(protect(admin())),
        )
        .nest("/nested", nested)
        .nest("/rel", mounted)
        .route("/public", any(|| async { "public" }))
        .layer(ProtectLayer::new(global_protect()))
        .layer(ClerkLayer::new(clerk))
}

/// The same table on actix. `NormalizePath` runs *after* the guard (the
/// order that lets a normalizer change the path between guard and router).
fn actix_app(
    clerk: Clerk,
    hits: Hits,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    use actix_web::{App, middleware::NormalizePath, web};
    use clerk_actix::{ClerkMiddleware, ClerkProtect};
    let h = |hits: &Hits| {
        let hits = hits.clone();
        move || {
            let hits = hits.clone();
            async move { hits.hit() }
        }
    };
    let hits = &hits;
    App::new()
        .route("/admin", web::to(h(hits)))
        .route("/admin/{rest:.*}", web::to(h(hits)))
        .route("/api/orgs/{id}", web::to(h(hits)))
        .route("/api/orgs/{id}/members", web::to(h(hits)))
        .route("/files/{path:.*}", web::to(h(hits)))
        .route("/reports", web::get().to(h(hits)))
        .service(
            web::resource("/api/admin")
                .wrap(ClerkProtect::requiring(admin()))
                .to(h(hits)),
        )
        .service(
            web::scope("/nested")
                .wrap(ClerkProtect::new(nested_protect()))
                .route("/admin", web::to(h(hits)))
                .route("/admin/{rest:.*}", web::to(h(hits))),
        )
        .service(
            web::scope("/rel")
                .wrap(ClerkProtect::new(mounted_protect()))
                .route("/secret", web::to(h(hits))),
        )
        .route("/public", web::to(|| async { "public" }))
        .wrap(NormalizePath::trim())
        .wrap(ClerkProtect::new(global_protect()))
        .wrap(ClerkMiddleware::new(clerk))
}

/// Hostile variants of `base`: every byte percent-encoded at the start,
/// middle and end of every segment, and the special forms.
fn hostile_paths(base: &str) -> Vec<String> {
    let segments: Vec<&str> = base.split('/').skip(1).collect();
    let join = |segs: &[String]| format!("/{}", segs.join("/"));
    let owned: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
    let mut out = Vec::new();
    let with = |i: usize, seg: String| {
        let mut s = owned.clone();
        s[i] = seg;
        join(&s)
    };
    for (i, seg) in segments.iter().enumerate() {
        let mid = seg.len() / 2;
        for byte in 0..=255u8 {
            let esc = format!("%{byte:02X}");
            out.push(with(i, format!("{esc}{seg}")));
            out.push(with(i, format!("{}{esc}{}", &seg[..mid], &seg[mid..])));
            out.push(with(i, format!("{seg}{esc}")));
            let lower = format!("%{byte:02x}");
            if lower != esc {
                out.push(with(i, format!("{seg}{lower}")));
            }
        }
        // Each character percent-encoded on its own (`%61dmin`), and
        // double-encoded (`%2561dmin`).
        for (j, c) in seg.char_indices() {
            let enc = format!("%{:02X}", c as u32);
            out.push(with(i, format!("{}{enc}{}", &seg[..j], &seg[j + 1..])));
            out.push(with(
                i,
                format!("{}%25{:02X}{}", &seg[..j], c as u32, &seg[j + 1..]),
            ));
            // Overlong two-byte form of the character.
            let c = c as u32;
            let overlong = format!("%{:02X}%{:02X}", 0xC0 | (c >> 6), 0x80 | (c & 0x3F));
            out.push(with(i, format!("{}{overlong}{}", &seg[..j], &seg[j + 1..])));
        }
        out.push(with(i, String::new())); // an empty segment: `//`
        out.push(with(i, seg.to_uppercase()));
        out.push(with(i, format!("{seg};x")));
        out.push(with(i, format!("{seg};jsessionid=1")));
        out.push(with(i, format!("{seg}.")));
        out.push(with(i, format!("{seg}%20")));
    }
    // Separators: `//`, dot segments, encoded and backslash slashes,
    // overlong slashes, trailing slashes.
    for (i, _) in base.match_indices('/') {
        let (head, tail) = base.split_at(i);
        let tail = &tail[1..];
        for sep in [
            "//",
            "/./",
            "/x/../",
            "/%2E/",
            "/%2e%2e/",
            "/.%2E/",
            "%2F",
            "%2f",
            "%5C",
            "\\",
            "%C0%AF",
            "%E0%80%AF",
            "/;x/",
            "/../",
        ] {
            out.push(format!("{head}{sep}{tail}"));
        }
    }
    for suffix in [
        "/", "//", "/.", "/..", "/%2E", "%2F", ";", "?x=1", "#frag", "%3F", "%23",
    ] {
        out.push(format!("{base}{suffix}"));
    }
    out.push(format!("/{base}"));
    out.push(base.to_uppercase());
    out.push(base.replace('/', "\\"));
    out
}

fn methods() -> Vec<(Method, &'static [(&'static str, &'static str)])> {
    const PREFLIGHT: &[(&str, &str)] = &[
        ("origin", "https://evil.example"),
        ("access-control-request-method", "GET"),
    ];
    vec![
        (Method::GET, &[]),
        (Method::HEAD, &[]),
        (Method::OPTIONS, PREFLIGHT),
        (Method::POST, &[]),
        (Method::DELETE, &[]),
    ]
}

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    SignedOut,
    Member,
}

fn bearer(dev: &DevMode, persona: &str) -> String {
    let p = dev.personas.iter().find(|p| p.name == persona).unwrap();
    format!("Bearer {}", p.token)
}

/// A request for the in-process table; `None` when `http` itself refuses
/// the path (so no framework can receive it either).
fn build(
    method: &Method,
    path: &str,
    headers: &[(&str, &str)],
    authorization: Option<&str>,
) -> Option<Request<String>> {
    let mut b = Request::builder().method(method.clone()).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    if let Some(a) = authorization {
        b = b.header("authorization", a);
    }
    b.body(String::new()).ok()
}

#[derive(Default)]
struct Tally {
    sent: usize,
    unsendable: usize,
    statuses: BTreeMap<u16, usize>,
    bypasses: Vec<String>,
}

impl Tally {
    fn record(&mut self, what: String, status: u16, hits: usize) {
        self.sent += 1;
        *self.statuses.entry(status).or_default() += 1;
        if hits > 0 {
            self.bypasses.push(format!("{what} -> {status}"));
        }
    }

    fn assert_closed(&self, name: &str, at_least: usize) {
        eprintln!(
            "{name}: {} requests, {} unsendable, statuses {:?}, {} bypasses",
            self.sent,
            self.unsendable,
            self.statuses,
            self.bypasses.len()
        );
        assert!(
            self.bypasses.is_empty(),
            "{name}: {} requests reached a protected handler without being allowed:\n{}",
            self.bypasses.len(),
            self.bypasses
                .iter()
                .take(60)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            self.sent >= at_least,
            "{name}: only {} requests sent ({} unsendable)",
            self.sent,
            self.unsendable
        );
        // The table must exercise refusals of every kind, or it tests
        // nothing: malformed paths, signed out, forbidden.
        for status in [400, 401, 403] {
            assert!(
                self.statuses.get(&status).copied().unwrap_or(0) > 0,
                "{name}: no {status} answers in {:?}",
                self.statuses
            );
        }
    }
}

/// Runs the hostile table in-process against `target`.
async fn run_hostile(target: &impl Target, dev: &DevMode, hits: &Hits, bases: &[&str]) -> Tally {
    let member = bearer(dev, "member");
    let mut tally = Tally::default();
    for base in bases {
        for path in hostile_paths(base) {
            for (method, headers) in methods() {
                for who in [Who::SignedOut, Who::Member] {
                    let auth = (who == Who::Member).then_some(member.as_str());
                    let Some(req) = build(&method, &path, headers, auth) else {
                        tally.unsendable += 1;
                        continue;
                    };
                    let status = target.send(req).await.status().as_u16();
                    tally.record(format!("{who:?} {method} {path:?}"), status, hits.take());
                }
            }
        }
    }
    tally
}

/// An admin reaches every protected handler (with `GET`, and with `HEAD`
/// where the framework routes it), so the guards are not simply closed.
async fn run_controls(target: &impl Target, dev: &DevMode, hits: &Hits, bases: &[&str]) {
    let admin = bearer(dev, "org-admin");
    for base in bases {
        let req = build(&Method::GET, base, &[], Some(&admin)).unwrap();
        let status = target.send(req).await.status();
        assert_eq!((status.as_u16(), hits.take()), (200, 1), "admin GET {base}");
    }
    hits.take();
}

fn dev_clerk() -> (DevMode, Clerk) {
    let dev = DevMode::new();
    let clerk = Clerk::new(dev.config().build().unwrap()).unwrap();
    (dev, clerk)
}

#[tokio::test]
async fn axum_guards_fail_closed_on_the_hostile_table() {
    let (dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let target = AxumTarget(axum_app(clerk, &hits));
    run_controls(&target, &dev, &hits, PROTECTED).await;
    let tally = run_hostile(&target, &dev, &hits, PROTECTED).await;
    tally.assert_closed("axum", 100_000);
    run_controls(&target, &dev, &hits, PROTECTED).await;
}

#[actix_web::test]
async fn actix_guards_fail_closed_on_the_hostile_table() {
    let (dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let target = ActixTarget(actix_test::init_service(actix_app(clerk, hits.clone())).await);
    run_controls(&target, &dev, &hits, PROTECTED).await;
    let tally = run_hostile(&target, &dev, &hits, PROTECTED).await;
    tally.assert_closed("actix", 100_000);
    run_controls(&target, &dev, &hits, PROTECTED).await;
}

/// `HEAD` runs axum's `GET` handler: a `GET` method rule covers it, and an
/// admin's `HEAD` reaches the handler.
#[tokio::test]
async fn axum_head_is_judged_as_get() {
    let (dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let target = AxumTarget(axum_app(clerk, &hits));
    for (who, expected) in [(None, 401), (Some(bearer(&dev, "member")), 403)] {
        let req = build(&Method::HEAD, "/reports", &[], who.as_deref()).unwrap();
        assert_eq!(target.send(req).await.status(), expected);
        assert_eq!(hits.take(), 0);
    }
    let req = build(
        &Method::HEAD,
        "/reports",
        &[],
        Some(&bearer(&dev, "org-admin")),
    )
    .unwrap();
    assert_eq!(target.send(req).await.status(), 200);
    assert_eq!(hits.take(), 1, "HEAD ran the GET handler for the admin");
}

/// Inside `Router::nest`, a guard with full-path patterns protects (it
/// used to see only the path below the mount point), and so does one with
/// patterns below the mount point.
#[tokio::test]
async fn axum_nested_guards_match_the_original_path() {
    let (_dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let target = AxumTarget(axum_app(clerk, &hits));
    for path in ["/nested/admin", "/nested/admin/deep/x", "/rel/secret"] {
        let req = build(&Method::GET, path, &[], None).unwrap();
        assert_eq!(target.send(req).await.status(), 401, "{path}");
        assert_eq!(hits.take(), 0, "{path}");
    }
}

/// A preflight answered by the guard itself (opt-in) never calls the
/// handler, on both frameworks.
#[actix_web::test]
async fn answered_preflights_never_call_the_handler() {
    use clerk_axum::{ClerkLayer, ProtectLayer};
    let (_dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let protect = || Protect::new(admin()).answer_preflights(true);
    let h = hits.clone();
    let axum = AxumTarget(
        Router::new()
            .route("/api/admin", any(move || async move { h.hit() }))
            .layer(ProtectLayer::new(protect()))
            .layer(ClerkLayer::new(clerk.clone())),
    );
    let h = hits.clone();
    let actix = ActixTarget(
        actix_test::init_service(
            actix_web::App::new()
                .service(
                    actix_web::web::resource("/api/admin")
                        .wrap(clerk_actix::ClerkProtect::new(protect()))
                        .to(move || {
                            let h = h.clone();
                            async move { h.hit() }
                        }),
                )
                .wrap(clerk_actix::ClerkMiddleware::new(clerk)),
        )
        .await,
    );
    let preflight = || {
        build(
            &Method::OPTIONS,
            "/api/admin",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "DELETE"),
            ],
            None,
        )
        .unwrap()
    };
    let plain_options = || build(&Method::OPTIONS, "/api/admin", &[], None).unwrap();
    let a = axum.send(preflight()).await;
    let b = actix.send(preflight()).await;
    assert_eq!((a.status().as_u16(), a.body().as_str()), (204, ""));
    assert_eq!((b.status().as_u16(), b.body().as_str()), (204, ""));
    assert_eq!(axum.send(plain_options()).await.status(), 401);
    assert_eq!(actix.send(plain_options()).await.status(), 401);
    assert_eq!(hits.take(), 0);
}

// ---------------------------------------------------------------------
// Over real HTTP: the servers' own request parsers (hyper, actix-http) see
// the exact bytes, which `http::Request` would refuse to build in-process.
// ---------------------------------------------------------------------

/// Sends raw request bytes on a fresh connection; returns the status, or
/// 0 when the server closed the connection without a response.
async fn raw_request(addr: std::net::SocketAddr, method: &str, path: &[u8], extra: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(path);
    req.extend_from_slice(b" HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    req.extend_from_slice(extra.as_bytes());
    req.extend_from_slice(b"\r\n");
    if stream.write_all(&req).await.is_err() {
        return 0;
    }
    let mut res = Vec::new();
    let _ = stream.read_to_end(&mut res).await;
    std::str::from_utf8(res.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Raw paths: every byte (raw and percent-encoded) at the end of each
/// protected path, and the special forms, with `GET` and a preflight,
/// signed out.
fn raw_paths() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for base in PROTECTED {
        for byte in 0..=255u8 {
            let mut raw = base.as_bytes().to_vec();
            raw.push(byte);
            out.push(raw);
            out.push(format!("{base}%{byte:02X}").into_bytes());
        }
        for p in hostile_paths(base).into_iter().step_by(7) {
            out.push(p.into_bytes());
        }
    }
    out
}

async fn run_raw(addr: std::net::SocketAddr, hits: &Hits, dev: &DevMode) -> Tally {
    let mut tally = Tally::default();
    let member = format!("authorization: {}\r\n", bearer(dev, "member"));
    let preflight = "origin: https://evil.example\r\naccess-control-request-method: GET\r\n";
    for path in raw_paths() {
        for (method, extra) in [
            ("GET", ""),
            ("OPTIONS", preflight),
            ("HEAD", member.as_str()),
        ] {
            let status = raw_request(addr, method, &path, extra).await;
            let shown = String::from_utf8_lossy(&path).into_owned();
            tally.record(format!("{method} {shown:?}"), status, hits.take());
        }
    }
    // Controls over the wire.
    let admin = format!("authorization: {}\r\n", bearer(dev, "org-admin"));
    for base in PROTECTED {
        let status = raw_request(addr, "GET", base.as_bytes(), &admin).await;
        assert_eq!(
            (status, hits.take()),
            (200, 1),
            "admin GET {base} over HTTP"
        );
    }
    tally
}

#[tokio::test]
async fn axum_guards_fail_closed_over_http() {
    let (dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum_app(clerk, &hits);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let tally = run_raw(addr, &hits, &dev).await;
    tally.assert_closed("axum over HTTP", 5_000);
}

#[actix_web::test]
async fn actix_guards_fail_closed_over_http() {
    let (dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let app_hits = hits.clone();
    let (addr, handle) =
        clerk_tests::serve_actix(move || actix_app(clerk.clone(), app_hits.clone()));
    let tally = run_raw(addr, &hits, &dev).await;
    handle.stop(true).await;
    tally.assert_closed("actix over HTTP", 5_000);
}

// ---------------------------------------------------------------------
// The README quickstarts, built as written (only the handler counts its
// calls), probed the same way.
// ---------------------------------------------------------------------

const README: &str = concat!(
    include_str!("../../README.md"),
    include_str!("../../docs/actix.md")
);

#[test]
fn the_quickstarts_below_are_the_readme_ones() {
    for line in [
        r#".route("/api/admin", get(|| async { "admins only" })"#,
        r#".layer(protect(Requirement::role("org:admin"))))"#,
        ".layer(ClerkLayer::new(clerk))",
        ".header_read_timeout(Duration::from_secs(10))",
        ".client_request_timeout(std::time::Duration::from_secs(10))",
        r#".service(web::resource("/api/admin")"#,
        r#".wrap(ClerkProtect::requiring(Requirement::role("org:admin")))"#,
        r#".to(|| async { "admins only" }))"#,
        ".wrap(ClerkMiddleware::new(clerk.clone()))",
    ] {
        assert!(
            README.contains(line),
            "README / docs/actix.md no longer has {line}"
        );
    }
}

#[tokio::test]
async fn readme_axum_quickstart_fails_closed() {
    use clerk_axum::{ClerkLayer, Session, protect};
    async fn me(session: Session) -> String {
        format!("hello {}", session.user_id())
    }
    let (dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let h = hits.clone();
    let app: Router = Router::new()
        .route("/api/me", get(me))
        .route(
            "/api/admin",
            get(move || async move { h.hit() }).layer(protect(Requirement::role("org:admin"))),
        )
        .layer(ClerkLayer::new(clerk));
    let target = AxumTarget(app);
    run_controls(&target, &dev, &hits, &["/api/admin"]).await;
    let tally = run_hostile(&target, &dev, &hits, &["/api/admin"]).await;
    assert!(tally.bypasses.is_empty(), "{:?}", tally.bypasses);
    assert!(tally.statuses.get(&401).copied().unwrap_or(0) > 0);
    assert!(tally.statuses.get(&403).copied().unwrap_or(0) > 0);
}

#[actix_web::test]
async fn readme_actix_quickstart_fails_closed() {
    use actix_web::{App, web};
    use clerk_actix::{ClerkMiddleware, ClerkProtect, Session};
    async fn me(session: Session) -> String {
        format!("hello {}", session.user_id())
    }
    let (dev, clerk) = dev_clerk();
    let hits = Hits::default();
    let h = hits.clone();
    let app = App::new()
        .wrap(ClerkMiddleware::new(clerk.clone()))
        .route("/api/me", web::get().to(me))
        .service(
            web::resource("/api/admin")
                .wrap(ClerkProtect::requiring(Requirement::role("org:admin")))
                .to(move || {
                    let h = h.clone();
                    async move { h.hit() }
                }),
        );
    let target = ActixTarget(actix_test::init_service(app).await);
    run_controls(&target, &dev, &hits, &["/api/admin"]).await;
    let tally = run_hostile(&target, &dev, &hits, &["/api/admin"]).await;
    assert!(tally.bypasses.is_empty(), "{:?}", tally.bypasses);
    assert!(tally.statuses.get(&401).copied().unwrap_or(0) > 0);
    assert!(tally.statuses.get(&403).copied().unwrap_or(0) > 0);
}
