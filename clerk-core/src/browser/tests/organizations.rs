// Organization sync by URL (`handleMaybeOrganizationSyncHandshake`,
// `organizationMatcher.ts`), with its hostile rows.
use super::*;
use crate::browser::OrganizationTarget;

fn syncing(issuer: &TestIssuer, live: bool) -> Clerk {
    Clerk::new(
        issuer
            .config()
            .publishable_key(publishable_key_for(HOST, live))
            .organization_sync(
                ["/orgs/:slug", "/orgs/:slug/(.*)", "/o/:id/(.*)"],
                ["/me", "/me/(.*)"],
            )
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn query_of(auth: &Auth) -> Vec<(String, String)> {
    let location = handshake(auth).headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn organization_id(auth: &Auth) -> Option<String> {
    query_of(auth)
        .into_iter()
        .find(|(k, _)| k == "organization_id")
        .map(|(_, v)| v)
}

/// In Clerk's order: a signed-in page naming another organization hands
/// shake with it; the same organization, an API request, or a page past
/// the loop guard stays signed in; every handshake carries the URL's
/// organization.
#[test]
fn a_page_naming_another_organization_hands_shake_to_activate_it() {
    let issuer = TestIssuer::new();
    let c = syncing(&issuer, true);
    let cookies = |token: &str, extra: &str| {
        page(&[(
            "cookie",
            &format!("__client_uat={}; __session={token}{extra}", now() - 3600),
        )])
    };
    let in_other = issuer.token().org("org_2", "other", "org:member").build();
    let in_acme = issuer.token().org("org_1", "acme", "org:admin").build();
    let personal = issuer.token().build();

    let auth = run(&c, "GET", "/orgs/acme/dashboard", &cookies(&in_other, ""));
    assert_eq!(handshake(&auth).reason(), "active-organization-mismatch");
    assert_eq!(organization_id(&auth).as_deref(), Some("acme"));
    assert_eq!(
        handshake(&auth).headers()["x-clerk-auth-reason"],
        "active-organization-mismatch"
    );
    assert!(run(&c, "GET", "/orgs/acme/dashboard", &cookies(&in_acme, "")).is_signed_in());
    assert!(run(&c, "GET", "/orgs/acme", &cookies(&in_acme, "")).is_signed_in());
    // By id.
    let auth = run(&c, "GET", "/o/org_9/settings", &cookies(&in_acme, ""));
    assert_eq!(organization_id(&auth).as_deref(), Some("org_9"));
    assert!(run(&c, "GET", "/o/org_1/settings", &cookies(&in_acme, "")).is_signed_in());
    // The personal account: towards no organization (an empty id).
    let auth = run(&c, "GET", "/me/dashboard", &cookies(&in_acme, ""));
    assert_eq!(handshake(&auth).reason(), "active-organization-mismatch");
    assert_eq!(organization_id(&auth).as_deref(), Some(""));
    assert!(run(&c, "GET", "/me", &cookies(&personal, "")).is_signed_in());
    // Not named by any pattern: no sync.
    assert!(run(&c, "GET", "/dashboard", &cookies(&in_other, "")).is_signed_in());
    // An API request never syncs (Clerk: the handshake is not eligible,
    // so the state stays signed in).
    let mut api = cookies(&in_other, "");
    api.insert("sec-fetch-dest", HeaderValue::from_static("empty"));
    assert!(run(&c, "GET", "/orgs/acme/dashboard", &api).is_signed_in());
    // Past the loop guard (the visitor is no member of `acme`: the Frontend
    // API left the session as it was): signed in, no switch.
    let auth = run(
        &c,
        "GET",
        "/orgs/acme/dashboard",
        &cookies(&in_other, "; __clerk_redirect_count=3"),
    );
    assert_eq!(
        auth.session().unwrap().organization().unwrap().slug(),
        Some("other")
    );
    // Any other handshake on such a URL carries the organization too.
    let expired = issuer.token().expired().build();
    let auth = run(&c, "GET", "/orgs/acme/x", &cookies(&expired, ""));
    assert_eq!(
        handshake(&auth).reason(),
        "session-token-expired-refresh-non-eligible-no-refresh-cookie"
    );
    assert_eq!(organization_id(&auth).as_deref(), Some("acme"));
    // The layers' method names the URL's organization.
    assert_eq!(
        c.organization_in_url("/orgs/acme/dashboard"),
        Some(OrganizationTarget::Slug("acme".into()))
    );
    assert_eq!(
        c.organization_in_url("/o/org_9/x"),
        Some(OrganizationTarget::Id("org_9".into()))
    );
    assert_eq!(
        c.organization_in_url("/me"),
        Some(OrganizationTarget::PersonalAccount)
    );
    assert_eq!(c.organization_in_url("/dashboard"), None);
    assert_eq!(clerk(&issuer, true).organization_in_url("/orgs/acme"), None);
}

/// Hostile URLs name no organization (no handshake, no target): encoded
/// separators, dot segments, controls, CRLF, oversized and empty values;
/// a decoded escape names what the router routes.
#[test]
fn hostile_organization_urls_name_no_organization() {
    let issuer = TestIssuer::new();
    let c = syncing(&issuer, true);
    let in_other = issuer.token().org("org_2", "other", "org:member").build();
    let h = page(&[(
        "cookie",
        &format!("__client_uat={}; __session={in_other}", now() - 3600),
    )]);
    let long = format!("/orgs/{}/x", "a".repeat(300));
    for path in [
        "/orgs/ac%2Fme/x",
        "/orgs/%2e%2e/x",
        "/orgs/../me/x",
        "/orgs/acme%0d%0aSet-Cookie:%20x/x",
        "/orgs/ac%25me/x",
        "/orgs/ac%20me/x",
        "/orgs//x",
        "/orgs/acme;x=1/x",
        "/orgs/ac\\me/x",
        "/orgs/%zz/x",
        long.as_str(),
    ] {
        assert_eq!(c.organization_in_url(path), None, "{path}");
        let auth = run(&c, "GET", path, &h);
        assert!(
            !matches!(&auth, Auth::Page(p) if p.reason() == "active-organization-mismatch"),
            "{path}: {auth:?}"
        );
    }
    // `%61cme` is routed as `acme`: that is the organization it names.
    assert_eq!(
        c.organization_in_url("/orgs/%61cme/x"),
        Some(OrganizationTarget::Slug("acme".into()))
    );
    let auth = run(&c, "GET", "/orgs/%61cme/x", &h);
    assert_eq!(organization_id(&auth).as_deref(), Some("acme"));
    // A value with URL syntax reaches the handshake URL encoded.
    assert_eq!(
        c.organization_in_url("/orgs/a&b=c/x"),
        Some(OrganizationTarget::Slug("a&b=c".into()))
    );
    let auth = run(&c, "GET", "/orgs/a&b=c/x", &h);
    assert_eq!(organization_id(&auth).as_deref(), Some("a&b=c"));
    assert!(
        query_of(&auth).iter().all(|(k, _)| k != "b"),
        "no parameter smuggled"
    );
}

/// Patterns that cannot sync are refused when the `Clerk` is built.
#[test]
fn organization_patterns_must_name_an_id_or_a_slug() {
    let issuer = TestIssuer::new();
    let build = |orgs: &[&str], personal: &[&str]| {
        Clerk::new(
            issuer
                .config()
                .organization_sync(orgs.to_vec(), personal.to_vec())
                .build()
                .unwrap(),
        )
    };
    assert!(build(&["/orgs/:slug"], &[]).is_ok());
    assert!(build(&[], &["/me"]).is_ok());
    for (orgs, personal) in [
        (&["/orgs/(.*)"][..], &[][..]),
        (&["/orgs/:name"], &[]),
        (&["orgs/:slug"], &[]),
        (&["/orgs/:slug/:slug"], &[]),
        (&[], &["/me("]),
    ] {
        let err = build(orgs, personal).unwrap_err();
        assert!(
            matches!(err, crate::ConfigError::OrganizationSync(_)),
            "{orgs:?} {personal:?}: {err}"
        );
    }
}
