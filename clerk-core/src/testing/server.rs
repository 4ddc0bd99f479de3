//! A local key endpoint for tests: binds `127.0.0.1:0`, counts requests,
//! records what they carried, and misbehaves on demand.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// Method and path, e.g. `GET /v1/jwks`.
    pub line: String,
    /// The `Authorization` header, when sent (this is test code: it keeps it
    /// so tests can check where a secret went).
    pub authorization: Option<String>,
}

#[derive(Debug)]
struct Shared {
    reply: Reply,
    seen: Vec<SeenRequest>,
}

/// A tiny HTTP/1.1 server for key-endpoint tests. Stops when dropped
/// together with its runtime.
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
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let server = Self {
            addr: listener.local_addr()?,
            shared: Arc::new(Mutex::new(Shared {
                reply,
                seen: Vec::new(),
            })),
        };
        let shared = server.shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Ok(server)
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

async fn serve(mut stream: TcpStream, shared: Arc<Mutex<Shared>>) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines
        .next()
        .unwrap_or_default()
        .rsplit_once(' ')
        .map_or_else(String::new, |(l, _)| l.to_owned());
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim().to_owned());
    let reply = {
        let mut s = shared.lock().unwrap_or_else(PoisonError::into_inner);
        s.seen.push(SeenRequest {
            line,
            authorization,
        });
        s.reply.clone()
    };
    let (status, extra, body) = match reply {
        Reply::Json(body) => ("200 OK".to_owned(), String::new(), body),
        Reply::Status(code) => (format!("{code} Status"), String::new(), "{}".to_owned()),
        Reply::Redirect(to) => (
            "307 Temporary Redirect".to_owned(),
            format!("Location: {to}\r\n"),
            String::new(),
        ),
        Reply::Hang => {
            // Keep the connection open and silent until the client gives up.
            let _ = stream.read(&mut chunk).await;
            std::future::pending::<()>().await;
            return;
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
