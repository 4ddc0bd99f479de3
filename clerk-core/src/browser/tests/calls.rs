// The handshake redirect and the steps that call out: refresh and nonce
// through the Backend API, and the handshake finish.
use super::*;

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

    // It refreshes: the page served signed in, its response setting the
    // new cookies (no reload), as Clerk.
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
    assert!(hs.headers().get(header::LOCATION).is_none());
    assert_eq!(hs.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(hs.headers().get_all(header::SET_COOKIE).iter().count(), 2);
    let served = hs.served().expect("served, not redirected");
    assert_eq!(served.session().unwrap().session_id(), Some("sess_r1"));

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
    // A production instance serves the page signed in, its response
    // setting the cookies (no redirect, no `Access-Control-Allow-Origin`).
    let hs = handshake(&auth);
    assert_eq!(hs.reason(), "handshake-complete");
    assert!(hs.headers().get(header::LOCATION).is_none());
    assert!(hs.headers().get("access-control-allow-origin").is_none());
    assert!(hs.served().unwrap().is_signed_in());
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
    assert_eq!(
        handshake(&auth).served().unwrap().reason(),
        Some(crate::Reason::SessionTokenMissing)
    );
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
    assert!(!matches!(&auth, Auth::Page(h) if h.reason() == "handshake-complete"));

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
