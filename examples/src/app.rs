//! The route table, key handling and dev mode shared by the example apps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use clerk_core::machine::{AcceptsToken, TokenType};
use clerk_core::routes::RouteMatcher;
use clerk_core::testing::{FakeBackendApi, TestIssuer};
use clerk_core::webhook::{WebhookEvent, WebhookSigner, WebhookVerifier};
use clerk_core::{Clerk, ClerkConfig, ConfigError, Preset, Protect, Requirement};
use serde_json::{Value, json};

/// A guarded API route: method, path, and what it requires.
#[derive(Debug, Clone)]
pub struct Guard {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The route path.
    pub path: &'static str,
    /// What a session must satisfy.
    pub requirement: Requirement,
}

/// The guarded API routes of both example apps.
pub fn guards() -> Vec<Guard> {
    vec![
        Guard {
            method: "GET",
            path: "/api/admin",
            requirement: Requirement::role("org:admin"),
        },
        Guard {
            method: "GET",
            path: "/api/reports",
            requirement: Requirement::permission("org:reports:read"),
        },
        Guard {
            method: "GET",
            path: "/api/pro",
            requirement: Requirement::plan("pro"),
        },
        Guard {
            method: "GET",
            path: "/api/export",
            requirement: Requirement::feature("export"),
        },
        Guard {
            method: "GET",
            path: "/api/mfa",
            requirement: Requirement::mfa(),
        },
        Guard {
            method: "POST",
            path: "/api/settings/danger",
            requirement: Requirement::reverification(Preset::Strict),
        },
    ]
}

/// The page area protected by a route matcher: signed-out page requests
/// are redirected to the sign-in URL, API requests get 401.
pub const DASHBOARD_PATTERN: &str = "/dashboard(.*)";

/// A dev-mode identity with a ready-made token.
#[derive(Debug, Clone)]
pub struct Persona {
    /// Short name, e.g. `org-admin`.
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// A session token (valid 24 hours).
    pub token: String,
}

/// The throwaway issuer, personas and webhook secret of dev mode.
#[derive(Debug)]
pub struct DevMode {
    /// The throwaway signing key.
    pub issuer: TestIssuer,
    /// Ready-made identities.
    pub personas: Vec<Persona>,
    /// A throwaway webhook signing secret.
    pub webhook_secret: String,
    /// An API key the dev Backend API knows.
    pub api_key: String,
    /// A JWT machine-to-machine token for machine `mch_dev`.
    pub machine_token: String,
}

/// The placeholder secret key the dev Backend API expects.
pub const DEV_SECRET_KEY: &str = "sk_test_your_clerk_key_here";

impl DevMode {
    /// A fresh throwaway key and its personas.
    pub fn new() -> Self {
        let issuer = TestIssuer::with_kid("ins_dev_throwaway");
        let day = 24 * 3600;
        let t = |b: clerk_core::testing::TokenBuilder<'_>| b.ttl(day).build();
        let personas = vec![
            Persona {
                name: "member",
                description: "organization member, no MFA",
                token: t(issuer
                    .token()
                    .user("user_member")
                    .org("org_acme", "acme", "member")),
            },
            Persona {
                name: "org-admin",
                description: "organization admin who can read reports",
                token: t(issuer
                    .token()
                    .user("user_admin")
                    .org("org_acme", "acme", "admin")
                    .permissions(["org:reports:read"])
                    .factor_age(5, -1)),
            },
            Persona {
                name: "pro",
                description: "pro plan with the export feature",
                token: t(issuer
                    .token()
                    .user("user_pro")
                    .plan("u:pro")
                    .feature("u:export")),
            },
            Persona {
                name: "stale-mfa",
                description: "MFA verified 2 hours ago (fails strict reverification)",
                token: t(issuer.token().user("user_stale").factor_age(120, 120)),
            },
            Persona {
                name: "fresh-mfa",
                description: "MFA verified 2 minutes ago",
                token: t(issuer.token().user("user_mfa").factor_age(2, 2)),
            },
        ];
        let machine_token = issuer
            .m2m_token("mch_dev", &["reports:read"])
            .ttl(day)
            .build();
        Self {
            issuer,
            personas,
            webhook_secret: WebhookSigner::random_secret(),
            api_key: "ak_dev_example_key_0123456789".to_owned(),
            machine_token,
        }
    }

