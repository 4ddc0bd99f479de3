//! A local key endpoint for tests: binds `127.0.0.1:0`, counts requests,
//! records what they carried, and misbehaves on demand.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use super::http::{self, Answer, SeenRequest};

/// How the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `200` with this body (e.g. [`super::TestIssuer::jwks_json`]).
    Json(String),
    /// This status with an empty JSON object.
    Status(u16),
    /// Accept the request and never answer.
    Hang,
    /// `307` to this location.
    Redirect(String),
}

#[derive(Debug)]
struct Shared {
    reply: Reply,
    seen: Vec<SeenRequest>,
}

/// A tiny HTTP/1.1 key endpoint. Stops with its runtime.
#[derive(Debug, Clone)]
pub struct JwksServer {
    addr: std::net::SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl JwksServer {
    /// Starts on `127.0.0.1:0` answering with `reply`.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start(reply: Reply) -> io::Result<Self> {
        let shared = Arc::new(Mutex::new(Shared {
            reply,
            seen: Vec::new(),
        }));
        let state = shared.clone();
        let addr = http::start(Arc::new(move |req: &SeenRequest| {
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            s.seen.push(req.clone());
            match s.reply.clone() {
                Reply::Json(body) => Answer::Respond(200, Vec::new(), body),
                Reply::Status(code) => Answer::Respond(code, Vec::new(), "{}".to_owned()),
                Reply::Redirect(to) => Answer::Respond(307, vec![("location", to)], String::new()),
                Reply::Hang => Answer::Hang,
            }
        }))
        .await?;
        Ok(Self { addr, shared })
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes how the server answers from now on.
    pub fn set_reply(&self, reply: Reply) {
        self.lock().reply = reply;
    }

    /// How many requests arrived.
    pub fn requests(&self) -> usize {
        self.lock().seen.len()
    }

    /// Every request that arrived, in order.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
