//! A real browser through the handshake: headless Chromium (Debian's
//! `chromium` and `chromium-driver`, installed here when missing and
//! possible) drives the axum example in dev mode with a 5-second token
//! lifetime on an injected clock:
//!
//! open `/dashboard` signed out → the dev sign-in page → sign in as a
//! persona → back on `/dashboard` showing them → the clock moves past the
//! token lifetime → reload → still signed in, through a handshake (seen in
//! the `x-clerk-auth-reason` of the intermediate response) → sign out →
//! `/dashboard` sends the browser to sign in with `redirect_url`; then, as
//! a member of two organizations, open the other one's page
//! (`/orgs/initech/dashboard`) → land on it with it active (organization
//! sync by URL). Every step goes through the app's Frontend API proxy at
//! `/__clerk`, under the app's strict Content-Security-Policy: the page's
//! nonce'd script runs and the console shows no CSP violation.
//!
//! A screenshot of the dashboard is saved as
//! `$CARGO_TARGET_DIR/artifacts/dashboard.png` (else `target/artifacts`).
//! Where Chromium is missing and cannot be installed (not root, no
//! network), the test says so on stderr and passes without running.
//!
//! WebDriver is spoken directly (a handful of W3C endpoints over
//! `reqwest`): a WebDriver crate would add a dependency tree for six calls.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use clerk_core::clock::ManualClock;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";

/// Chromium and its driver, installed from Debian's packages when missing
/// (as root); `false` when they cannot be had.
fn ensure_chromium() -> bool {
    let present =
        || std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(DRIVER).exists();
    if present() {
        return true;
    }
    eprintln!("browser test: installing Debian's chromium and chromium-driver");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let install = [
        "install",
        "-y",
        "--no-install-recommends",
        "chromium",
        "chromium-driver",
    ];
    if !apt(&install) && apt(&["update"]) {
        apt(&install);
    }
    present()
}