    /// Starts the dev Backend API (on `127.0.0.1:0`): it verifies the dev
    /// API key.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start_backend(&self) -> std::io::Result<FakeBackendApi> {
        let backend = FakeBackendApi::start().await?;
        backend.add_token(
            &self.api_key,
            json!({"object": "api_key", "id": "ak_dev_1", "subject": "user_admin", "name": "dev key",
                "scopes": ["reports:read"], "claims": {}, "revoked": false, "expired": false, "expiration": null}),
        );
        for (id, first, email, mfa) in [
            ("user_member", "Mia", "member@example.com", false),
            ("user_admin", "Ada", "admin@example.com", false),
            ("user_pro", "Pat", "pro@example.com", false),
            ("user_stale", "Sam", "stale@example.com", true),
            ("user_mfa", "Max", "mfa@example.com", true),
        ] {
            backend.add_user(json!({
                "id": id, "first_name": first, "last_name": "Example",
                "email_addresses": [{"id": format!("idn_{id}"), "email_address": email}],
                "primary_email_address_id": format!("idn_{id}"),
                "two_factor_enabled": mfa, "totp_enabled": mfa, "backup_code_enabled": false,
                "public_metadata": {}, "private_metadata": {}, "unsafe_metadata": {}
            }));
        }
        Ok(backend)
    }

    /// A signer for the throwaway webhook secret.
    ///
    /// # Panics
    /// Never: the secret is generated valid.
    #[allow(clippy::expect_used)]
    pub fn webhook_signer(&self) -> WebhookSigner {
        WebhookSigner::new(&self.webhook_secret).expect("generated secret")
    }

    /// The config that verifies the personas' tokens.
    pub fn config(&self) -> clerk_core::ClerkConfigBuilder {
        self.issuer.config()
    }
}

impl Default for DevMode {
    fn default() -> Self {
        Self::new()
    }
}

/// Webhook handling: the verifier, the user cache to invalidate, and the
/// last events received.
#[derive(Debug, Clone)]
pub struct WebhookState {
    /// Verifies deliveries.
    pub verifier: WebhookVerifier,
    users: Arc<clerk_core::users::UserDirectory>,
    recent: Arc<Mutex<VecDeque<Value>>>,
}

/// How many received events `GET /webhooks/recent` keeps.
pub const RECENT_EVENTS: usize = 100;

impl WebhookState {
    /// Handling with `verifier`, invalidating `users` on user and
    /// organization changes, and an empty event log.
    pub fn new(verifier: WebhookVerifier, users: Arc<clerk_core::users::UserDirectory>) -> Self {
        Self {
            verifier,
            users,
            recent: Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_EVENTS))),
        }
    }

    /// Handles a verified event: forgets cached users and organizations it
    /// changed, logs it and remembers it; returns the response body.
    pub async fn handle(&self, event: &WebhookEvent) -> Value {
        match (event.kind.as_str(), event.object_id()) {
            ("user.updated" | "user.deleted", Some(id)) => self.users.invalidate_user(id).await,
            ("organization.updated" | "organization.deleted", Some(id)) => {
                self.users.invalidate_organization(id).await;
            }
            _ => {}
        }
        self.record(event)
    }

    /// Logs and remembers a verified event; returns the response body.
    pub fn record(&self, event: &WebhookEvent) -> Value {
        tracing::info!(kind = %event.kind, delivery_id = %event.delivery_id, object_id = ?event.object_id(), "webhook received");
        let summary = json!({
            "type": event.kind,
            "delivery_id": event.delivery_id,
            "object_id": event.object_id(),
        });
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == RECENT_EVENTS {
            recent.pop_back();
        }
        recent.push_front(summary.clone());
        json!({"received": true, "event": summary})
    }

    /// The last events, newest first.
    pub fn recent(&self) -> Value {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        Value::Array(recent.iter().cloned().collect())
    }
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Authenticates requests.
    pub clerk: Clerk,
    /// Present in dev mode only.
    pub dev: Option<Arc<DevMode>>,
    /// Where signed-out page requests are sent (`CLERK_SIGN_IN_URL`).
    pub sign_in_url: String,
    /// Present when a webhook signing secret is configured (always in dev
    /// mode).
    pub webhooks: Option<WebhookState>,
    /// The dev Backend API, in dev mode.
    pub backend: Option<FakeBackendApi>,
}

