//! A fake Clerk Backend API for tests: token verification endpoints (API
//! keys, M2M, OAuth) and users/organizations, counting calls and failing on
//! demand.

use std::collections::HashMap;
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
    users: HashMap<String, Value>,
    organizations: HashMap<String, Value>,
    jwks: Option<String>,
    outage: Option<Outage>,
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
            get("GET /v1/users/", &s.users)
                .or_else(|| get("GET /v1/organizations/", &s.organizations))
                .unwrap_or_else(not_found)
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

    /// Serves `user` (a Clerk user object with an `id`) at `/v1/users/{id}`.
    pub fn add_user(&self, user: Value) {
        if let Some(id) = user.get("id").and_then(Value::as_str).map(str::to_owned) {
            self.lock().users.insert(id, user);
        }
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
