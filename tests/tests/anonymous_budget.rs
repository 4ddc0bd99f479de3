//! Nobody anonymous can spend what signed-in users and known machines need,
//! over real HTTP, in both example apps (issue 22's hostile table):
//!
//! * a flood of anonymous page loads with random handshake nonces and
//!   random refresh cookies, from many clients, never keeps a revoked API
//!   key alive and never keeps an uncached user from their record;
//! * a flood of distinct well-shaped junk keys from one client never locks
//!   out a new key of another, and costs at most its client's part of the
//!   share;
//! * connections that trickle their headers, or never send a declared
//!   body, are closed; a declared oversized webhook body is 413 at once.
//!
//! The machine-key checks go through a route whose handler has no
//! extractor of its own (`/raw`): only the guard stands in the way. Time
//! is the injected clock; clients are told apart by their loopback source
//! address (127.0.0.x).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clerk_core::clock::{Clock, ManualClock, SystemClock};
use clerk_core::testing::FakeBackendApi;
use clerk_examples::{AppState, DevMode, Limits};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The example app under test, a second app on the same `Clerk` whose
/// guarded handler has no extractor, and what they share.
struct Served {
    base: String,
    raw: String,
    addr: SocketAddr,
    state: AppState,
    clock: Arc<ManualClock>,
}

impl Served {
    fn backend(&self) -> &FakeBackendApi {
        self.state.backend.as_ref().unwrap()
    }

    fn dev(&self) -> &DevMode {
        self.state.dev.as_ref().unwrap()
    }
}

async fn dev_state() -> (AppState, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_unix()));
    let state =
        AppState::start_dev_with(DevMode::new(), "/sign-in".to_owned(), 3600, clock.clone())
            .await
            .unwrap();
    (state, clock)
}

/// Limits whose deadlines a test can see pass.
fn short_limits() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    }
}

async fn serve_axum(limits: Limits) -> Served {
    use axum::routing::get;
    let (state, clock) = dev_state().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app_state = state.clone();
    tokio::spawn(async move {
        clerk_examples::axum_app::serve(listener, app_state, limits, std::future::pending()).await
    });
    let raw: axum::Router = axum::Router::new()
        .route(
            "/raw",
            get(|| async { "reached" })
                .route_layer(clerk_axum::ProtectLayer::new(state.machine_protect())),
        )
        .layer(clerk_axum::ClerkLayer::new(state.clerk.clone()));
    let raw_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let raw_addr = raw_listener.local_addr().unwrap();
    tokio::spawn(async move {
        clerk_examples::app::server::serve_axum(raw_listener, raw, limits, std::future::pending())
            .await
    });
    Served {
        base: format!("http://{addr}"),
        raw: format!("http://{raw_addr}/raw"),
        addr,
        state,
        clock,
    }
}

