//! Both example apps over real HTTP (127.0.0.1:0): a correctly signed Clerk
//! webhook is accepted, recorded and kept in the local users table (once,
//! however often delivered), a forged one is refused with 400, an
//! oversized one with 413.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use clerk_examples::{AppState, DevMode};
use serde_json::{Value, json};

const NOW_SKEW_FREE: &str = "msg_http_1";

fn user_created() -> String {
    json!({"type": "user.created", "object": "event", "instance_id": "ins_1", "timestamp": 1,
        "data": {"id": "user_http", "email_addresses": [{"id": "idn_1", "email_address": "a@example.com"}],
                 "primary_email_address_id": "idn_1"}})
    .to_string()
}

async fn exercise(base: &str, state: &AppState) {
    let dev = state.dev.clone().unwrap();
    let client = reqwest::Client::new();
    let url = format!("{base}/webhooks/clerk");
    let body = user_created();
    let now = clerk_core::clock::Clock::now_unix(&clerk_core::clock::SystemClock);
    let send = |headers: Vec<(&'static str, String)>, body: String| {
        let mut req = client.post(&url).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };

    // Correctly signed: accepted.
    let signed = dev
        .webhook_signer()
        .headers(NOW_SKEW_FREE, now, body.as_bytes())
        .to_vec();
    let res = send(signed.clone(), body.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let got: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(got["event"]["type"], "user.created");
    assert_eq!(got["event"]["delivery_id"], NOW_SKEW_FREE);
    assert_eq!(got["event"]["object_id"], "user_http");
    assert_eq!(got["applied"], "changed", "kept in the local users table");

    // Delivered again (Clerk retries): answered 200, applied once.
    let res = send(signed.clone(), body.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let got: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(got["applied"], "duplicate");
    let store = state.webhooks.as_ref().unwrap().store().unwrap();
    assert_eq!(store.count("users").await.unwrap(), 1);
    let row = store.user("user_http").await.unwrap().unwrap();
    assert_eq!(row.primary_email.as_deref(), Some("a@example.com"));

    // Forged: same headers, another body.
    let forged = body.replace("user_http", "user_admin");
    let res = send(signed.clone(), forged).await.unwrap();
    assert_eq!(res.status(), 400);
    let got: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(
        got,
        json!({"error": "invalid_webhook", "reason": "no-matching-signature"})
    );

    // Signed with another secret.
    let other = clerk_core::webhook::WebhookSigner::new(
        &clerk_core::webhook::WebhookSigner::random_secret(),
    )
    .unwrap();
    let res = send(
        other.headers("msg_x", now, body.as_bytes()).to_vec(),
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);

    // Missing headers.
    let res = send(Vec::new(), body.clone()).await.unwrap();
    let got: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(got["reason"], "missing-header");

    // Over the 1 MiB default limit.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let res = send(
        dev.webhook_signer()
            .headers("msg_big", now, big.as_bytes())
            .to_vec(),
        big,
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 413);

    // Dev mode shows what arrived: only the accepted delivery (twice).
    let recent: Value = client
        .get(format!("{base}/webhooks/recent"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    assert_eq!(recent.as_array().unwrap().len(), 2);
    assert_eq!(recent[1]["delivery_id"], NOW_SKEW_FREE);
    assert_eq!(recent[0]["delivery_id"], NOW_SKEW_FREE);
}

#[tokio::test]
async fn axum_app_over_http() {
    let state = AppState::start_dev(DevMode::new(), "/sign-in".into())
        .await
        .unwrap();
    exercise(&clerk_tests::serve_axum(&state).await, &state).await;
}

#[actix_web::test]
async fn actix_app_over_http() {
    let state = AppState::start_dev(DevMode::new(), "/sign-in".into())
        .await
        .unwrap();
    let app_state = state.clone();
    let (addr, handle) =
        clerk_tests::serve_actix(move || clerk_examples::actix_app::app(app_state.clone()));
    exercise(&format!("http://{addr}"), &state).await;
    handle.stop(true).await;
}
