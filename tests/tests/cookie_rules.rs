//! Requests with Clerk's cookies, page loads and API calls alike, through
//! both example apps: Clerk's state and reason in every row (as
//! `@clerk/backend`'s `authenticateRequestWithTokenInCookie`), one rule for
//! which session cookie counts on every path, `__client_uat` read as
//! `parseInt(…) || 0`, cookie values read as Clerk's parser reads them.
//! The apps are in dev mode: a development instance, so every browser
//! request carries its dev browser (`__clerk_db_jwt`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use actix_web::test;
use clerk_core::clock::{Clock, SystemClock};
use clerk_examples::DevMode;
use clerk_tests::{ActixTarget, AxumTarget, Target, dev_state};
use http::{Method, Request};
use serde_json::Value;

/// What a row expects.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// 200 for this user (`/api/me`'s `user_id`, or the dashboard's text).
    User(&'static str),
    /// 401 with this reason (body and `x-clerk-auth-reason`).
    Refused(&'static str),
    /// A 307 handshake with this reason.
    Handshake(&'static str),
}

struct Row {
    name: &'static str,
    method: Method,
    path: &'static str,
    page: bool,
    cookie: String,
    want: Want,
}

fn rows(dev: &DevMode) -> Vec<Row> {
    let now = SystemClock.now_unix();
    let issuer = &dev.issuer;
    let suffix = clerk_core::testing::cookie_suffix(&clerk_core::testing::publishable_key_for(
        "clerk.test.invalid",
        false,
    ));
    let valid = |user: &str, iat: i64| issuer.token().user(user).issued_at(iat).build();
    let a = valid("user_a", now - 5);
    let b = valid("user_b", now - 50);
    let expired = issuer.token().user("user_a").expired().build();
    let db = "__clerk_db_jwt=dev_browser";
    let row = |name, method: Method, path, page, cookie: String, want| Row {
        name,
        method,
        path,
        page,
        cookie,
        want,
    };
    let get = Method::GET;
    vec![
        // The two rows `@clerk/backend` answers with its refresh reasons.
        row(
            "api request, expired session cookie",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=1; __session={expired}"),
            Want::Refused("session-token-expired-refresh-non-eligible-no-refresh-cookie"),
        ),
        row(
            "post page load, expired session cookie",
            Method::POST,
            "/api/admin/users/user_a/plan",
            true,
            format!("{db}; __client_uat=1; __session={expired}"),
            Want::Refused("session-token-expired-refresh-non-eligible-non-get"),
        ),
        row(
            "page load, expired session cookie",
            get.clone(),
            "/dashboard",
            true,
            format!("{db}; __client_uat=1; __session={expired}"),
            Want::Handshake("session-token-expired-refresh-non-eligible-no-refresh-cookie"),
        ),
        // The states before verification, on an API request.
        row(
            "api request, no dev browser",
            get.clone(),
            "/api/me",
            false,
            format!("__client_uat=1; __session={a}"),
            Want::Refused("dev-browser-missing"),
        ),
        row(
            "api request, session but no client",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __session={a}"),
            Want::Refused("session-token-but-no-client-uat"),
        ),
        row(
            "api request, client but no session",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=1"),
            Want::Refused("client-uat-but-no-session-token"),
        ),
        row(
            "api request, session older than the client",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat={}; __session={a}", now + 100),
            Want::Refused("session-token-iat-before-client-uat"),
        ),
        row(
            "api request, signed in",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=1; __session={a}"),
            Want::User("user_a"),
        ),
        // One browser, two users: Clerk's `usesSuffixedCookies` keeps the
        // newer plain cookie, on API requests as on pages.
        row(
            "api request, plain newer than suffixed",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=1; __session={a}; __session_{suffix}={b}"),
            Want::User("user_a"),
        ),
        row(
            "page load, plain newer than suffixed",
            get.clone(),
            "/dashboard",
            true,
            format!("{db}; __client_uat=1; __session={a}; __session_{suffix}={b}"),
            Want::User("user_a"),
        ),
        row(
            "api request, suffixed newer than plain",
            get.clone(),
            "/api/me",
            false,
            format!(
                "__clerk_db_jwt_{suffix}=dev_browser; __client_uat=1; __client_uat_{suffix}=1; \
                 __session={b}; __session_{suffix}={a}"
            ),
            Want::User("user_a"),
        ),
        // `__client_uat` as `parseInt(…) || 0`.
        row(
            "client_uat -5 is an active client",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=-5; __session={a}"),
            Want::User("user_a"),
        ),
        row(
            "client_uat +5",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=+5; __session={a}"),
            Want::User("user_a"),
        ),
        row(
            "client_uat 0x10 is 16",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=0x10; __session={a}"),
            Want::User("user_a"),
        ),
        row(
            "client_uat percent-encoded digits",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=%31%32; __session={a}"),
            Want::User("user_a"),
        ),
        row(
            "client_uat quoted is 0",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=\"12\"; __session={a}"),
            Want::Refused("session-token-but-no-client-uat"),
        ),
        row(
            "client_uat over-long is later than any iat",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat={}; __session={a}", "9".repeat(30)),
            Want::Refused("session-token-iat-before-client-uat"),
        ),
        // Values as sent: a quoted token is not a token.
        row(
            "quoted session cookie",
            get.clone(),
            "/api/me",
            false,
            format!("{db}; __client_uat=1; __session=\"{a}\""),
            Want::Refused("token-invalid"),
        ),
        row(
            "quoted session cookie on a page load",
            get.clone(),
            "/api/me",
            true,
            format!("{db}; __client_uat=1; __session=\"{a}\""),
            Want::Refused("token-invalid"),
        ),
        // Not Clerk's cookies at all: no session, as before.
        row(
            "api request, unrelated cookies",
            get,
            "/api/me",
            false,
            "theme=dark; session=x".to_owned(),
            Want::Refused("session-token-missing"),
        ),
    ]
}

fn request(row: &Row) -> Request<String> {
    let mut b = Request::builder()
        .method(row.method.clone())
        .uri(row.path)
        .header("host", "localhost:3000")
        .header("cookie", &row.cookie);
    b = if row.page {
        b.header("sec-fetch-dest", "document")
            .header("accept", "text/html")
    } else {
        b.header("sec-fetch-dest", "empty")
            .header("accept", "application/json")
    };
    b.body(String::new()).unwrap()
}

async fn seen(target: &impl Target, row: &Row) -> (Want, http::Response<String>) {
    let res = target.send(request(row)).await;
    let reason = res
        .headers()
        .get("x-clerk-auth-reason")
        .map(|v| v.to_str().unwrap().to_owned());
    let want = match res.status().as_u16() {
        200 => {
            let body = res.body();
            let user = if let Ok(v) = serde_json::from_str::<Value>(body) {
                v["user_id"].as_str().unwrap_or("").to_owned()
            } else {
                ["user_a", "user_b"]
                    .into_iter()
                    .find(|u| body.contains(u))
                    .unwrap_or("")
                    .to_owned()
            };
            Want::User(leak(user))
        }
        401 => {
            let body: Value = serde_json::from_str(res.body()).unwrap_or(Value::Null);
            let from_body = body["reason"].as_str().map(str::to_owned);
            assert_eq!(
                from_body, reason,
                "{}: the body and x-clerk-auth-reason agree",
                row.name
            );
            Want::Refused(leak(reason.unwrap_or_default()))
        }
        307 => {
            let location = res.headers()["location"].to_str().unwrap();
            assert!(location.contains("/v1/client/handshake"), "{location}");
            Want::Handshake(leak(reason.unwrap_or_default()))
        }
        other => panic!("{}: status {other}: {}", row.name, res.body()),
    };
    (want, res)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[actix_web::test]
async fn cookie_requests_get_clerks_state_and_reason_in_both_apps() {
    let state = dev_state().await;
    let dev = state.dev.clone().unwrap();
    let axum = AxumTarget(clerk_examples::axum_app::router(state.clone()));
    let actix = ActixTarget(test::init_service(clerk_examples::actix_app::app(state)).await);
    let mut failures = Vec::new();
    for row in rows(&dev) {
        let (x, x_res) = seen(&axum, &row).await;
        let (a, a_res) = seen(&actix, &row).await;
        if x != row.want {
            failures.push(format!("{}: axum {x:?}, want {:?}", row.name, row.want));
        }
        if (x.clone(), x_res.status(), x_res.body()) != (a.clone(), a_res.status(), a_res.body()) {
            failures.push(format!("{}: axum {x:?} vs actix {a:?}", row.name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