/// The token kinds the apps' authentication layer verifies: sessions, and
/// the machine tokens `/api/machine` accepts.
pub fn accepted_tokens() -> AcceptsToken {
    AcceptsToken::only([
        TokenType::SessionToken,
        TokenType::ApiKey,
        TokenType::M2mToken,
    ])
}

/// True when the environment names any Clerk key.
pub fn has_clerk_keys(lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    ["CLERK_JWT_KEY", "CLERK_SECRET_KEY", "CLERK_PUBLISHABLE_KEY"]
        .iter()
        .any(|k| lookup(k).is_some_and(|v| !v.trim().is_empty()))
}

impl AppState {
    /// From the environment: real keys when any `CLERK_*` key is set
    /// (exactly as `ClerkConfig::from_env()`), else dev mode with a local
    /// Backend API.
    ///
    /// # Errors
    /// When the configured keys are invalid, or the dev Backend API cannot
    /// start.
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error>> {
        let lookup = |k: &str| std::env::var(k).ok();
        let sign_in_url = lookup("CLERK_SIGN_IN_URL").unwrap_or_else(|| "/sign-in".to_owned());
        if has_clerk_keys(&lookup) {
            let clerk = Clerk::new(ClerkConfig::from_env()?)?.accepting(accepted_tokens());
            let webhooks = WebhookVerifier::from_env_with(lookup)?
                .map(|verifier| WebhookState::new(verifier, clerk.users().clone()));
            return Ok(Self {
                clerk,
                dev: None,
                sign_in_url,
                webhooks,
                backend: None,
            });
        }
        check_dev_mode_allowed(env_vars())?;
        Self::start_dev(DevMode::new(), sign_in_url).await
    }

    /// Dev mode with its local Backend API started.
    ///
    /// # Errors
    /// When the dev Backend API cannot start.
    pub async fn start_dev(
        dev: DevMode,
        sign_in_url: String,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let backend = dev.start_backend().await?;
        Ok(Self::dev(dev, sign_in_url, Some(backend))?)
    }

    /// Dev mode with the given throwaway issuer.
    ///
    /// # Errors
    /// Only if the throwaway config is invalid.
    pub fn dev(
        dev: DevMode,
        sign_in_url: String,
        backend: Option<FakeBackendApi>,
    ) -> Result<Self, ConfigError> {
        let mut config = dev.config();
        if let Some(b) = &backend {
            config = config.secret_key(DEV_SECRET_KEY).api_url(b.base_url());
        }
        let clerk = Clerk::new(config.build()?)?.accepting(accepted_tokens());
        let webhooks = Some(WebhookState::new(
            WebhookVerifier::new(&dev.webhook_secret)?,
            clerk.users().clone(),
        ));
        Ok(Self {
            clerk,
            dev: Some(Arc::new(dev)),
            sign_in_url,
            webhooks,
            backend,
        })
    }

    /// `/api/machine`: API keys and M2M tokens only.
    pub fn machine_protect(&self) -> Protect {
        Protect::signed_in()
            .accepts_token(AcceptsToken::only([TokenType::ApiKey, TokenType::M2mToken]))
    }

