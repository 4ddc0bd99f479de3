//! The behaviour table every adapter must pass unchanged: route × token
//! kind × expected status, headers and body fields, over the example apps'
//! shared route table. A [`Target`] turns a request into a response; the
//! tower stack, the axum app ([`AxumTarget`]) and the actix app
//! ([`ActixTarget`]) each provide one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The README's and docs/*.md's code blocks, compiled as doc tests here,
/// where both frameworks are dependencies.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[doc = include_str!("../../docs/actix.md")]
#[cfg(doctest)]
pub struct DocsActix;

#[doc = include_str!("../../docs/pages.md")]
#[cfg(doctest)]
pub struct DocsPages;

#[doc = include_str!("../../docs/core.md")]
#[cfg(doctest)]
pub struct DocsCore;

#[doc = include_str!("../../docs/grpc.md")]
#[cfg(doctest)]
pub struct DocsGrpc;

#[doc = include_str!("../../docs/users.md")]
#[cfg(doctest)]
pub struct DocsUsers;

#[doc = include_str!("../../docs/machine-tokens.md")]
#[cfg(doctest)]
pub struct DocsMachineTokens;

#[doc = include_str!("../../docs/operations.md")]
#[cfg(doctest)]
pub struct DocsOperations;

#[doc = include_str!("../../docs/paths.md")]
#[cfg(doctest)]
pub struct DocsPaths;

#[doc = include_str!("../../docs/tools.md")]
#[cfg(doctest)]
pub struct DocsTools;

use std::future::Future;

use clerk_core::testing::TestIssuer;
use clerk_examples::DevMode;
use http::{HeaderMap, Method, Request, Response, header};
use serde_json::{Value, json};

/// Something that answers HTTP requests: an app under test.
pub trait Target {
    /// Sends one request and returns the whole response.
    fn send(&self, req: Request<String>) -> impl Future<Output = Response<String>>;
}

/// Which token a case sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// No token at all.
    None,
    /// A dev-mode persona's token, by name.
    Persona(&'static str),
    /// Expired an hour ago.
    Expired,
    /// Minted for another origin (`azp`).
    WrongAzp,
    /// Signed by another key with the same `kid`.
    BadSignature,
    /// A pending session.
    Pending,
    /// Not a JWT.
    Garbage,
    /// The dev API key (verified by the dev Backend API).
    ApiKey,
    /// An API key nobody issued.
    BadApiKey,
    /// A JWT machine-to-machine token.
    M2mJwt,
    /// A JWT OAuth access token.
    OAuthJwt,
}

/// Where the token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`.
    Header,
    /// The `__session` cookie.
    Cookie,
}

