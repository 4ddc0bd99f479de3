// Tokens in Clerk's shapes (session v1/v2, M2M, OAuth), claim by claim.
use serde_json::{Map, Value, json};

use super::{TEST_AUTHORIZED_PARTY, TestIssuer};
use crate::token::Algorithm;

/// Builds one token; see [`TestIssuer::token`].
#[derive(Debug)]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    alg: Algorithm,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    v2: bool,
    iat: i64,
    ttl: i64,
    org: Option<(String, String, String)>,
    permissions: Vec<String>,
    plans: Vec<String>,
    features: Vec<String>,
}

impl<'a> TokenBuilder<'a> {
    pub(super) fn new(issuer: &'a TestIssuer, now: i64) -> Self {
        let mut header = Map::new();
        header.insert("alg".into(), "RS256".into());
        header.insert("cat".into(), "cl_B7d4PD111AAA".into());
        header.insert("kid".into(), issuer.kid.clone().into());
        header.insert("typ".into(), "JWT".into());
        let mut claims = Map::new();
        claims.insert("sub".into(), "user_test".into());
        claims.insert("sid".into(), "sess_test".into());
        claims.insert("iss".into(), issuer.issuer.clone().into());
        claims.insert("azp".into(), TEST_AUTHORIZED_PARTY.into());
        Self {
            issuer,
            alg: Algorithm::Rs256,
            header,
            claims,
            v2: true,
            iat: now,
            ttl: 60,
            org: None,
            permissions: Vec::new(),
            plans: Vec::new(),
            features: Vec::new(),
        }
    }

    /// The user id (`sub`).
    #[must_use]
    pub fn user(self, user_id: &str) -> Self {
        self.claim("sub", user_id)
    }

    /// The session id (`sid`).
    #[must_use]
    pub fn session(self, session_id: &str) -> Self {
        self.claim("sid", session_id)
    }

    /// Leaves out `sid`, like a JWT-template token.
    #[must_use]
    pub fn without_session(self) -> Self {
        self.remove("sid")
    }

    /// Issue time (`iat`); `nbf` is 10 s earlier and `exp` `ttl` later.
    #[must_use]
    pub fn issued_at(mut self, iat: i64) -> Self {
        self.iat = iat;
        self
    }

    /// Lifetime in seconds (default 60, like Clerk's).
    #[must_use]
    pub fn ttl(mut self, secs: i64) -> Self {
        self.ttl = secs;
        self
    }

    /// Already expired: issued 10 minutes ago, 60 s lifetime.
    #[must_use]
    pub fn expired(mut self) -> Self {
        self.iat -= 600;
        self
    }

    /// Not valid yet: `nbf` one minute ahead (`iat` stays now).
    #[must_use]
    pub fn not_yet_valid(self) -> Self {
        let nbf = self.iat + 60;
        self.claim("nbf", nbf)
    }

    /// The authorized party (`azp`).
    #[must_use]
    pub fn azp(self, origin: &str) -> Self {
        self.claim("azp", origin)
    }

    /// The issuer (`iss`).
    #[must_use]
    pub fn iss(self, issuer: &str) -> Self {
        self.claim("iss", issuer)
    }

    /// The active organization: id, slug and role (`admin` or `org:admin`).
    #[must_use]
    pub fn org(mut self, id: &str, slug: &str, role: &str) -> Self {
        self.org = Some((id.to_owned(), slug.to_owned(), role.to_owned()));
        self
    }

    /// Organization permissions, each `org:<feature>:<permission>`; in v2
    /// they are encoded as `fea` + `per` + `fpm` bitmasks like Clerk does.
    #[must_use]
    pub fn permissions<I, S>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a plan entry, e.g. `o:pro` or `u:free`.
    #[must_use]
    pub fn plan(mut self, entry: &str) -> Self {
        self.plans.push(entry.to_owned());
        self
    }

    /// Adds a feature entry, e.g. `o:export` or `u:avatar`.
    #[must_use]
    pub fn feature(mut self, entry: &str) -> Self {
        self.features.push(entry.to_owned());
        self
    }

    /// Factor-verification age in minutes (`fva`); `-1` for never.
    #[must_use]
    pub fn factor_age(self, first: i64, second: i64) -> Self {
        self.claim("fva", json!([first, second]))
    }

    /// The claims of a typical production session (~1 KB token), for
    /// benchmarks: `azp` `https://app.example.com`, an organization admin
    /// with six permissions, a plan, a feature and a factor age.
    #[must_use]
    pub fn realistic(self) -> Self {
        self.azp("https://app.example.com")
            .org("org_2d3ZBq1J6gM0Sxz8pGMfOMJdD6e", "marine-projex", "admin")
            .permissions([
                "org:repositories:read",
                "org:repositories:create",
                "org:repositories:update",
                "org:projects:read",
                "org:projects:update",
                "org:projects:revoke",
            ])
            .plan("o:pro")
            .feature("u:goldprofileborder")
            .factor_age(7, -1)
    }

