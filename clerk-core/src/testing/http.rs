//! A tiny HTTP/1.1 server core for the test servers: binds `127.0.0.1:0`,
//! reads one request per connection (head and `Content-Length` body), and
//! answers what a handler says.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as a test server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// Method and path, e.g. `GET /v1/jwks`.
    pub line: String,
    /// The `Authorization` header, when sent (this is test code: it keeps
    /// it so tests can check where a secret went).
    pub authorization: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// What a test server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Status, extra header lines (`Name: value\r\n`), body.
    Respond(u16, String, String),
    /// Never answer.
    Hang,
}

pub(crate) type Handler = Arc<dyn Fn(&SeenRequest) -> Answer + Send + Sync>;

/// Binds `127.0.0.1:0` and serves `handler` until the runtime stops.
pub(crate) async fn start(handler: Handler) -> io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, handler.clone()));
        }
    });
    Ok(addr)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

async fn serve(mut stream: TcpStream, handler: Handler) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines
        .next()
        .unwrap_or_default()
        .rsplit_once(' ')
        .map_or_else(String::new, |(l, _)| l.to_owned());
    let mut authorization = None;
    let mut length = 0usize;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_owned());
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length.min(4 * 1024 * 1024) {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let seen = SeenRequest {
        line,
        authorization,
        body,
    };
    match handler(&seen) {
        Answer::Hang => {
            let _ = stream.read(&mut chunk).await;
            std::future::pending::<()>().await;
        }
        Answer::Respond(status, extra, body) => {
            let response = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                reason(status),
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}