    /// The dashboard protection: route matcher, signed in, page redirect.
    ///
    /// # Panics
    /// Never: the pattern is a constant checked by the tests.
    #[allow(clippy::expect_used)]
    pub fn dashboard_protect(&self) -> Protect {
        Protect::signed_in()
            .routes(RouteMatcher::new([DASHBOARD_PATTERN]).expect("constant pattern"))
            .redirect_pages_to(&self.sign_in_url)
    }

    /// `GET /health`.
    pub fn health(&self) -> Value {
        json!({"status": "ok", "keys_ready": self.clerk.verifier().is_ready()})
    }

    /// Prints the loud dev-mode banner with ready-to-paste commands.
    pub fn print_dev_banner(&self, port: u16) {
        let Some(dev) = &self.dev else { return };
        let line = "=".repeat(78);
        println!("{line}");
        println!("  DEV MODE: no CLERK_* key in the environment.");
        println!("  Tokens are signed by a THROWAWAY key made at start-up. Not for production.");
        println!("  Set CLERK_SECRET_KEY (or CLERK_JWT_KEY) to verify real Clerk sessions.");
        println!("  Listening on 127.0.0.1 only: do not put a proxy in front of dev mode.");
        println!("{line}");
        println!("Open http://localhost:{port}/ to sign in as a persona, or paste:");
        for p in &dev.personas {
            println!("\n# {} ({})", p.name, p.description);
            println!(
                "curl -H 'Authorization: Bearer {}' http://localhost:{port}/api/me",
                p.token
            );
        }
        let body = json!({"type": "user.created", "object": "event", "data": {
            "id": "user_dev_1", "first_name": "Dev",
            "email_addresses": [{"id": "idn_1", "email_address": "dev@example.com"}],
            "primary_email_address_id": "idn_1"}})
        .to_string();
        let now = clerk_core::clock::Clock::now_unix(&clerk_core::clock::SystemClock);
        let mut signed = String::new();
        for (name, value) in dev
            .webhook_signer()
            .headers("msg_dev_1", now, body.as_bytes())
        {
            signed.push_str(&format!("-H '{name}: {value}' "));
        }
        println!(
            "\n# a signed user.created webhook (valid for 5 minutes), then GET /webhooks/recent"
        );
        println!(
            "curl -X POST {signed}-H 'content-type: application/json' -d '{body}' http://localhost:{port}/webhooks/clerk"
        );
        println!("\n{line}");
    }

    /// `GET /`: a small page; in dev mode, sign-in buttons per persona.
    pub fn index_html(&self) -> String {
        let mut buttons = String::new();
        if let Some(dev) = &self.dev {
            buttons.push_str("<h2>Dev mode: sign in as</h2>\n");
            for p in &dev.personas {
                buttons.push_str(&format!(
                    "<p><button onclick=\"document.cookie='__session={}; path=/'; location.reload()\">{}</button> {}</p>\n",
                    p.token, p.name, p.description
                ));
            }
            buttons.push_str(
                "<p><button onclick=\"document.cookie='__session=; path=/; max-age=0'; location.reload()\">sign out</button></p>\n",
            );
        }
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>clerk-rs example</title></head>\n<body>\n<h1>clerk-rs example</h1>\n<p>Try <a href=\"/api/me\">/api/me</a>, <a href=\"/api/public\">/api/public</a>, <a href=\"/dashboard\">/dashboard</a>.</p>\n{buttons}</body></html>\n"
        )
    }
}

/// Why dev mode refuses to start: the environment looks like production.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to start DEV MODE: {0}. Dev mode hands out org-admin tokens; set the \
     Clerk keys this deployment should use (CLERK_SECRET_KEY / CLERK_JWT_KEY)"
)]
pub struct DevModeRefused(String);