    /// Marks the session `pending`.
    #[must_use]
    pub fn pending(self) -> Self {
        self.claim("sts", "pending")
    }

    /// An impersonator (`act`).
    #[must_use]
    pub fn actor(self, sub: &str, sid: &str) -> Self {
        self.claim("act", json!({ "sub": sub, "sid": sid }))
    }

    /// Uses the v1 claim format (`org_id`, `org_role`, `org_permissions`).
    #[must_use]
    pub fn v1(mut self) -> Self {
        self.v2 = false;
        self
    }

    /// Signs with `"RS384"` or `"RS512"` instead of RS256 (the header says
    /// so too); any other name keeps RS256.
    #[must_use]
    pub fn algorithm(mut self, alg: &str) -> Self {
        let alg = Algorithm::from_name(alg).unwrap_or(Algorithm::Rs256);
        self.alg = alg;
        self.header.insert("alg".into(), alg.name().into());
        self
    }

    /// Sets any claim (custom claims, or overriding a default).
    #[must_use]
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim (e.g. `exp` to test a missing expiry).
    #[must_use]
    pub fn remove(mut self, name: &str) -> Self {
        self.claims.insert(name.to_owned(), Value::Null);
        self
    }

    /// Sets a header member (e.g. `kid`).
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// The payload this builder will sign.
    pub fn payload(&self) -> Value {
        let mut c = Map::new();
        c.insert("iat".into(), self.iat.into());
        c.insert("nbf".into(), (self.iat - 10).into());
        c.insert("exp".into(), (self.iat + self.ttl).into());
        if self.v2 {
            c.insert("v".into(), 2.into());
            self.v2_claims(&mut c);
        } else {
            self.v1_claims(&mut c);
        }
        for (k, v) in &self.claims {
            c.insert(k.clone(), v.clone());
        }
        // `remove` marks claims with null; drop them last so they win.
        c.retain(|k, _| !self.claims.get(k).is_some_and(Value::is_null));
        Value::Object(c)
    }

    fn v1_claims(&self, c: &mut Map<String, Value>) {
        if let Some((id, slug, role)) = &self.org {
            c.insert("org_id".into(), id.clone().into());
            c.insert("org_slug".into(), slug.clone().into());
            c.insert("org_role".into(), role.clone().into());
            c.insert("org_permissions".into(), json!(self.permissions));
        }
        if !self.plans.is_empty() {
            c.insert("pla".into(), self.plans.join(",").into());
        }
        if !self.features.is_empty() {
            c.insert("fea".into(), self.features.join(",").into());
        }
    }

    fn v2_claims(&self, c: &mut Map<String, Value>) {
        // Features: organization-scoped first (as Clerk's servers order
        // them), adding the features that permissions belong to.
        let is_org = |e: &str| e.split_once(':').is_some_and(|(s, _)| s.contains('o'));
        let mut features: Vec<String> = self
            .features
            .iter()
            .filter(|e| is_org(e))
            .cloned()
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for p in &self.permissions {
            let rest = p.strip_prefix("org:").unwrap_or(p);
            if let Some((feature, name)) = rest.split_once(':') {
                if !features
                    .iter()
                    .any(|e| e.split_once(':').is_some_and(|(_, f)| f == feature))
                {
                    features.push(format!("o:{feature}"));
                }
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        features.extend(self.features.iter().filter(|e| !is_org(e)).cloned());
        let masks: Vec<String> = features
            .iter()
            .map(|entry| {
                let feature = entry.split_once(':').map_or("", |(_, f)| f);
                let mut mask: u128 = 0;
                for p in &self.permissions {
                    let rest = p.strip_prefix("org:").unwrap_or(p);
                    if let Some((f, name)) = rest.split_once(':')
                        && f == feature
                        && let Some(i) = names.iter().position(|n| *n == name)
                    {
                        mask |= 1u128
                            .checked_shl(u32::try_from(i).unwrap_or(u32::MAX))
                            .unwrap_or(0);
                    }
                }
                mask.to_string()
            })
            .collect();
        if !features.is_empty() {
            c.insert("fea".into(), features.join(",").into());
        }
        if !self.plans.is_empty() {
            c.insert("pla".into(), self.plans.join(",").into());
        }
        if let Some((id, slug, role)) = &self.org {
            let rol = role.strip_prefix("org:").unwrap_or(role);
            c.insert(
                "o".into(),
                json!({
                    "id": id, "slg": slug, "rol": rol,
                    "per": names.join(","), "fpm": masks.join(","),
                }),
            );
        }
    }

    /// Signs and returns the compact token.
    pub fn build(&self) -> String {
        self.issuer
            .sign_raw(&Value::Object(self.header.clone()), &self.payload())
    }
}