/// chromedriver on a free port, started when it says it is ready.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        // Blocks until the driver reports it listens (no sleeping).
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("started successfully") => break,
                Some(Ok(_)) => {}
                _ => panic!("chromedriver exited before it was ready"),
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    async fn new(driver: &Driver) -> Self {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1100,760",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]}
        }}});
        let bytes = http
            .post(format!("{}/session", driver.url))
            .header("content-type", "application/json")
            .body(caps.to_string())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_owned();
        Self {
            http,
            base: format!("{}/session/{id}", driver.url),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !body.is_null() {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let bytes = req.send().await.unwrap().bytes().await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        v["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn url(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", Value::Null).await;
        v.as_str().unwrap().to_owned()
    }

    /// The current URL once it is `want`: a click's navigation may still
    /// be under way when the click returns (bounded: 200 WebDriver round
    /// trips, no sleeping).
    async fn wait_for_url(&self, want: &str) -> String {
        let mut url = self.url().await;
        for _ in 0..200 {
            if url == want {
                break;
            }
            tokio::task::yield_now().await;
            url = self.url().await;
        }
        url
    }

    async fn source(&self) -> String {
        let v = self
            .call(reqwest::Method::GET, "/source", Value::Null)
            .await;
        v.as_str().unwrap().to_owned()
    }

    /// The WebDriver id of the element `css`.
    async fn element(&self, css: &str) -> String {
        let el = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        el.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {el}"))
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    /// The browser console since the last call (chromedriver's log
    /// endpoint), as messages.
    async fn console(&self) -> Vec<String> {
        let v = self
            .call(reqwest::Method::POST, "/se/log", json!({"type": "browser"}))
            .await;
        v.as_array()
            .unwrap_or_else(|| panic!("no browser log: {v}"))
            .iter()
            .map(|e| e["message"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// The text of the element `css`.
    async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{id}/text"),
                Value::Null,
            )
            .await;
        v.as_str().unwrap_or("").to_owned()
    }

    async fn refresh(&self) {
        self.call(reqwest::Method::POST, "/refresh", json!({}))
            .await;
    }

    async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }

    async fn close(&self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_stays_signed_in_through_the_handshake() {
    if !ensure_chromium() {
        eprintln!(
            "browser test SKIPPED: Debian's chromium and chromium-driver are not installed \
             and could not be (apt-get install chromium chromium-driver as root)"
        );
        return;
    }
    let clock = Arc::new(ManualClock::new(clerk_core::clock::Clock::now_unix(
        &clerk_core::clock::SystemClock,
    )));
    let state = clerk_examples::AppState::start_dev_with(
        clerk_examples::DevMode::new(),
        "/sign-in".into(),
        5,
        clock.clone(),
    )
    .await
    .unwrap();
    let dev = state.dev.clone().unwrap();
    let member = dev.personas.iter().find(|p| p.name == "member").unwrap();
    // Every answer's x-clerk-auth-reason, in order.
    let reasons = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = reasons.clone();
    let app = clerk_examples::axum_app::router(state).layer(axum::middleware::map_response(
        move |res: axum::response::Response| {
            let seen = seen.clone();
            async move {
                if let Some(r) = res.headers().get("x-clerk-auth-reason") {
                    seen.lock().unwrap().push(r.to_str().unwrap().to_owned());
                }
                if let Some(p) = res.headers().get("content-security-policy") {
                    seen.lock()
                        .unwrap()
                        .push(format!("csp {}", p.to_str().unwrap()));
                }
                res
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dashboard = format!("http://localhost:{port}/dashboard");
    // The dev stand-in, through the app's own Frontend API proxy.
    let fapi = format!("http://localhost:{port}/__clerk");

    let driver = Driver::start();
    let browser = Session::new(&driver).await;

    // Signed out: to the dev sign-in page, naming the dashboard.
    browser.go(&dashboard).await;
    let url = browser.url().await;
    assert!(
        url.starts_with(&format!("{}/sign-in?redirect_url=", fapi)),
        "{url}"
    );
    assert!(url.contains("dashboard"), "{url}");

    // Sign in as a persona: back on the dashboard, showing them.
    browser.click("a.persona[href*='persona=member']").await;
    assert_eq!(browser.wait_for_url(&dashboard).await, dashboard);
    let user = {
        use base64::Engine as _;
        let payload = member.token.split('.').nth(1).unwrap();
        let v: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        v["sub"].as_str().unwrap().to_owned()
    };
    assert!(browser.source().await.contains(&user));

    // Past the 5-second lifetime: a reload goes through the handshake and
    // stays signed in.
    clock.advance(20);
    reasons.lock().unwrap().clear();
    browser.refresh().await;
    assert_eq!(browser.url().await, dashboard);
    assert!(browser.source().await.contains(&user), "still signed in");
    assert!(
        reasons
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.starts_with("session-token-expired")),
        "the reload went through a handshake: {:?}",
        reasons.lock().unwrap()
    );

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"));
    let dir = std::path::PathBuf::from(
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "../target".into()),
    )
    .join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard.png"), &png).unwrap();
    eprintln!(
        "browser test: screenshot at {}",
        dir.join("dashboard.png").display()
    );

    // Sign out: the dashboard sends the browser to sign in again.
    browser.click("a.button[href='/sign-out']").await;
    browser.go(&dashboard).await;
    let url = browser.url().await;
    assert!(
        url.starts_with(&format!("{}/sign-in?redirect_url=", fapi)),
        "{url}"
    );

    // A member of globex and initech: signed in on globex's page, they
    // open initech's and land on it with initech active.
    let globex = format!("http://localhost:{port}/orgs/globex/dashboard");
    let initech = format!("http://localhost:{port}/orgs/initech/dashboard");
    browser.go(&globex).await;
    browser.click("a.persona[href*='persona=two-orgs']").await;
    assert_eq!(browser.wait_for_url(&globex).await, globex);
    assert_eq!(browser.text("#org").await, "globex");
    reasons.lock().unwrap().clear();
    browser.go(&initech).await;
    assert_eq!(browser.wait_for_url(&initech).await, initech);
    assert_eq!(browser.text("#org").await, "initech", "initech is active");
    assert_eq!(browser.text("#named").await, "initech");
    assert!(
        reasons
            .lock()
            .unwrap()
            .iter()
            .any(|r| r == "active-organization-mismatch"),
        "through the handshake: {:?}",
        reasons.lock().unwrap()
    );
    assert!(
        reasons.lock().unwrap().iter().any(|r| r.starts_with("csp ")
            && r.contains("'strict-dynamic'")
            && r.contains("'nonce-")),
        "the pages carry the strict CSP"
    );
    // The strict CSP let the page's nonce'd script run, and nothing on
    // the way (sign-in page, proxy, handshake, dashboards) broke it.
    assert_eq!(browser.text("#scripts").await, "scripts run");
    let console = browser.console().await;
    assert!(
        !console
            .iter()
            .any(|m| m.contains("Content Security Policy") || m.contains("Content-Security-Policy")),
        "CSP violations: {console:?}"
    );
    browser.close().await;
}