/// Dev mode (no Clerk key set) starts only where nothing says production:
/// no `sk_live_` / `pk_live_` in any variable whose name mentions Clerk
/// (`CLERK_SECRET`, `NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY`, ...), and none of
/// `CLERK_ENV`, `APP_ENV`, `RUST_ENV`, `NODE_ENV` or `ENVIRONMENT` saying
/// `production` / `prod`.
///
/// # Errors
/// [`DevModeRefused`] naming the variable (never its value).
pub fn check_dev_mode_allowed<I, K, V>(vars: I) -> Result<(), DevModeRefused>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    const ENV_MARKERS: [&str; 5] = [
        "CLERK_ENV",
        "APP_ENV",
        "RUST_ENV",
        "NODE_ENV",
        "ENVIRONMENT",
    ];
    for (name, value) in vars {
        let (name, value) = (name.as_ref(), value.as_ref());
        if name.to_ascii_uppercase().contains("CLERK")
            && (value.contains("sk_live_") || value.contains("pk_live_"))
        {
            return Err(DevModeRefused(format!("{name} holds a live Clerk key")));
        }
        if ENV_MARKERS.iter().any(|m| name.eq_ignore_ascii_case(m))
            && matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "production" | "prod"
            )
        {
            return Err(DevModeRefused(format!("{name} says production")));
        }
    }
    Ok(())
}

/// The process environment as text (a name or value that is not UTF-8 is
/// read lossily rather than crashing the start-up check).
pub fn env_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    })
}

/// Where an example app listens: dev mode on `127.0.0.1` only (its tokens
/// must not leave the machine, whatever `HOST` says); with real keys on
/// `HOST` (default `0.0.0.0`). `PORT` defaults to 3000.
///
/// # Errors
/// When `HOST` or `PORT` is not an address or port.
pub fn listen_addr(
    dev_mode: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<std::net::SocketAddr, Box<dyn std::error::Error>> {
    let port: u16 = match lookup("PORT") {
        Some(p) => p.trim().parse()?,
        None => 3000,
    };
    let host: std::net::IpAddr = if dev_mode {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        match lookup("HOST") {
            Some(h) => h.trim().parse()?,
            None => std::net::Ipv4Addr::UNSPECIFIED.into(),
        }
    };
    Ok((host, port).into())
}

/// What both example binaries do first: logging (`RUST_LOG`, default
/// `info`), the state from the environment, where to listen
/// ([`listen_addr`]), and the dev-mode banner or a key prefetch.
///
/// # Errors
/// When the configured keys are invalid, dev mode is refused
/// ([`check_dev_mode_allowed`]) or cannot start.
pub async fn start_from_env() -> Result<(AppState, std::net::SocketAddr), Box<dyn std::error::Error>>
{
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let state = AppState::from_env().await?;
    let addr = listen_addr(state.dev.is_some(), &|k| std::env::var(k).ok())?;
    let port = addr.port();
    if state.dev.is_some() {
        tracing::warn!("DEV MODE: verifying tokens signed by a throwaway local key");
        state.print_dev_banner(port);
    } else if let Err(e) = state.clerk.verifier().prefetch().await {
        tracing::warn!(
            reason = e.reason.as_str(),
            "could not prefetch Clerk keys; will retry"
        );
    }
    tracing::info!(%addr, "listening");
    Ok((state, addr))
}

/// `GET /api/public`.
pub fn public_json(auth: &clerk_core::Auth) -> Value {
    json!({"signed_in": auth.is_signed_in(), "user_id": auth.user_id()})
}

/// `GET /api/me/profile`: name, primary email and MFA status.
pub fn profile_json(user: &clerk_core::users::User) -> Value {
    json!({
        "user_id": user.id,
        "name": user.full_name(),
        "primary_email": user.primary_email(),
        "mfa": {
            "two_factor_enabled": user.two_factor_enabled,
            "totp_enabled": user.totp_enabled,
            "backup_code_enabled": user.backup_code_enabled,
        },
    })
}

/// The body of every guarded route that lets a request through.
pub fn allowed_json(path: &str, session: &clerk_core::Session) -> Value {
    json!({"ok": true, "route": path, "user_id": session.user_id()})
}
