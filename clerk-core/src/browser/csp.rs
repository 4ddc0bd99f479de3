//! A Content-Security-Policy for pages that load Clerk (`@clerk/nextjs`
//! `server/content-security-policy.ts`): Clerk's default directives, the
//! instance's Frontend API, a `strict` mode with a per-request nonce and
//! `'strict-dynamic'`, merged with the application's own directives.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;

use crate::error::ConfigError;

/// Clerk's bot protection origin (`clerkProtectionOrigin`).
const PROTECTION: &str = "https://*.protect.clerk.com";
/// The same on any port (`clerkProtectionConnectOrigin`).
const PROTECTION_ANY_PORT: &str = "https://*.protect.clerk.com:*";

/// Clerk's `DEFAULT_DIRECTIVES`, in its order.
const DEFAULTS: [(&str, &[&str]); 8] = [
    (
        "connect-src",
        &[
            "self",
            "https://clerk-telemetry.com",
            "https://*.clerk-telemetry.com",
            "https://api.stripe.com",
            "https://maps.googleapis.com",
            "https://img.clerk.com",
            "https://images.clerkstage.dev",
            PROTECTION_ANY_PORT,
        ],
    ),
    ("default-src", &["self"]),
    ("form-action", &["self"]),
    (
        "frame-src",
        &[
            "self",
            "https://challenges.cloudflare.com",
            "https://*.js.stripe.com",
            "https://js.stripe.com",
            "https://hooks.stripe.com",
            PROTECTION,
        ],
    ),
    ("img-src", &["self", "https://img.clerk.com"]),
    (
        "script-src",
        &[
            "self",
            "unsafe-inline",
            "https:",
            "http:",
            "https://*.js.stripe.com",
            "https://js.stripe.com",
            "https://maps.googleapis.com",
            PROTECTION,
        ],
    ),
    ("style-src", &["self", "unsafe-inline"]),
    ("worker-src", &["self", "blob:"]),
];

/// Clerk's CSP keywords (quoted in the header).
const KEYWORDS: [&str; 6] = [
    "none",
    "self",
    "strict-dynamic",
    "unsafe-eval",
    "unsafe-hashes",
    "unsafe-inline",
];

/// A Content-Security-Policy for pages that load Clerk, built once and
/// sent on every response by `clerk_tower::ContentSecurityPolicyLayer` or
/// `clerk_actix::ContentSecurityPolicyMiddleware`. In strict mode each
/// request gets a fresh nonce, which the layer also puts in the request's
/// `x-nonce` header (as Clerk's middleware does) for the handler to put on
/// its `<script>` tags.
///
/// ```
/// use clerk_core::browser::ContentSecurityPolicy;
///
/// let csp = ContentSecurityPolicy::new("clerk.example.com")
///     .directive("img-src", ["https://cdn.example.com"])?
///     .strict(true);
/// let (policy, nonce) = csp.for_request();
/// let nonce = nonce.unwrap();
/// let policy = policy.to_str()?;
/// assert!(policy.contains("connect-src 'self'"));
/// assert!(policy.contains(&format!("'nonce-{}'", nonce.to_str()?)));
/// assert!(policy.contains("img-src 'self' https://img.clerk.com https://cdn.example.com"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ContentSecurityPolicy {
    /// Directives in Clerk's order of insertion: name, values.
    directives: Vec<(String, Vec<String>)>,
    strict: bool,
    report_only: bool,
    report_to: Option<String>,
    /// The rendered header around the nonce's place, so a request only
    /// joins two strings; `None` when no nonce has a place (not strict, or
    /// `script-src 'none'`).
    compiled: Option<(String, String)>,
    /// The whole header when not strict.
    fixed: HeaderValue,
}

/// `'self'` for a keyword, the value as given otherwise (`formatValue`).
fn format(value: &str) -> String {
    let bare = value.trim_matches('\'');
    if KEYWORDS.contains(&bare) {
        format!("'{bare}'")
    } else {
        value.to_owned()
    }
}

/// A directive name or value that cannot break out of its place in the
/// header: visible ASCII without `;` or `,` (and no spaces in a value).
fn clean(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
}