async fn serve_actix(limits: Limits) -> Served {
    use actix_web::{App, web};
    let (state, clock) = dev_state().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = clerk_examples::actix_app::server(state.clone(), limits, listener, 1).unwrap();
    actix_web::rt::spawn(server);
    let (clerk, protect) = (state.clerk.clone(), state.machine_protect());
    let raw = actix_web::HttpServer::new(move || {
        App::new()
            .wrap(clerk_actix::ClerkProtect::new(protect.clone()))
            .wrap(clerk_actix::ClerkMiddleware::new(clerk.clone()))
            .route("/raw", web::get().to(|| async { "reached" }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let raw_addr = raw.addrs()[0];
    actix_web::rt::spawn(raw.run());
    Served {
        base: format!("http://{addr}"),
        raw: format!("http://{raw_addr}/raw"),
        addr,
        state,
        clock,
    }
}

/// An HTTP client whose connections come from `127.0.0.<n>`.
fn client(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, n]))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn count(backend: &FakeBackendApi, prefix: &str) -> usize {
    backend
        .seen()
        .iter()
        .filter(|r| r.line.starts_with(prefix))
        .count()
}

/// A page load of the dev instance (a dev browser cookie, a document
/// request) with `cookies`.
fn page_headers(cookies: &str) -> [(&'static str, String); 3] {
    [
        ("sec-fetch-dest", "document".to_owned()),
        ("accept", "text/html".to_owned()),
        ("cookie", format!("__clerk_db_jwt=dvb_flood; {cookies}")),
    ]
}

/// One round of the anonymous flood: from 40 clients, random nonces and
/// expired sessions with random refresh cookies. How many nonce page
/// loads answered 503 without touching their nonce cookie.
async fn flood_pages(s: &Served, round: u32) -> usize {
    // The dev instance's publishable key (`AppState::start_dev_with`).
    let pk = clerk_core::testing::publishable_key_for("clerk.test.invalid", false);
    let suffix = clerk_core::testing::cookie_suffix(&pk);
    let dashboard = format!("{}/dashboard", s.base);
    let mut tasks = Vec::new();
    for n in 2..42u8 {
        let c = client(n);
        let dashboard = dashboard.clone();
        let expired = s
            .dev()
            .issuer
            .token()
            .session(&format!("sess_flood_{round}_{n}"))
            .expired()
            .build();
        let suffix = suffix.clone();
        tasks.push(tokio::spawn(async move {
            let mut kept = 0;
            for i in 0..5 {
                for cookies in [
                    format!("__clerk_handshake_nonce=n_{round}_{n}_{i}"),
                    format!(
                        "__client_uat=1; __session={expired}; __refresh_{suffix}=r_{round}_{n}_{i}"
                    ),
                ] {
                    let h = page_headers(&cookies);
                    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    let mut req = c.get(&dashboard);
                    for (k, v) in &h {
                        req = req.header(*k, *v);
                    }
                    let res = req.send().await.unwrap();
                    let status = res.status().as_u16();
                    // 503: a nonce whose share is spent, its cookie kept
                    // for a reload (no finish that signs the visitor out).
                    if status == 503 {
                        assert!(res.headers().get("set-cookie").is_none());
                        kept += 1;
                    }
                    assert!(matches!(status, 200 | 307 | 401 | 503), "{status}");
                }
            }
            kept
        }));
    }
    let mut kept = 0;
    for t in tasks {
        kept += t.await.unwrap();
    }
    kept
}

async fn a_revoked_key_dies_and_users_are_served_under_an_anonymous_flood(s: Served) {
    let backend = s.backend().clone();
    let key = s.dev().api_key.clone();
    let bearer = format!("Bearer {key}");
    let machine = format!("{}/api/machine", s.base);
    let user = client(1);
    assert_eq!(
        get(&user, &s.raw, &[("authorization", &bearer)]).await.0,
        200
    );
    assert_eq!(
        get(&user, &machine, &[("authorization", &bearer)]).await.0,
        200
    );
    // Clerk revokes the key: verifying it answers 404 from now on.
    backend.remove_token(&key);
    let (nonces, refreshes) = ("GET /v1/clients/handshake_payload", "POST /v1/sessions/");
    assert!(flood_pages(&s, 0).await > 0, "nonces beyond the share");
    let spent = (count(&backend, nonces), count(&backend, refreshes));
    assert!(
        spent.0 >= 1 && spent.1 >= 1,
        "the flood reached Clerk: {spent:?}"
    );
    assert!(
        spent.0 <= 5 && spent.1 <= 5,
        "each anonymous share is 5 of the window's 50 calls: {spent:?}"
    );
    // Past the key's 60 s cache entry, in a window the flood spends again.
    s.clock.advance(61);
    flood_pages(&s, 1).await;
    let (status, body) = get(&user, &s.raw, &[("authorization", &bearer)]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("token-invalid")),
        "{body}"
    );
    let (status, body) = get(&user, &machine, &[("authorization", &bearer)]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("token-invalid")),
        "{body}"
    );
    // An uncached signed-in user still gets their record.
    let pro = s
        .dev()
        .personas
        .iter()
        .find(|p| p.name == "pro")
        .unwrap()
        .token
        .clone();
    let (status, body) = get(
        &user,
        &format!("{}/api/me/profile", s.base),
        &[("authorization", &format!("Bearer {pro}"))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "user_pro", "{body}");
    let spent = (count(&backend, nonces), count(&backend, refreshes));
    assert!(spent.0 <= 10 && spent.1 <= 10, "two windows: {spent:?}");
}

async fn a_junk_flood_from_one_client_never_locks_out_a_new_key_of_another(s: Served) {
    let backend = s.backend().clone();
    let fresh = "ak_LCWGdaM8mv8K4PC_57IICZQXAeWfCgF30DZaFXHoGn9";
    backend.add_token(
        fresh,
        json!({"object": "api_key", "id": "ak_2", "subject": "user_pro", "scopes": [],
            "revoked": false, "expired": false}),
    );
    let flooder = client(9);
    let mut tasks = Vec::new();
    for t in 0..4 {
        let flooder = flooder.clone();
        let raw = s.raw.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..100 {
                let junk = format!("Bearer ak_junk_{t}_{j:024}");
                let (status, _) = get(&flooder, &raw, &[("authorization", &junk)]).await;
                assert!(matches!(status, 401 | 503), "{status}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let verifies = count(&backend, "POST /v1/api_keys/verify");
    assert!(
        (1..=4).contains(&verifies),
        "one client's part of the share: {verifies}"
    );
    // No time passes: the new key, from another client, verifies at once.
    let (status, body) = get(
        &client(10),
        &s.raw,
        &[("authorization", &format!("Bearer {fresh}"))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let machine = format!("{}/api/machine", s.base);
    let (status, body) = get(
        &client(10),
        &machine,
        &[("authorization", &format!("Bearer {fresh}"))],
    )
    .await;
    assert_eq!(
        (status, body["subject"].as_str()),
        (200, Some("user_pro")),
        "{body}"
    );
    // Forwarded addresses from an untrusted peer change nothing: the
    // flooder is still one client, spent.
    let before = count(&backend, "POST /v1/api_keys/verify");
    for j in 0..20 {
        let junk = format!("Bearer ak_forwarded_{j:024}");
        let xff = format!("198.51.100.{j}");
        get(
            &flooder,
            &s.raw,
            &[("authorization", &junk), ("x-forwarded-for", &xff)],
        )
        .await;
    }
    assert_eq!(count(&backend, "POST /v1/api_keys/verify"), before);
}

/// Writes `head` (and nothing more) and reads until the server closes:
/// what it answered before closing.
async fn trickle(addr: SocketAddr, head: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    // A guard against a server that never closes, not a deadline the test
    // measures: the server's own are 300 ms.
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

async fn slow_clients_are_closed(s: Served) {
    // Headers that never end.
    let answer = trickle(
        s.addr,
        b"GET /api/public HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n",
    )
    .await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // A declared body that never comes, to the webhook, and to a route an
    // organization admin is let into (so its handler reads the body).
    let admin = s
        .dev()
        .personas
        .iter()
        .find(|p| p.name == "org-admin")
        .unwrap()
        .token
        .clone();
    for (path, auth) in [
        ("/webhooks/clerk", String::new()),
        (
            "/api/admin/users/user_member/plan",
            format!("Authorization: Bearer {admin}\r\n"),
        ),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{}}"
        );
        let answer = trickle(s.addr, head.as_bytes()).await;
        assert!(!answer.contains("200 OK"), "{path}: {answer}");
    }
}

async fn an_oversized_declared_webhook_is_413_at_once(s: Served) {
    // With a body deadline of an hour, waiting for the body would hang the
    // test: the answer must come before any of it.
    let head = b"POST /webhooks/clerk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n{}";
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stream.write_all(head).await.unwrap();
    let mut buf = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf))
        .await
        .expect("answered before the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

fn patient_limits() -> Limits {
    Limits {
        body_timeout: Duration::from_secs(3600),
        ..Limits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_a_revoked_key_dies_and_users_are_served_under_an_anonymous_flood() {
    a_revoked_key_dies_and_users_are_served_under_an_anonymous_flood(
        serve_axum(Limits::default()).await,
    )
    .await;
}

#[actix_web::test]
async fn actix_a_revoked_key_dies_and_users_are_served_under_an_anonymous_flood() {
    a_revoked_key_dies_and_users_are_served_under_an_anonymous_flood(
        serve_actix(Limits::default()).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_a_junk_flood_from_one_client_never_locks_out_a_new_key_of_another() {
    a_junk_flood_from_one_client_never_locks_out_a_new_key_of_another(
        serve_axum(Limits::default()).await,
    )
    .await;
}

#[actix_web::test]
async fn actix_a_junk_flood_from_one_client_never_locks_out_a_new_key_of_another() {
    a_junk_flood_from_one_client_never_locks_out_a_new_key_of_another(
        serve_actix(Limits::default()).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_slow_clients_are_closed() {
    slow_clients_are_closed(serve_axum(short_limits()).await).await;
}

#[actix_web::test]
async fn actix_slow_clients_are_closed() {
    slow_clients_are_closed(serve_actix(short_limits()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_an_oversized_declared_webhook_is_413_at_once() {
    an_oversized_declared_webhook_is_413_at_once(serve_axum(patient_limits()).await).await;
}

#[actix_web::test]
async fn actix_an_oversized_declared_webhook_is_413_at_once() {
    an_oversized_declared_webhook_is_413_at_once(serve_actix(patient_limits()).await).await;
}
