//! Translation between actix-web types and the `http` types of clerk-core.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use clerk_core::Refusal;
use clerk_core::RequestHead;

/// actix-web's header map, readable by clerk-core.
#[derive(Debug, Clone, Copy)]
pub struct ActixHeaders<'a>(pub &'a HeaderMap);

impl RequestHead for ActixHeaders<'_> {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        self.0.get_all(name).map(HeaderValue::as_bytes)
    }
}

/// An actix request (headers, method, target, peer), readable by
/// clerk-core.
pub(crate) struct ActixRequest<'a>(pub(crate) &'a actix_web::dev::ServiceRequest);

impl RequestHead for ActixRequest<'_> {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> {
        self.0.headers().get_all(name).map(HeaderValue::as_bytes)
    }

    fn method_and_target(&self) -> Option<(&str, &str)> {
        let target = self.0.uri().path_and_query().map_or("/", |p| p.as_str());
        Some((self.0.method().as_str(), target))
    }

    fn peer(&self) -> Option<std::net::IpAddr> {
        self.0.peer_addr().map(|a| a.ip())
    }
}

/// Turns a core [`Refusal`] into an actix response.
pub(crate) fn to_http_response(rejection: Refusal) -> HttpResponse {
    from_http(rejection.into_response::<String>())
}

/// An `http` response from clerk-core as an actix response (every header
/// value kept, so several `Set-Cookie`s stay several).
pub(crate) fn from_http(response: http::Response<String>) -> HttpResponse {
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            res.append_header((n, v));
        }
    }
    res.body(response.into_body())
}
