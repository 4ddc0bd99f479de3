//! Properties that random input cannot reach by luck:
//! * re-encoding a verified token's claims (other key order, whitespace,
//!   the same JSON written again) never changes any `has()` answer;
//! * the route matcher answers the same for a path and its percent-encoded
//!   equivalents (an unreserved character written as `%XX`, either case).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use clerk_core::authorize::Preset;
use clerk_core::testing::TestIssuer;
use clerk_core::{Clerk, Requirement, RouteMatcher};
use http::Method;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const PERMISSIONS: [&str; 4] = [
    "org:billing:manage",
    "org:reports:read",
    "org:sys_memberships:manage",
    "org:x:y",
];
const PLANS: [&str; 4] = ["u:free", "o:pro", "u:pro", "o:enterprise"];
const FEATURES: [&str; 3] = ["u:export", "o:export", "o:seats"];
const ROLES: [&str; 4] = ["admin", "member", "billing", "custom_role"];

fn requirements() -> Vec<Requirement> {
    let mut all = vec![
        Requirement::signed_in(),
        Requirement::role("org:admin"),
        Requirement::role("admin"),
        Requirement::role("org:billing"),
        Requirement::role("org:custom_role"),
        Requirement::plan("pro"),
        Requirement::plan("u:pro"),
        Requirement::plan("o:pro"),
        Requirement::plan("free"),
        Requirement::feature("export"),
        Requirement::feature("o:seats"),
        Requirement::mfa(),
        Requirement::reverification(Preset::Strict),
        Requirement::reverification(Preset::Moderate),
        Requirement::reverification(Preset::Lax),
        Requirement::reverification(Preset::StrictMfa),
        Requirement::scope("read"),
    ];
    all.extend(PERMISSIONS.iter().map(|p| Requirement::permission(*p)));
    all.push(Requirement::role("org:admin").and(Requirement::plan("o:pro")));
    all.push(Requirement::permission("org:x:y").or(Requirement::feature("u:export").not()));
    all
}

/// Writes `payload` again with its members in reverse order, pretty or
/// compact: the same claims, other bytes.
fn rewrite(payload: &Map<String, Value>, pretty: bool) -> Vec<u8> {
    let members: Vec<String> = payload
        .iter()
        .rev()
        .map(|(k, v)| {
            let v = if pretty {
                serde_json::to_string_pretty(v).unwrap()
            } else {
                v.to_string()
            };
            format!("{}:{}", Value::from(k.as_str()), v)
        })
        .collect();
    let sep = if pretty { ",\n  " } else { "," };
    format!("{{{}}}", members.join(sep)).into_bytes()
}

fn subset<const N: usize>(items: [&'static str; N]) -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(items.to_vec(), 0..=N)
}

fn answers(clerk: &Clerk, rt: &tokio::runtime::Runtime, token: &str) -> Vec<bool> {
    let session = rt.block_on(clerk.verify(token)).expect("verifies");
    requirements()
        .iter()
        .map(|r| r.is_met_by(&session))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn re_encoding_claims_never_changes_has(
        v1 in any::<bool>(),
        org in proptest::option::of(proptest::sample::select(ROLES.to_vec())),
        permissions in subset(PERMISSIONS),
        plans in subset(PLANS),
        features in subset(FEATURES),
        fva in proptest::option::of((-1_i64..300, -1_i64..300)),
        pretty in any::<bool>(),
    ) {
        let issuer = TestIssuer::new();
        let clerk = Clerk::new(issuer.config().build().unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut builder = issuer.token().user("user_prop");
        if v1 {
            builder = builder.v1();
        }
        if let Some(role) = org {
            builder = builder.org("org_prop", "prop", role).permissions(permissions.iter().copied());
        }
        for p in &plans {
            builder = builder.plan(p);
        }
        for f in &features {
            builder = builder.feature(f);
        }
        if let Some((first, second)) = fva {
            builder = builder.factor_age(first, second);
        }
        let token = builder.build();
        let first = answers(&clerk, &rt, &token);

        // The verified claims, written again and signed again.
        let session = rt.block_on(clerk.verify(&token)).unwrap();
        let header = json!({"alg": "RS256", "kid": issuer.kid(), "typ": "JWT"}).to_string();
        let again = issuer.sign_bytes("RS256", header.as_bytes(), &rewrite(session.raw(), pretty));
        prop_assert_ne!(&again, &token);
        prop_assert_eq!(&answers(&clerk, &rt, &again), &first);
        // And the claims normalised without a token at all.
        let direct = clerk_core::Session::from_payload(session.raw().clone()).unwrap();
        let direct: Vec<bool> = requirements().iter().map(|r| r.is_met_by(&direct)).collect();
        prop_assert_eq!(direct, first);
    }
}

const PATTERNS: [&str; 5] = [
    "/admin(.*)",
    "/api/:id",
    "/files/:rest*",
    "/dashboard",
    "/org/:slug/settings",
];

/// Unreserved characters only: each has one meaning, written plain or as
/// `%XX`.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "admin",
            "Admin",
            "api",
            "files",
            "dashboard",
            "org",
            "settings",
            "x",
            ".",
            ".."
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9._~-]{0,6}",
    ]
}

fn encode(path: &str, which: &[bool], lower: bool) -> String {
    let mut out = String::new();
    for (i, c) in path.chars().enumerate() {
        if c != '/' && which.get(i).copied().unwrap_or(false) {
            let hex = format!("%{:02X}", c as u32);
            out.push_str(&if lower { hex.to_lowercase() } else { hex });
        } else {
            out.push(c);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn percent_encoded_equivalents_match_alike(
        segments in proptest::collection::vec(segment(), 1..5),
        which in proptest::collection::vec(any::<bool>(), 64),
        lower in any::<bool>(),
        trailing in any::<bool>(),
    ) {
        let matcher = RouteMatcher::new(PATTERNS).unwrap();
        let mut path = format!("/{}", segments.join("/"));
        if trailing {
            path.push('/');
        }
        let encoded = encode(&path, &which, lower);
        for method in [Method::GET, Method::POST, Method::HEAD] {
            prop_assert_eq!(
                matcher.matches(&method, path.as_str()),
                matcher.matches(&method, encoded.as_str()),
                "{} vs {}", path, encoded
            );
        }
    }
}
