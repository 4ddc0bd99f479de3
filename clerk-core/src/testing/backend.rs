//! A fake Clerk Backend API for tests: token verification endpoints (API
//! keys, M2M, OAuth) and users/organizations, counting calls and failing on
//! demand.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use super::http::{self, Answer, SeenRequest};

/// How the fake answers every request, overriding its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outage {
    /// This status (`Retry-After` seconds with 429 when given).
    Status(u16, Option<u64>),
    /// Never answer.
    Hang,
}

#[derive(Debug, Default)]
struct State {
    tokens: HashMap<String, Value>,
    /// Session id → the cookies a refresh of it answers.
    refreshes: HashMap<String, Vec<String>>,
    /// Handshake nonce → its cookie directives.
    nonces: HashMap<String, Vec<String>>,
    users: BTreeMap<String, Value>,
    organizations: HashMap<String, Value>,
    /// Organization id → its memberships, in order.
    memberships: HashMap<String, Vec<Value>>,
    /// `METHOD /v1/path` (no query) → a fixed answer, before anything else.
    canned: HashMap<String, Answer>,
    jwks: Option<String>,
    outage: Option<Outage>,
    /// Answer 429 past this many requests (as Clerk's instance limit).
    limit: Option<usize>,
    seen: Vec<SeenRequest>,
}

/// A fake Backend API on `127.0.0.1:0`.
#[derive(Debug, Clone)]
pub struct FakeBackendApi {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
}

fn not_found() -> Answer {
    Answer::Respond(
        404,
        Vec::new(),
        json!({"errors": [{"code": "resource_not_found", "message": "not found"}]}).to_string(),
    )
}

