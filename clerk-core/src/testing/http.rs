//! The core of the test servers, on hyper: binds `127.0.0.1:0`, records
//! each request and answers what a handler says (or never answers).

use std::convert::Infallible;
use std::io;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A request as a test server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// Method and path, e.g. `GET /v1/jwks`.
    pub line: String,
    /// The `Authorization` header, when sent (this is test code: it keeps
    /// it so tests can check where a secret went).
    pub authorization: Option<String>,
    /// Every header, names lower-case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What a test server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Status, extra headers, JSON body.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Never answer.
    Hang,
}

pub(crate) type Handler = Arc<dyn Fn(&SeenRequest) -> Answer + Send + Sync>;

/// Request bodies larger than this are cut (test traffic is small).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Binds `127.0.0.1:0` and serves `handler` until the runtime stops.
pub(crate) async fn start(handler: Handler) -> io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| respond(req, handler.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn respond(
    req: Request<Incoming>,
    handler: Handler,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", hyper::http::uri::PathAndQuery::as_str);
    let line = format!("{} {target}", req.method());
    let authorization = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let seen = SeenRequest {
        line,
        authorization,
        headers,
        body,
    };
    match handler(&seen) {
        Answer::Hang => std::future::pending().await,
        Answer::Respond(status, headers, body) => {
            let mut res = Response::new(Full::new(Bytes::from(body)));
            *res.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            for (name, value) in headers {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    res.headers_mut().insert(n, v);
                }
            }
            Ok(res)
        }
    }
}