/// What a case expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// This status, and these body fields (a subset of a JSON body).
    Status(u16, Value),
    /// 401 with this reason and `WWW-Authenticate` challenge.
    Unauthorized(&'static str, &'static str),
    /// 307 to this location.
    Redirect(&'static str),
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Case {
    /// A short label.
    pub name: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path (raw, may be percent-encoded).
    pub path: &'static str,
    /// The token sent.
    pub token: TokenKind,
    /// How it is sent.
    pub via: Via,
    /// Extra headers (page requests, preflight).
    pub headers: &'static [(&'static str, &'static str)],
    /// The expectation.
    pub expect: Expect,
}

const PAGE: &[(&str, &str)] = &[("accept", "text/html,application/xhtml+xml")];
const API: &[(&str, &str)] = &[("accept", "application/json")];
const PREFLIGHT: &[(&str, &str)] = &[
    ("origin", "http://localhost:5173"),
    ("access-control-request-method", "GET"),
];

fn case(
    name: &'static str,
    method: Method,
    path: &'static str,
    token: TokenKind,
    expect: Expect,
) -> Case {
    Case {
        name,
        method,
        path,
        token,
        via: Via::Header,
        headers: &[],
        expect,
    }
}

fn ok(fields: Value) -> Expect {
    Expect::Status(200, fields)
}

fn forbidden() -> Expect {
    Expect::Status(
        403,
        json!({"error": "forbidden", "reason": "requirement-not-met"}),
    )
}

const BEARER: &str = "Bearer";
const INVALID: &str = r#"Bearer error="invalid_token""#;

/// The behaviour table.
pub fn cases() -> Vec<Case> {
    use Expect::*;
    use TokenKind::*;
    let get = Method::GET;
    let post = Method::POST;
    vec![
        case(
            "health",
            get.clone(),
            "/health",
            None,
            ok(json!({"status": "ok", "keys_ready": true})),
        ),
        case(
            "public signed out",
            get.clone(),
            "/api/public",
            None,
            ok(json!({"signed_in": false, "user_id": null})),
        ),
        case(
            "public signed in",
            get.clone(),
            "/api/public",
            Persona("member"),
            ok(json!({"signed_in": true, "user_id": "user_member"})),
        ),
        case(
            "me signed out",
            get.clone(),
            "/api/me",
            None,
            Unauthorized("session-token-missing", BEARER),
        ),
        case(
            "me expired",
            get.clone(),
            "/api/me",
            Expired,
            Unauthorized("token-expired", INVALID),
        ),
        case(
            "me wrong azp",
            get.clone(),
            "/api/me",
            WrongAzp,
            Unauthorized("token-invalid-authorized-parties", INVALID),
        ),
        case(
            "me bad signature",
            get.clone(),
            "/api/me",
            BadSignature,
            Unauthorized("token-invalid-signature", INVALID),
        ),
        case(
            "me garbage",
            get.clone(),
            "/api/me",
            Garbage,
            Unauthorized("token-invalid", INVALID),
        ),
        case(
            "me pending",
            get.clone(),
            "/api/me",
            Pending,
            Unauthorized("session-pending", INVALID),
        ),
        case(
            "me signed in",
            get.clone(),
            "/api/me",
            Persona("org-admin"),
            ok(json!({
                "user_id": "user_admin", "org_id": "org_acme", "org_role": "org:admin",
                "org_slug": "acme", "org_permissions": ["org:reports:read"],
                "factor_age": [5, -1], "status": "active"
            })),
        ),
        Case {
            via: Via::Cookie,
            ..case(
                "me via cookie",
                get.clone(),
                "/api/me",
                Persona("member"),
                ok(json!({"user_id": "user_member"})),
            )
        },
        Case {
            via: Via::Cookie,
            ..case(
                "cookie expired",
                get.clone(),
                "/api/me",
                Expired,
                Unauthorized("token-expired", INVALID),
            )
        },
        case(
            "admin signed out",
            get.clone(),
            "/api/admin",
            None,
            Unauthorized("session-token-missing", BEARER),
        ),
        case(
            "admin as member",
            get.clone(),
            "/api/admin",
            Persona("member"),
            forbidden(),
        ),
        case(
            "admin as admin",
            get.clone(),
            "/api/admin",
            Persona("org-admin"),
            ok(json!({"ok": true, "user_id": "user_admin"})),
        ),
        case(
            "reports as member",
            get.clone(),
            "/api/reports",
            Persona("member"),
            forbidden(),
        ),
        case(
            "reports as admin",
            get.clone(),
            "/api/reports",
            Persona("org-admin"),
            ok(json!({"ok": true})),
        ),
        case(
            "pro as member",
            get.clone(),
            "/api/pro",
            Persona("member"),
            forbidden(),
        ),
        case(
            "pro as pro",
            get.clone(),
            "/api/pro",
            Persona("pro"),
            ok(json!({"ok": true, "user_id": "user_pro"})),
        ),
        case(
            "export as member",
            get.clone(),
            "/api/export",
            Persona("member"),
            forbidden(),
        ),
        case(
            "export as pro",
            get.clone(),
            "/api/export",
            Persona("pro"),
            ok(json!({"ok": true})),
        ),
        case(
            "mfa without mfa",
            get.clone(),
            "/api/mfa",
            Persona("org-admin"),
            forbidden(),
        ),
        case(
            "mfa with mfa",
            get.clone(),
            "/api/mfa",
            Persona("fresh-mfa"),
            ok(json!({"ok": true})),
        ),
        case(
            "danger stale",
            post.clone(),
            "/api/settings/danger",
            Persona("stale-mfa"),
            Status(
                403,
                json!({"clerk_error": {"type": "forbidden", "reason": "reverification-error",
                "metadata": {"reverification": {"level": "second_factor", "afterMinutes": 10}}}}),
            ),
        ),
        case(
            "danger fresh",
            post.clone(),
            "/api/settings/danger",
            Persona("fresh-mfa"),
            ok(json!({"ok": true})),
        ),
        case(
            "danger signed out",
            post,
            "/api/settings/danger",
            None,
            Unauthorized("session-token-missing", BEARER),
        ),
        Case {
            headers: PAGE,
            ..case(
                "dashboard page signed out",
                get.clone(),
                "/dashboard",
                None,
                Redirect("/sign-in"),
            )
        },
        Case {
            headers: PAGE,
            ..case(
                "dashboard subpage signed out",
                get.clone(),
                "/dashboard/settings",
                None,
                Redirect("/sign-in"),
            )
        },
        Case {
            headers: API,
            ..case(
                "dashboard api signed out",
                get.clone(),
                "/dashboard",
                None,
                Unauthorized("session-token-missing", BEARER),
            )
        },
        Case {
            headers: PAGE,
            ..case(
                "dashboard signed in",
                get.clone(),
                "/dashboard",
                Persona("member"),
                Status(200, Value::Null),
            )
        },
        Case {
            headers: PREFLIGHT,
            ..case(
                "preflight to a protected page is judged",
                Method::OPTIONS,
                "/dashboard",
                None,
                Unauthorized("session-token-missing", BEARER),
            )
        },
        // A preflight to a protected GET route: refused when signed out in
        // both frameworks (axum's 405 fallback sits inside the guard), and
        // 405 for a caller the guard lets through.
        Case {
            headers: PREFLIGHT,
            ..case(
                "preflight to a protected api route is judged",
                Method::OPTIONS,
                "/api/admin",
                None,
                Unauthorized("session-token-missing", BEARER),
            )
        },
        Case {
            headers: PREFLIGHT,
            ..case(
                "preflight from an admin reaches the method check",
                Method::OPTIONS,
                "/api/admin",
                Persona("org-admin"),
                Status(405, Value::Null),
            )
        },
        case(
            "head is judged as get",
            Method::HEAD,
            "/dashboard/settings",
            None,
            Status(401, Value::Null),
        ),
        case(
            "encoded newline in a protected path",
            get.clone(),
            "/dashboard/settings%0A",
            Persona("member"),
            Status(
                400,
                json!({"error": "bad_request", "reason": "malformed-path"}),
            ),
        ),
        case(
            "encoded letters in a protected path",
            get.clone(),
            "/%64ashboard",
            None,
            Unauthorized("session-token-missing", BEARER),
        ),
        case(
            "malformed path",
            get.clone(),
            "/dashboard/%zz",
            Persona("member"),
            Status(
                400,
                json!({"error": "bad_request", "reason": "malformed-path"}),
            ),
        ),
        case(
            "unknown route stays 404",
            get,
            "/nope",
            None,
            Status(404, Value::Null),
        ),
    ]
}

/// The axum example app (or any router) as a [`Target`], in-process.
pub struct AxumTarget(pub axum::Router);

impl Target for AxumTarget {
    async fn send(&self, req: Request<String>) -> Response<String> {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let res = self
            .0
            .clone()
            .oneshot(req.map(axum::body::Body::from))
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        fixed_nonce(Response::from_parts(
            parts,
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    }
}

/// The response with its CSP nonce (fresh per response: `x-nonce`, the
/// policy's `'nonce-…'`, the page's `nonce="…"`) replaced by `NONCE`, so
/// two apps' answers compare byte for byte.
pub fn fixed_nonce(mut res: Response<String>) -> Response<String> {
    let Some(nonce) = res
        .headers()
        .get("x-nonce")
        .and_then(|n| n.to_str().ok())
        .map(str::to_owned)
    else {
        return res;
    };
    for value in res.headers_mut().values_mut() {
        if let Ok(v) = value.to_str()
            && v.contains(&nonce)
        {
            *value = v.replace(&nonce, "NONCE").parse().unwrap();
        }
    }
    let body = res.body().replace(&nonce, "NONCE");
    *res.body_mut() = body;
    res
}

/// An actix app (from `actix_web::test::init_service`) as a [`Target`],
/// in-process.
pub struct ActixTarget<S>(pub S);

impl<S, B> Target for ActixTarget<S>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    async fn send(&self, req: Request<String>) -> Response<String> {
        use actix_web::test;
        let (parts, body) = req.into_parts();
        let mut tr = test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap())
            .uri(&parts.uri.to_string());
        for (name, value) in &parts.headers {
            tr = tr.append_header((name.as_str(), value.as_bytes()));
        }
        let res = test::call_service(&self.0, tr.set_payload(body).to_request()).await;
        let mut out = Response::builder().status(res.status().as_u16());
        for (name, value) in res.headers() {
            out = out.header(name.as_str(), value.as_bytes());
        }
        let bytes = test::read_body(res).await;
        fixed_nonce(
            out.body(String::from_utf8_lossy(&bytes).into_owned())
                .unwrap(),
        )
    }
}

/// Dev-mode app state with its local Backend API started.
pub async fn dev_state() -> clerk_examples::AppState {
    clerk_examples::AppState::start_dev(DevMode::new(), "/sign-in".to_owned())
        .await
        .unwrap()
}

/// Tokens for the table, signed by the dev-mode key (or, for the bad
/// signature, by another key claiming the same `kid`).
pub fn token(dev: &DevMode, kind: TokenKind) -> Option<String> {
    let issuer = &dev.issuer;
    match kind {
        TokenKind::None => None,
        TokenKind::Persona(name) => Some(
            dev.personas
                .iter()
                .find(|p| p.name == name)
                .unwrap_or_else(|| panic!("no persona {name}"))
                .token
                .clone(),
        ),
        TokenKind::Expired => Some(issuer.token().expired().build()),
        TokenKind::WrongAzp => Some(issuer.token().azp("https://evil.example").build()),
        TokenKind::BadSignature => Some(TestIssuer::with_kid(issuer.kid()).token().build()),
        TokenKind::Pending => Some(issuer.token().pending().build()),
        TokenKind::Garbage => Some("not-a-jwt".to_owned()),
        TokenKind::ApiKey => Some(dev.api_key.clone()),
        TokenKind::BadApiKey => Some("ak_nobody_issued_this".to_owned()),
        TokenKind::M2mJwt => Some(dev.machine_token.clone()),
        TokenKind::OAuthJwt => Some(
            issuer
                .oauth_token("user_admin", "client_1", &["email"])
                .build(),
        ),
    }
}

/// Builds the request of a case.
pub fn request(dev: &DevMode, case: &Case) -> Request<String> {
    let mut builder = Request::builder()
        .method(case.method.clone())
        .uri(case.path);
    for (k, v) in case.headers {
        builder = builder.header(*k, *v);
    }
    if let Some(t) = token(dev, case.token) {
        builder = match case.via {
            Via::Header => builder.header(header::AUTHORIZATION, format!("Bearer {t}")),
            Via::Cookie => builder.header(header::COOKIE, format!("theme=dark; __session={t}")),
        };
    }
    builder.body(String::new()).unwrap()
}

/// What a response showed, in the form compared across adapters.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The case.
    pub name: &'static str,
    /// Status code.
    pub status: u16,
    /// The headers that matter: challenge and location.
    pub headers: Vec<(String, String)>,
    /// The body as JSON, when it is JSON.
    pub json: Option<Value>,
    /// The exact body bytes, when it is JSON (compared byte for byte).
    pub json_text: Option<String>,
}

