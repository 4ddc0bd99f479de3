use super::*;
use crate::error::ConfigError;
use crate::testing::TestIssuer;
use std::collections::HashMap;

static PK: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::testing::publishable_key_for("clerk.example.com", true));

fn env(vars: &[(&str, &str)]) -> Result<ClerkConfig, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ClerkConfigBuilder::from_env_with(|k| map.get(k).cloned())?.build()
}

#[test]
fn no_key_source_is_an_error() {
    assert_eq!(env(&[]).unwrap_err(), ConfigError::NoKeySource);
    assert_eq!(
        env(&[("CLERK_AUTHORIZED_PARTIES", "https://a.example")]).unwrap_err(),
        ConfigError::NoKeySource
    );
    assert_eq!(
        env(&[("CLERK_JWT_KEY", "  ")]).unwrap_err(),
        ConfigError::NoKeySource
    );
}

#[test]
fn env_picks_pem_first_and_reads_parties() {
    let issuer = TestIssuer::new();
    let pem = issuer.public_key_pem();
    let c = env(&[
        ("CLERK_JWT_KEY", &pem),
        ("CLERK_SECRET_KEY", "sk_test_your_clerk_key_here"),
        ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
        (
            "CLERK_AUTHORIZED_PARTIES",
            " https://a.example ,https://b.example,, ",
        ),
        ("CLERK_API_URL", "https://api.example.com/"),
    ])
    .unwrap();
    assert!(matches!(c.key_source(), KeySourceConfig::Local(_)));
    assert_eq!(
        c.authorized_parties(),
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(c.issuer(), Some("https://clerk.example.com"));
    assert_eq!(c.api_url(), "https://api.example.com");
    assert!(!format!("{c:?}").contains("your_clerk_key"));
}

#[test]
fn env_falls_back_to_remote_sources() {
    let c = env(&[("CLERK_SECRET_KEY", "sk_test_your_clerk_key_here")]).unwrap();
    assert!(matches!(c.key_source(), KeySourceConfig::BackendApi));
    assert_eq!(c.api_url(), DEFAULT_API_URL);
    let c = env(&[("CLERK_PUBLISHABLE_KEY", PK.as_str())]).unwrap();
    assert!(matches!(c.key_source(), KeySourceConfig::FrontendApi));
}

#[test]
fn invalid_values_are_clear_errors() {
    assert!(matches!(
        env(&[("CLERK_JWT_KEY", "not a key")]),
        Err(ConfigError::InvalidJwtKey(_))
    ));
    assert!(matches!(
        env(&[("CLERK_SECRET_KEY", "pk_test_oops")]),
        Err(ConfigError::InvalidSecretKey(_))
    ));
    assert!(matches!(
        env(&[("CLERK_PUBLISHABLE_KEY", "pk_test_bad")]),
        Err(ConfigError::InvalidPublishableKey(_))
    ));
    assert!(matches!(
        env(&[
            ("CLERK_SECRET_KEY", "sk_test_your_clerk_key_here"),
            ("CLERK_API_URL", "ftp://x")
        ]),
        Err(ConfigError::InvalidUrl("CLERK_API_URL"))
    ));
    assert!(matches!(
        ClerkConfig::builder().jwks_json(r#"{"keys":[]}"#).build(),
        Err(ConfigError::InvalidJwks(_))
    ));
    assert!(matches!(
        ClerkConfig::builder().jwks_json("[]").build(),
        Err(ConfigError::InvalidJwks(_))
    ));
    let sk = ("CLERK_SECRET_KEY", "sk_test_your_clerk_key_here");
    assert!(matches!(
        env(&[sk, ("CLERK_TRUSTED_PROXIES", "10.0.0.0/8, lb.internal")]),
        Err(ConfigError::InvalidEnv("CLERK_TRUSTED_PROXIES"))
    ));
    let c = env(&[sk, ("CLERK_TRUSTED_PROXIES", "10.0.0.0/8, ::1")]).unwrap();
    assert_eq!(c.trusted_proxies.len(), 2);
}

#[test]
fn backend_budget_stale_window_and_machine_id_from_env() {
    let c = env(&[
        ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
        ("CLERK_API_BUDGET", "125"),
        ("CLERK_API_MAX_PAUSE_SECS", "30"),
        ("CLERK_USER_STALE_SECS", "0"),
        ("CLERK_MACHINE_ID", " mch_1 "),
    ])
    .unwrap();
    assert_eq!(
        (c.gate.budget().calls, c.gate.budget().max_pause.as_secs()),
        (125, 30)
    );
    assert_eq!(c.user_stale_window, Duration::ZERO);
    assert_eq!(c.machine_id.as_deref(), Some("mch_1"));
    let d = env(&[("CLERK_PUBLISHABLE_KEY", PK.as_str())]).unwrap();
    assert_eq!(
        d.gate.budget(),
        crate::api::budget::BackendBudget::default()
    );
    assert_eq!(d.user_stale_window, Duration::from_secs(600));
    for (name, bad) in [
        ("CLERK_API_BUDGET", "0"),
        ("CLERK_API_BUDGET", "1"),
        ("CLERK_API_BUDGET", "-5"),
        ("CLERK_API_BUDGET", "lots"),
        ("CLERK_API_MAX_PAUSE_SECS", "1.5"),
        ("CLERK_USER_STALE_SECS", "-1"),
    ] {
        assert_eq!(
            env(&[("CLERK_PUBLISHABLE_KEY", PK.as_str()), (name, bad)]).unwrap_err(),
            ConfigError::InvalidEnv(name),
            "{name}={bad}"
        );
    }
}

#[test]
fn jwks_timings_from_env() {
    let c = env(&[
        ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
        ("CLERK_JWKS_TTL_SECS", "60"),
        ("CLERK_JWKS_COOLDOWN_SECS", "0"),
        ("CLERK_JWKS_STALE_SECS", " 120 "),
    ])
    .unwrap();
    let p = c.refresh_policy();
    assert_eq!((p.ttl, p.cooldown, p.stale_window), (60, 0, 120));
    assert_eq!(
        c.frontend_api_url.as_deref(),
        Some("https://clerk.example.com")
    );
    let d = KeyRefresh::default();
    assert_eq!((d.ttl, d.cooldown, d.stale_window), (3600, 300, 86_400));
    for bad in ["-1", "1.5", "soon"] {
        assert_eq!(
            env(&[
                ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
                ("CLERK_JWKS_TTL_SECS", bad),
            ])
            .unwrap_err(),
            ConfigError::InvalidEnv("CLERK_JWKS_TTL_SECS")
        );
    }
}

#[test]
fn explicit_issuer_wins_over_publishable_key() {
    let issuer = TestIssuer::new();
    let c = ClerkConfig::builder()
        .jwt_key(issuer.public_key_pem())
        .publishable_key(PK.as_str())
        .issuer("https://auth.example.com/")
        .build()
        .unwrap();
    assert_eq!(c.issuer(), Some("https://auth.example.com"));
}

#[test]
fn plain_http_api_urls_only_for_loopback() {
    let build = |url: &str| {
        ClerkConfig::builder()
            .secret_key("sk_test_your_clerk_key_here")
            .api_url(url)
            .build()
            .map(|c| c.api_url().to_owned())
    };
    for ok in [
        "https://api.clerk.com",
        "http://127.0.0.1:8080",
        "http://127.0.0.1",
        "http://localhost:3000/",
        "http://LOCALHOST",
        "http://[::1]:9000",
        "http://127.1.2.3:1/base",
    ] {
        assert!(build(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://api.clerk.com",
        "http://10.0.0.1:8080",
        "http://127.0.0.1@evil.example",
        "http://localhost.evil.example",
        "http://[::2]:80",
        "http://0.0.0.0:80",
        "http://localhost:80@evil.example",
        "http://[::1]@evil.example",
        "http://[::1]:80@evil.example",
        "http://localhost:x@evil.example",
        "http://localhost:80:81",
        "http://[::1]x",
        "http://localhost.",
    ] {
        assert_eq!(
            build(bad),
            Err(ConfigError::InsecureUrl("CLERK_API_URL")),
            "{bad}"
        );
    }
    let fapi = ClerkConfig::builder()
        .jwt_key(TestIssuer::new().public_key_pem())
        .frontend_api_url("http://clerk.example.com")
        .build();
    assert_eq!(
        fapi.map(|_| ()),
        Err(ConfigError::InsecureUrl("frontend API URL"))
    );
}

#[cfg(feature = "redis")]
#[test]
fn the_fleet_budget_from_env() {
    let c = env(&[
        ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
        ("CLERK_REDIS_URL", " redis://127.0.0.1:6379/0 "),
        ("CLERK_FLEET_CALLS", "900"),
        ("CLERK_FLEET_REPLICAS", "30"),
    ])
    .unwrap();
    let fleet = format!("{:?}", c.gate.fleet().unwrap());
    assert!(
        fleet.contains("calls: 900") && fleet.contains("local_share: 30"),
        "{fleet}"
    );
    assert!(
        env(&[("CLERK_PUBLISHABLE_KEY", PK.as_str())])
            .unwrap()
            .gate
            .fleet()
            .is_none()
    );
    for (name, bad) in [
        ("CLERK_REDIS_URL", "http://not-redis"),
        ("CLERK_FLEET_CALLS", "1"),
        ("CLERK_FLEET_REPLICAS", "x"),
    ] {
        let mut vars = vec![
            ("CLERK_PUBLISHABLE_KEY", PK.as_str()),
            ("CLERK_REDIS_URL", "redis://127.0.0.1:6379"),
        ];
        vars.retain(|(n, _)| *n != name);
        vars.push((name, bad));
        assert!(env(&vars).is_err(), "{name}={bad}");
    }
}
