//! Dev mode cannot leak: it refuses production-looking environments and
//! listens on loopback only, whatever `HOST` says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;

use clerk_examples::app::{check_dev_mode_allowed, listen_addr};

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn dev_mode_refuses_production_looking_environments() {
    let live_secret = format!("sk_{}_abc", "live");
    let live_publishable = format!("pk_{}_abc", "live");
    for vars in [
        vec![("CLERK_SECRET", live_secret.as_str())],
        vec![("CLERK_MACHINE_SECRET_KEY", live_secret.as_str())],
        vec![("CLERK_PUBLISHABLE", live_publishable.as_str())],
        vec![("CLERK_ENV", "production")],
        vec![("CLERK_ENV", " Production ")],
        vec![(
            "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY",
            live_publishable.as_str(),
        )],
        vec![("vite_clerk_key", live_secret.as_str())],
        vec![("NODE_ENV", "production")],
        vec![("APP_ENV", "prod")],
        vec![("ENVIRONMENT", "PRODUCTION")],
    ] {
        let err = check_dev_mode_allowed(vars.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains(vars[0].0), "{err}");
        assert!(!err.contains("_abc"), "never the value: {err}");
    }
    for vars in [
        vec![],
        vec![("CLERK_ENV", "development")],
        vec![("CLERK_SIGN_IN_URL", "/sign-in")],
        vec![("OTHER_SECRET", live_secret.as_str())],
        vec![("NODE_ENV", "development")],
        vec![("PRODUCTION_NOTES", "production")],
    ] {
        assert!(check_dev_mode_allowed(vars.clone()).is_ok(), "{vars:?}");
    }
}

#[tokio::test]
async fn dev_mode_binds_loopback_whatever_host_says() {
    let env = lookup(&[("HOST", "0.0.0.0"), ("PORT", "0")]);
    let addr = listen_addr(true, &env).unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let bound = listener.local_addr().unwrap();
    assert!(bound.ip().is_loopback(), "{bound}");
    assert_eq!(
        listen_addr(true, &lookup(&[])).unwrap().to_string(),
        "127.0.0.1:3000"
    );
    // With real keys, HOST decides (default all interfaces).
    assert_eq!(
        listen_addr(false, &lookup(&[])).unwrap().to_string(),
        "0.0.0.0:3000"
    );
    assert_eq!(
        listen_addr(false, &lookup(&[("HOST", "::1"), ("PORT", "8080")]))
            .unwrap()
            .to_string(),
        "[::1]:8080"
    );
    assert!(listen_addr(false, &lookup(&[("HOST", "not an ip")])).is_err());
    assert!(listen_addr(true, &lookup(&[("PORT", "99999")])).is_err());
}