/// What `res` showed. A `HEAD` response has no body on the wire (axum
/// drops it, a hand-written tower service may not), so it is not compared.
fn outcome(name: &'static str, method: &Method, res: &Response<String>) -> Outcome {
    let pick = |h: &HeaderMap, n: header::HeaderName| {
        h.get(&n)
            .and_then(|v| v.to_str().ok())
            .map(|v| (n.as_str().to_owned(), v.to_owned()))
    };
    let h = res.headers();
    let body = if method == Method::HEAD {
        ""
    } else {
        res.body().as_str()
    };
    Outcome {
        name,
        status: res.status().as_u16(),
        headers: [pick(h, header::WWW_AUTHENTICATE), pick(h, header::LOCATION)]
            .into_iter()
            .flatten()
            .collect(),
        json: serde_json::from_str(body).ok(),
        json_text: serde_json::from_str::<Value>(body)
            .ok()
            .map(|_| body.to_owned()),
    }
}

fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        _ => actual == expected,
    }
}

fn check(case: &Case, o: &Outcome) -> Result<(), String> {
    let header = |name: &str| {
        o.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let json = o.json.clone().unwrap_or(Value::Null);
    let fail = |what: String| Err(format!("{}: {what} (got {o:?})", case.name));
    match &case.expect {
        Expect::Status(status, fields) => {
            if o.status != *status {
                return fail(format!("status {status} expected"));
            }
            if !fields.is_null() && !contains(&json, fields) {
                return fail(format!("body fields {fields} expected"));
            }
        }
        Expect::Unauthorized(reason, challenge) => {
            if o.status != 401 {
                return fail("status 401 expected".into());
            }
            if json["reason"] != *reason {
                return fail(format!("reason {reason} expected"));
            }
            if header("www-authenticate") != Some(challenge) {
                return fail(format!("challenge {challenge} expected"));
            }
        }
        Expect::Redirect(to) => {
            if o.status != 307 || header("location") != Some(to) {
                return fail(format!("307 to {to} expected"));
            }
        }
    }
    Ok(())
}

/// Runs every case against `target`; panics listing every failure, and
/// returns the outcomes for cross-adapter comparison.
pub async fn run_table(target: &impl Target, dev: &DevMode) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for case in cases() {
        let res = target.send(request(dev, &case)).await;
        let o = outcome(case.name, &case.method, &res);
        if let Err(e) = check(&case, &o) {
            failures.push(e);
        }
        outcomes.push(o);
    }
    assert!(
        failures.is_empty(),
        "behaviour table failures:\n{}",
        failures.join("\n")
    );
    outcomes
}

/// Serves the axum example app for `state` on `127.0.0.1:0` (until the
/// runtime stops): its base URL.
pub async fn serve_axum(state: &clerk_examples::AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = state.clone();
    tokio::spawn(async move {
        clerk_examples::axum_app::serve(
            listener,
            state,
            clerk_examples::Limits::default(),
            std::future::pending(),
        )
        .await
    });
    format!("http://{addr}")
}

/// Serves the actix app `factory` builds on `127.0.0.1:0` with one worker,
/// inside the current actix runtime: its address, and the handle that
/// stops it.
pub fn serve_actix<F, T, B>(factory: F) -> (std::net::SocketAddr, actix_web::dev::ServerHandle)
where
    F: Fn() -> actix_web::App<T> + Send + Clone + 'static,
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let server = actix_web::HttpServer::new(factory)
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("a loopback port is free");
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    (addr, handle)
}
