//! Dev mode: a throwaway key, personas with ready-made tokens, a local
//! Backend API, the banner and the sign-in page.

use clerk_core::testing::{FakeBackendApi, TestIssuer};
use clerk_core::webhook::WebhookSigner;
use serde_json::json;

use super::AppState;

/// A dev-mode identity with a ready-made token.
#[derive(Debug, Clone)]
pub struct Persona {
    /// Short name, e.g. `org-admin`.
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// A session token (valid 24 hours).
    pub token: String,
    /// The organizations they belong to, `(id, slug, role)`; the first is
    /// active in `token`. The dev Frontend API activates another when the
    /// handshake names it (organization sync by URL).
    pub organizations: Vec<(&'static str, &'static str, &'static str)>,
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
                organizations: vec![("org_acme", "acme", "member")],
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
                organizations: vec![("org_acme", "acme", "admin")],
            },
            Persona {
                name: "two-orgs",
                description: "member of globex (active) and initech: open /orgs/initech/dashboard",
                token: t(issuer
                    .token()
                    .user("user_multi")
                    .org("org_globex", "globex", "member")),
                organizations: vec![
                    ("org_globex", "globex", "member"),
                    ("org_initech", "initech", "member"),
                ],
            },
            Persona {
                name: "pro",
                description: "pro plan with the export feature",
                token: t(issuer
                    .token()
                    .user("user_pro")
                    .plan("u:pro")
                    .feature("u:export")),
                organizations: Vec::new(),
            },
            Persona {
                name: "stale-mfa",
                description: "MFA verified 2 hours ago (fails strict reverification)",
                token: t(issuer.token().user("user_stale").factor_age(120, 120)),
                organizations: Vec::new(),
            },
            Persona {
                name: "fresh-mfa",
                description: "MFA verified 2 minutes ago",
                token: t(issuer.token().user("user_mfa").factor_age(2, 2)),
                organizations: Vec::new(),
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
            ("user_multi", "Tia", "two-orgs@example.com", false),
        ] {
            backend.add_user(json!({
                "id": id, "first_name": first, "last_name": "Example",
                "email_addresses": [{"id": format!("idn_{id}"), "email_address": email}],
                "primary_email_address_id": format!("idn_{id}"),
                "two_factor_enabled": mfa, "totp_enabled": mfa, "backup_code_enabled": false,
                "public_metadata": {}, "private_metadata": {}, "unsafe_metadata": {},
                "updated_at": 1_700_000_000_000_i64
            }));
        }
        let org = |id: &str, name: &str, slug: &str| {
            json!({"object": "organization", "id": id, "name": name, "slug": slug,
                "public_metadata": {}, "updated_at": 1_700_000_000_000_i64})
        };
        let (acme, globex, initech) = (
            org("org_acme", "Acme", "acme"),
            org("org_globex", "Globex", "globex"),
            org("org_initech", "Initech", "initech"),
        );
        for o in [&acme, &globex, &initech] {
            backend.add_organization(o.clone());
        }
        for (org, user, email, role) in [
            (&acme, "user_admin", "admin@example.com", "org:admin"),
            (&acme, "user_member", "member@example.com", "org:member"),
            (&globex, "user_multi", "two-orgs@example.com", "org:member"),
            (&initech, "user_multi", "two-orgs@example.com", "org:member"),
        ] {
            let id = org["id"].as_str().unwrap_or_default();
            backend.add_membership(
                id,
                json!({"object": "organization_membership", "id": format!("orgmem_{id}_{user}"),
                    "role": role, "organization": org,
                    "public_user_data": {"user_id": user, "identifier": email},
                    "updated_at": 1_700_000_000_000_i64}),
            );
        }
        Ok(backend)
    }

    /// An OAuth access token (as Clerk's OAuth applications issue them, a
    /// JWT) for the MCP example: user `user_admin`, client
    /// `client_dev_mcp`, scopes `profile` and `email`, valid 24 hours.
    pub fn mcp_token(&self) -> String {
        self.issuer
            .oauth_token("user_admin", "client_dev_mcp", &["profile", "email"])
            .ttl(24 * 3600)
            .build()
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
    pub fn config(&self) -> clerk_core::config::ClerkConfigBuilder {
        self.issuer.config()
    }
}

impl Default for DevMode {
    fn default() -> Self {
        Self::new()
    }
}

impl AppState {
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

    /// `GET /`: a small page; in dev mode, a sign-in link to the dev
    /// Frontend API's persona page and a sign-out link.
    pub fn index_html(&self) -> String {
        let mut links = String::new();
        if self.dev.is_some() {
            links.push_str(
                "<h2>Dev mode</h2>\n<p><a class=\"button\" href=\"/sign-in\">Sign in as a persona</a> \
                 <a class=\"button\" href=\"/sign-out\">Sign out</a></p>\n",
            );
        }
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>clerk-kit example</title><style>{}</style></head>\n<body><main>\n<h1>clerk-kit example</h1>\n<p>Try <a href=\"/api/me\">/api/me</a>, <a href=\"/api/public\">/api/public</a>, <a href=\"/dashboard\">/dashboard</a>.</p>\n{links}</main></body></html>\n",
            super::routes::STYLE
        )
    }

    /// `GET /sign-in` in dev mode: where the dev Frontend API shows the
    /// personas, through the app's proxy (the query, with `redirect_url`,
    /// passed on).
    pub fn sign_in_location(&self, query: Option<&str>) -> Option<String> {
        self.frontend.as_ref()?;
        let base = super::PROXY_PATH;
        Some(match query {
            Some(q) if !q.is_empty() => format!("{base}/sign-in?{q}"),
            _ => format!("{base}/sign-in"),
        })
    }

    /// `GET /sign-out` in dev mode: the dev Frontend API's sign-out
    /// (through the app's proxy), back to this app's home page on `host`.
    pub fn sign_out_location(&self, host: Option<&str>) -> Option<String> {
        self.frontend.as_ref()?;
        let base = super::PROXY_PATH;
        let host = host.filter(|h| h.parse::<axum::http::uri::Authority>().is_ok())?;
        Some(format!(
            "{base}/v1/dev/sign-out?redirect_url=http%3A%2F%2F{}%2F",
            host.replace(':', "%3A")
        ))
    }
}