impl ContentSecurityPolicy {
    /// Clerk's default directives with the instance's Frontend API host
    /// (`clerk.example.com`, as the publishable key names it) allowed for
    /// `connect-src`.
    pub fn new(frontend_api_host: &str) -> Self {
        let mut directives: Vec<(String, Vec<String>)> = DEFAULTS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| format(s)).collect()))
            .collect();
        let host = frontend_api_host.trim().trim_end_matches('$');
        if clean(host)
            && let Some((_, connect)) = directives.iter_mut().find(|(k, _)| k == "connect-src")
        {
            connect.push(host.to_owned());
        }
        Self {
            directives,
            strict: false,
            report_only: false,
            report_to: None,
            compiled: None,
            fixed: HeaderValue::from_static("default-src 'none'"),
        }
        .compile()
    }

    /// Renders the header once, split where a strict nonce goes.
    fn compile(mut self) -> Self {
        let marked = self.render(Some("\u{1}"));
        self.compiled = marked
            .split_once("'nonce-\u{1}'")
            .map(|(b, a)| (format!("{b}'nonce-"), format!("'{a}")));
        self.fixed = HeaderValue::from_str(&self.render(None))
            .unwrap_or(HeaderValue::from_static("default-src 'none'"));
        self
    }

    /// Clerk's `strict`: `script-src` drops `http:` / `https:` for
    /// `'strict-dynamic'` and a per-request `'nonce-…'`.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self.compile()
    }

    /// Sends `Content-Security-Policy-Report-Only` instead (Clerk's
    /// `reportOnly`).
    #[must_use]
    pub fn report_only(mut self, report_only: bool) -> Self {
        self.report_only = report_only;
        self.compile()
    }

    /// Reports violations to `url` (Clerk's `reportTo`: a
    /// `Reporting-Endpoints` header and `report-to csp-endpoint`).
    ///
    /// # Errors
    /// When `url` cannot sit in a header.
    pub fn report_to(mut self, url: &str) -> Result<Self, ConfigError> {
        if !clean(url) || url.contains('"') {
            return Err(ConfigError::InvalidUrl("content security policy report_to"));
        }
        self.report_to = Some(url.to_owned());
        Ok(self.compile())
    }

    /// Merges the application's `values` into directive `name`, as
    /// Clerk's `directives` option: added to a default directive (without
    /// repeats), a new directive set; `none` replaces everything.
    ///
    /// # Errors
    /// When the name or a value holds spaces, `;`, `,` or anything but
    /// visible ASCII (it would break the header).
    pub fn directive<I, S>(mut self, name: &str, values: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let name = name.trim().to_ascii_lowercase();
        let values: Vec<String> = values
            .into_iter()
            .map(|v| v.as_ref().trim().to_owned())
            .collect();
        if !clean(&name) || !values.iter().all(|v| clean(v)) {
            return Err(ConfigError::Unsupported(
                "a CSP directive name or value holds spaces, ';', ',' or non-ASCII",
            ));
        }
        let none = values.iter().any(|v| v.trim_matches('\'') == "none");
        let entry = match self.directives.iter_mut().find(|(k, _)| *k == name) {
            Some((_, existing)) => existing,
            None => {
                self.directives.push((name, Vec::new()));
                let last = self.directives.len() - 1;
                &mut self.directives[last].1
            }
        };
        if none {
            *entry = vec!["'none'".to_owned()];
        } else {
            for v in values.iter().map(|v| format(v)) {
                if !entry.contains(&v) {
                    entry.push(v);
                }
            }
        }
        Ok(self.compile())
    }

    /// The header's value with `nonce` (strict) in `script-src`
    /// (`formatCSPHeader`: directives sorted by name).
    fn render(&self, nonce: Option<&str>) -> String {
        let mut sorted: Vec<&(String, Vec<String>)> = self.directives.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::with_capacity(sorted.len() + 1);
        for (name, values) in sorted {
            let mut values: Vec<String> = values.clone();
            if self.strict && name == "script-src" && values != ["'none'"] {
                values.retain(|v| v != "http:" && v != "https:");
                values.push("'strict-dynamic'".to_owned());
                if let Some(n) = nonce {
                    values.push(format!("'nonce-{n}'"));
                }
            }
            out.push(format!("{name} {}", values.join(" ")));
        }
        let mut header = out.join("; ");
        if self.report_to.is_some() {
            header.push_str("; report-to csp-endpoint");
        }
        header
    }

    /// The policy for one request, and in strict mode its fresh nonce (16
    /// random bytes, base64, as Clerk's `generateNonce`).
    pub fn for_request(&self) -> (HeaderValue, Option<HeaderValue>) {
        let Some((before, after)) = self.compiled.as_ref().filter(|_| self.strict) else {
            // Not strict, or no script may run (`script-src 'none'`): no
            // nonce to hand out.
            return (self.fixed.clone(), None);
        };
        let mut bytes = [0u8; 16];
        // No OS randomness: a fixed nonce would defeat the policy, so the
        // page gets the policy without one (its scripts are refused),
        // never a guessable one.
        if aws_lc_rs::rand::fill(&mut bytes).is_err() {
            return (self.fixed.clone(), None);
        }
        let nonce = STANDARD.encode(bytes);
        // Checked names and values, a base64 nonce: always a header value.
        match (
            HeaderValue::from_str(&format!("{before}{nonce}{after}")),
            HeaderValue::from_str(&nonce),
        ) {
            (Ok(policy), Ok(nonce)) => (policy, Some(nonce)),
            _ => (self.fixed.clone(), None),
        }
    }

    /// The header that carries the policy.
    #[doc(hidden)] // adapters only
    pub fn header_name(&self) -> &'static str {
        if self.report_only {
            "content-security-policy-report-only"
        } else {
            "content-security-policy"
        }
    }

    /// `Reporting-Endpoints`, with `report_to`.
    #[doc(hidden)] // adapters only
    pub fn reporting_endpoints(&self) -> Option<HeaderValue> {
        let url = self.report_to.as_ref()?;
        HeaderValue::from_str(&format!("csp-endpoint=\"{url}\"")).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(csp: &ContentSecurityPolicy) -> String {
        csp.for_request().0.to_str().unwrap().to_owned()
    }

    /// Clerk's defaults, sorted by name, the Frontend API in `connect-src`,
    /// keywords quoted (`content-security-policy.test.ts`).
    #[test]
    fn defaults_follow_clerks() {
        let h = header(&ContentSecurityPolicy::new("clerk.example.com"));
        let names: Vec<&str> = h
            .split("; ")
            .map(|d| d.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "connect-src",
                "default-src",
                "form-action",
                "frame-src",
                "img-src",
                "script-src",
                "style-src",
                "worker-src"
            ]
        );
        assert!(h.contains("connect-src 'self' https://clerk-telemetry.com"));
        assert!(h.contains("https://*.protect.clerk.com:* clerk.example.com;"));
        assert!(h.contains("script-src 'self' 'unsafe-inline' https: http:"));
        assert!(h.contains("worker-src 'self' blob:"));
        assert!(
            ContentSecurityPolicy::new("x").for_request().1.is_none(),
            "no nonce"
        );
    }

    /// Strict with `script-src 'none'`: no script runs, so no nonce is
    /// handed out and the header is the fixed policy, never a nonce glued
    /// onto another directive.
    #[test]
    fn strict_with_no_scripts_hands_out_no_nonce() {
        let csp = ContentSecurityPolicy::new("clerk.example.com")
            .strict(true)
            .report_to("https://csp.example.com/r")
            .unwrap()
            .directive("script-src", ["none"])
            .unwrap();
        let (policy, nonce) = csp.for_request();
        assert!(nonce.is_none());
        let policy = policy.to_str().unwrap();
        assert!(policy.contains("script-src 'none';"), "{policy}");
        assert!(policy.ends_with("; report-to csp-endpoint"), "{policy}");
        assert!(policy.contains("worker-src 'self' blob:;"), "{policy}");
    }

    /// Strict: `http:` / `https:` out of `script-src`, `'strict-dynamic'`
    /// and a fresh nonce per request; the app's directives merged, `none`
    /// replacing, new directives added.
    #[test]
    fn strict_nonces_and_merged_directives() {
        let csp = ContentSecurityPolicy::new("clerk.example.com")
            .strict(true)
            .directive("img-src", ["https://cdn.example.com", "self"])
            .unwrap()
            .directive("object-src", ["none", "https://x.example"])
            .unwrap()
            .directive("frame-ancestors", ["'none'"])
            .unwrap()
            .directive("upgrade-insecure-requests", ["'self'"])
            .unwrap();
        let (a, na) = csp.for_request();
        let (b, nb) = csp.for_request();
        let (na, nb) = (na.unwrap(), nb.unwrap());
        assert_ne!(na, nb, "a fresh nonce each time");
        assert_eq!(STANDARD.decode(na.as_bytes()).unwrap().len(), 16);
        let a = a.to_str().unwrap();
        assert!(a.contains(&format!(
            "'strict-dynamic' 'nonce-{}'",
            na.to_str().unwrap()
        )));
        assert!(!b.to_str().unwrap().contains(na.to_str().unwrap()));
        let script = a.split("; ").find(|d| d.starts_with("script-src")).unwrap();
        assert!(
            !script.contains(" https: ") && !script.contains(" http: "),
            "{script}"
        );
        assert!(a.contains("img-src 'self' https://img.clerk.com https://cdn.example.com;"));
        assert!(a.contains("object-src 'none';"));
        assert!(a.contains("frame-ancestors 'none';"));
    }

    /// Nothing the application passes can break out of its directive or
    /// the header (CRLF, `;`, `,`, spaces, non-ASCII).
    #[test]
    fn hostile_values_are_refused() {
        let csp = || ContentSecurityPolicy::new("clerk.example.com");
        for v in [
            "a\r\nSet-Cookie: x",
            "a; script-src *",
            "a,b",
            "a b",
            "é",
            "",
        ] {
            assert!(csp().directive("img-src", [v]).is_err(), "{v:?}");
            assert!(csp().directive(v, ["self"]).is_err(), "{v:?}");
        }
        assert!(csp().report_to("https://r.example/\"x").is_err());
        assert!(csp().report_to("https://r.example/\r\n").is_err());
        // A host that is not clean is not added.
        let h = header(&ContentSecurityPolicy::new("evil; script-src *"));
        assert!(!h.contains("evil"));
        let r = csp()
            .report_to("https://r.example/csp")
            .unwrap()
            .report_only(true);
        assert_eq!(r.header_name(), "content-security-policy-report-only");
        assert!(header(&r).ends_with("; report-to csp-endpoint"));
        assert_eq!(
            r.reporting_endpoints().unwrap(),
            "csp-endpoint=\"https://r.example/csp\""
        );
    }
}
