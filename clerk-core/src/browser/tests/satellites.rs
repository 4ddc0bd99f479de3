// Satellite domains syncing with the primary, in Clerk's order.
use super::*;

fn satellite(issuer: &TestIssuer, live: bool) -> Clerk {
    Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, live))
            .satellite(
                "sat.example.com",
                Some("https://primary.example.com/sign-in"),
            )
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn location(auth: &Auth) -> String {
    handshake(auth).headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Satellite domains sync document navigations with the primary
/// (steps C–E of `authenticateRequestWithTokenInCookie`).
#[test]
fn satellites_sync_with_the_primary() {
    let issuer = TestIssuer::new();
    let cookies = format!(
        "__client_uat={}; __session={}",
        now() - 3600,
        issuer.token().build()
    );
    // Production: no cookies and no sync asked: signed out, no hop.
    let prod = satellite(&issuer, true);
    assert_eq!(
        signed_out(&run(&prod, "GET", "/p", &page(&[]))),
        "session-token-and-uat-missing"
    );
    // Asked to sync: a handshake with `clerk.<domain>`.
    let auth = run(&prod, "GET", "/p?__clerk_synced=false", &page(&[]));
    assert_eq!(handshake(&auth).reason(), "satellite-needs-syncing");
    assert!(location(&auth).starts_with("https://clerk.sat.example.com/v1/client/handshake?"));
    // Cookies already there, or the sync done: the usual flow.
    assert!(run(&prod, "GET", "/p", &page(&[("cookie", &cookies)])).is_signed_in());
    assert_eq!(
        signed_out(&run(&prod, "GET", "/p?__clerk_synced=true", &page(&[]))),
        "session-token-and-uat-missing"
    );
    // Only document navigations (not `Accept: text/html` alone).
    let mut accept = HeaderMap::new();
    accept.insert("host", HeaderValue::from_static("app.example.com"));
    accept.insert("accept", HeaderValue::from_static("text/html"));
    assert_eq!(
        signed_out(&run(&prod, "GET", "/p?__clerk_synced=false", &accept)),
        "session-token-and-uat-missing"
    );

    // Development: through the primary's sign-in page.
    let dev = satellite(&issuer, false);
    let auth = run(&dev, "GET", "/p?__clerk_synced=false", &page(&[]));
    assert_eq!(handshake(&auth).reason(), "satellite-needs-syncing");
    assert_eq!(
        location(&auth),
        "https://primary.example.com/sign-in?__clerk_redirect_url=\
         https%3A%2F%2Fapp.example.com%2Fp%3F__clerk_synced%3Dfalse"
    );

    // A development primary sends the satellite back, synced.
    let primary = clerk(&issuer, false);
    let h = page(&[("cookie", "__clerk_db_jwt=dvb_1")]);
    let auth = run(
        &primary,
        "GET",
        "/sign-in?__clerk_redirect_url=https%3A%2F%2Fsat.example.com%2Fx%3F__clerk_synced%3Dfalse",
        &h,
    );
    assert_eq!(handshake(&auth).reason(), "primary-responds-to-syncing");
    assert_eq!(
        location(&auth),
        "https://sat.example.com/x?__clerk_db_jwt=dvb_1&__clerk_synced=true"
    );
    // Only to an http(s) URL.
    let auth = run(
        &primary,
        "GET",
        "/sign-in?__clerk_redirect_url=javascript%3Aalert(1)",
        &h,
    );
    assert!(!matches!(auth, Auth::Page(_)), "{auth:?}");
}

#[test]
fn satellites_need_a_domain_and_development_ones_a_sign_in_url() {
    let issuer = TestIssuer::new();
    let base = || {
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, true))
    };
    let no_domain = crate::ClerkConfig::builder()
        .jwks_json(issuer.jwks_json())
        .publishable_key(publishable_key_for(HOST, true));
    let mut env = std::collections::HashMap::new();
    env.insert("CLERK_IS_SATELLITE", "true");
    let from_env =
        crate::config::ClerkConfigBuilder::from_env_with(|k| env.get(k).map(|v| (*v).to_owned()))
            .unwrap()
            .jwks_json(issuer.jwks_json())
            .publishable_key(publishable_key_for(HOST, true));
    assert!(matches!(
        from_env.build(),
        Err(crate::ConfigError::Satellite(_))
    ));
    assert!(no_domain.build().is_ok(), "not a satellite");
    assert!(base().satellite("sat.example.com", None).build().is_ok());
    assert!(
        base()
            .satellite("https://sat.example.com/", None)
            .build()
            .is_ok()
    );
    // A domain is a host: a path, user info or a space would move where
    // handshakes go.
    for bad in [
        "sat.example.com/app",
        "user@sat.example.com",
        "sat example.com",
        "",
    ] {
        assert!(
            matches!(
                base().satellite(bad, None).build(),
                Err(crate::ConfigError::Satellite(_))
            ),
            "{bad:?}"
        );
    }
    let dev = || {
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, false))
    };
    for sign_in in [None, Some("/sign-in")] {
        assert!(matches!(
            dev().satellite("sat.example.com", sign_in).build(),
            Err(crate::ConfigError::Satellite(_))
        ));
    }
    assert!(
        dev()
            .satellite(
                "sat.example.com",
                Some("https://primary.example.com/sign-in")
            )
            .build()
            .is_ok()
    );
}

/// `satelliteAutoSync` on: a satellite's first page load with no Clerk
/// cookie syncs at once (off, above, it is signed out until asked).
#[test]
fn satellites_with_auto_sync_sync_at_once() {
    let issuer = TestIssuer::new();
    let prod = Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, true))
            .satellite("sat.example.com", None)
            .satellite_auto_sync(true)
            .build()
            .unwrap(),
    )
    .unwrap();
    let auth = run(&prod, "GET", "/p", &page(&[]));
    assert_eq!(handshake(&auth).reason(), "satellite-needs-syncing");
    // Synced, it is the usual flow (no loop).
    assert_eq!(
        signed_out(&run(&prod, "GET", "/p?__clerk_synced=true", &page(&[]))),
        "session-token-and-uat-missing"
    );
    // Not a document navigation: never synced.
    let mut fetch = page(&[]);
    fetch.insert("sec-fetch-dest", HeaderValue::from_static("empty"));
    assert!(!matches!(run(&prod, "GET", "/p", &fetch), Auth::Page(_)));
}
