//! Clerk's Frontend API proxy as an actix handler.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::{Bytes, Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use clerk_core::adapter::channel_body;
use clerk_core::browser::{FrontendApiProxy, ProxyBody};
use futures_core::Stream;
use http_body::Body;

/// Serves [`FrontendApiProxy`] (Clerk's `frontendApiProxy`), registered
/// as app data, for its whole path:
///
/// ```no_run
/// use actix_web::{App, web};
/// # fn app(clerk: clerk_core::Clerk) -> Result<(), clerk_core::ConfigError> {
/// let proxy = web::Data::new(clerk.frontend_api_proxy()?);
/// let app = App::new()
///     .app_data(proxy)
///     .route("/__clerk/{tail:.*}", web::to(clerk_actix::frontend_api_proxy));
/// # let _ = app; Ok(()) }
/// ```
///
/// The request body is streamed up as it arrives, the answer streamed
/// back; without the app data every request is answered 500.
pub async fn frontend_api_proxy(
    req: HttpRequest,
    mut payload: Payload,
    proxy: Option<Data<FrontendApiProxy>>,
) -> HttpResponse {
    let Some(proxy) = proxy else {
        tracing::error!("clerk_actix::frontend_api_proxy without a FrontendApiProxy in app data");
        return HttpResponse::InternalServerError().finish();
    };
    let length = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (tx, body) = channel_body(length);
    // The payload lives on this worker's thread: read it here.
    actix_web::rt::spawn(async move {
        while let Some(chunk) =
            poll_fn(|cx: &mut Context<'_>| Pin::new(&mut payload).poll_next(cx)).await
        {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    let mut forwarded = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        forwarded = forwarded.header(name.as_str(), value.as_bytes());
    }
    let Ok(forwarded) = forwarded.body(body) else {
        return HttpResponse::BadRequest().finish();
    };
    let answer = proxy
        .forward(forwarded, req.peer_addr().map(|a| a.ip()))
        .await;
    let (parts, body) = answer.into_parts();
    let status = actix_web::http::StatusCode::from_u16(parts.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    let mut res = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            res.append_header((n, v));
        }
    }
    res.body(Streamed(body))
}

/// The proxied answer's body, as actix streams it.
struct Streamed(ProxyBody);

impl MessageBody for Streamed {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        loop {
            match ready!(Pin::new(&mut self.0).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }
}