impl FakeBackendApi {
    /// Starts an empty fake.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start() -> io::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let addr = http::start(Arc::new(move |req: &SeenRequest| {
            let mut s = shared.lock().unwrap_or_else(PoisonError::into_inner);
            s.seen.push(req.clone());
            if s.limit.is_some_and(|n| s.seen.len() > n) {
                return Answer::Respond(
                    429,
                    vec![("retry-after", "10".to_owned())],
                    r#"{"errors":[{"code":"too_many_requests","message":"Too many requests"}]}"#
                        .to_owned(),
                );
            }
            match &s.outage {
                Some(Outage::Hang) => return Answer::Hang,
                Some(Outage::Status(code, after)) => {
                    let extra = after
                        .map(|a| ("retry-after", a.to_string()))
                        .into_iter()
                        .collect();
                    return Answer::Respond(*code, extra, "{}".to_owned());
                }
                None => {}
            }
            let path_only = req.line.split('?').next().unwrap_or("");
            if let Some(answer) = s.canned.get(path_only) {
                return answer.clone();
            }
            if let Some(answer) = users_and_members(&mut s, req) {
                return answer;
            }
            if req.line == "GET /v1/jwks" {
                return s
                    .jwks
                    .clone()
                    .map_or_else(not_found, |jwks| Answer::Respond(200, Vec::new(), jwks));
            }
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            if let Some(nonce) = req
                .line
                .strip_prefix("GET /v1/clients/handshake_payload?nonce=")
            {
                return match s.nonces.get(nonce) {
                    Some(d) => {
                        Answer::Respond(200, Vec::new(), json!({"directives": d}).to_string())
                    }
                    None => not_found(),
                };
            }
            if let Some(rest) = req.line.strip_prefix("POST /v1/sessions/") {
                let sid = rest.split('/').next().unwrap_or("");
                return match s.refreshes.get(sid) {
                    Some(cookies) if rest.starts_with(&format!("{sid}/refresh")) => {
                        Answer::Respond(
                            200,
                            Vec::new(),
                            json!({"object": "cookies", "cookies": cookies}).to_string(),
                        )
                    }
                    _ => not_found(),
                };
            }
            let token_field = match req.line.as_str() {
                "POST /v1/api_keys/verify" => Some("secret"),
                "POST /v1/m2m_tokens/verify" => Some("token"),
                "POST /v1/oauth_applications/access_tokens/verify" => Some("access_token"),
                _ => None,
            };
            if let Some(field) = token_field {
                let found = body
                    .get(field)
                    .and_then(Value::as_str)
                    .and_then(|t| s.tokens.get(t));
                return match found {
                    Some(answer) => Answer::Respond(200, Vec::new(), answer.to_string()),
                    None => not_found(),
                };
            }
            let get = |prefix: &str, map: &HashMap<String, Value>| {
                req.line
                    .strip_prefix(prefix)
                    .and_then(|id| map.get(id))
                    .map(|v| Answer::Respond(200, Vec::new(), v.to_string()))
            };
            get("GET /v1/organizations/", &s.organizations).unwrap_or_else(not_found)
        }))
        .await?;
        Ok(Self { addr, state })
    }

    /// `http://127.0.0.1:<port>`: use it as `CLERK_API_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes `token` (API key, M2M or OAuth secret) verify to `answer`.
    pub fn add_token(&self, token: &str, answer: Value) {
        self.lock().tokens.insert(token.to_owned(), answer);
    }

    /// Forgets `token`: verifying it answers 404 from now on (as Clerk
    /// answers for a deleted key).
    pub fn remove_token(&self, token: &str) {
        self.lock().tokens.remove(token);
    }

    /// Serves `user` (a Clerk user object with an `id`) at `/v1/users/{id}`.
    pub fn add_user(&self, user: Value) {
        if let Some(id) = user.get("id").and_then(Value::as_str).map(str::to_owned) {
            self.lock().users.insert(id, user);
        }
    }

    /// Adds `membership` (a Clerk organization membership) to the list
    /// `GET /v1/organizations/{org_id}/memberships` pages through.
    pub fn add_membership(&self, org_id: &str, membership: Value) {
        self.lock()
            .memberships
            .entry(org_id.to_owned())
            .or_default()
            .push(membership);
    }

    /// Answers `method path` (no query, e.g. `("POST", "/v1/users")`) with
    /// `status`, `headers` and `body` from now on, before any other rule.
    pub fn respond(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &[(&'static str, &str)],
        body: &Value,
    ) {
        let headers = headers.iter().map(|(n, v)| (*n, (*v).to_owned())).collect();
        self.lock().canned.insert(
            format!("{method} {path}"),
            Answer::Respond(status, headers, body.to_string()),
        );
    }

    /// Serves `jwks` (a JWKS document) at `/v1/jwks`.
    pub fn set_jwks(&self, jwks: String) {
        self.lock().jwks = Some(jwks);
    }

    /// Answers `POST /v1/sessions/{sid}/refresh` with `cookies` (Clerk's
    /// `{"object": "cookies", "cookies": [...]}`).
    pub fn add_session_refresh(&self, sid: &str, cookies: Vec<String>) {
        self.lock().refreshes.insert(sid.to_owned(), cookies);
    }

    /// Answers `GET /v1/clients/handshake_payload?nonce={nonce}` with
    /// `directives` (`{"directives": [...]}`).
    pub fn add_handshake_nonce(&self, nonce: &str, directives: Vec<String>) {
        self.lock().nonces.insert(nonce.to_owned(), directives);
    }

    /// Serves `org` at `/v1/organizations/{id}`.
    pub fn add_organization(&self, org: Value) {
        if let Some(id) = org.get("id").and_then(Value::as_str).map(str::to_owned) {
            self.lock().organizations.insert(id, org);
        }
    }

    /// Answers every request this way from now on (`None` to recover).
    pub fn set_outage(&self, outage: Option<Outage>) {
        self.lock().outage = outage;
    }

    /// Answers 429 (`Retry-After: 10`) to every request past the first
    /// `n`, as Clerk does past an instance's limit.
    pub fn limit_calls(&self, n: usize) {
        self.lock().limit = Some(n);
    }

    /// How many requests arrived.
    pub fn calls(&self) -> usize {
        self.lock().seen.len()
    }

    /// Every request that arrived.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn ok(body: &Value) -> Answer {
    Answer::Respond(200, Vec::new(), body.to_string())
}

/// The stateful part of the fake: users (get, list, count, metadata merge
/// and replace) and organization memberships, paged as Clerk pages.
fn users_and_members(s: &mut State, req: &SeenRequest) -> Option<Answer> {
    let (method, target) = req.line.split_once(' ')?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let window = |all: Vec<Value>| -> Vec<Value> {
        let offset = param("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
        // Clerk's default page is 10; this fake serves at most 100 a page
        // (a server may cap below what is asked).
        let limit = param("limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(10)
            .min(100);
        all.into_iter().skip(offset).take(limit).collect()
    };
    let matches = |u: &Value| {
        params.iter().all(|(k, v)| match k.as_str() {
            "user_id" => u["id"] == v.as_str(),
            "email_address" => u["email_addresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e["email_address"] == v.as_str())),
            "query" => u.to_string().contains(v.as_str()),
            _ => true,
        })
    };
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["users"]) => {
            let all: Vec<Value> = s.users.values().filter(|u| matches(u)).cloned().collect();
            Some(ok(&Value::Array(window(all))))
        }
        ("GET", ["users", "count"]) => {
            let n = s.users.values().filter(|u| matches(u)).count();
            Some(ok(&json!({"object": "total_count", "total_count": n})))
        }
        ("GET", ["users", id]) => Some(s.users.get(*id).map_or_else(not_found, ok)),
        ("PATCH" | "PUT", ["users", id, "metadata"]) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let user = s.users.get_mut(*id)?;
            for kind in ["public_metadata", "private_metadata", "unsafe_metadata"] {
                if let Some(given) = body.get(kind) {
                    if method == "PUT" {
                        user[kind] = given.clone();
                    } else {
                        merge(&mut user[kind], given);
                    }
                }
            }
            let updated = user["updated_at"].as_i64().unwrap_or(0) + 1;
            user["updated_at"] = json!(updated);
            Some(ok(user))
        }
        ("GET", ["users", id, "organization_memberships"]) => {
            let all: Vec<Value> = s
                .memberships
                .values()
                .flatten()
                .filter(|m| m["public_user_data"]["user_id"] == *id)
                .cloned()
                .collect();
            let total = all.len();
            Some(ok(&json!({"data": window(all), "total_count": total})))
        }
        ("GET", ["organizations", id, "memberships"]) => {
            let all = s.memberships.get(*id).cloned().unwrap_or_default();
            let total = all.len();
            Some(ok(&json!({"data": window(all), "total_count": total})))
        }
        _ => None,
    }
}

/// Clerk's metadata merge: objects merge key by key, `null` removes a key,
/// anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}
