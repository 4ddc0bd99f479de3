//! Extractors with the same names and meanings as `clerk-axum`'s.

use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use clerk_core::{Policy, Refusal};
use serde::de::DeserializeOwned;

use crate::glue::to_http_response;

clerk_core::__adapter_types!(layer = "crate::ClerkMiddleware");

impl ResponseError for ClerkRejection {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.0.status().as_u16())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        to_http_response(self.0.clone())
    }
}

fn auth_of(req: &HttpRequest) -> Result<clerk_core::Auth, ClerkRejection> {
    req.extensions()
        .get::<clerk_core::Auth>()
        .cloned()
        .ok_or_else(|| ClerkRejection(Refusal::layer_missing()))
}

fn session_of(req: &HttpRequest) -> Result<Arc<clerk_core::Session>, ClerkRejection> {
    Ok(auth_of(req)?.require_session()?.clone())
}

impl FromRequest for Machine {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(auth_of(req).and_then(|auth| Ok(Self(auth.require_machine()?.clone()))))
    }
}

impl FromRequest for Principal {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(auth_of(req).and_then(|auth| match auth.machine() {
            Some(m) => Ok(Self::Machine(m.clone())),
            None => Ok(Self::User(auth.require_session()?.clone())),
        }))
    }
}

impl FromRequest for Auth {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(auth_of(req).map(Self))
    }
}

impl FromRequest for Session {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(session_of(req).map(Self))
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, ClerkRejection>>>>;

impl<P: Policy> FromRequest for Require<P> {
    type Error = ClerkRejection;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = auth_of(req);
        Box::pin(async move {
            let session = auth?.require(P::requirement()).await?.clone();
            Ok(Self(session, PhantomData))
        })
    }
}

impl FromRequest for CurrentUser {
    type Error = ClerkRejection;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = session_of(req);
        Box::pin(async move {
            Ok(Self(
                session?
                    .user()
                    .await
                    .map_err(|e| Refusal::user_lookup(&e))?,
            ))
        })
    }
}

impl<T: DeserializeOwned> FromRequest for Claims<T> {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(auth_of(req).and_then(|auth| Ok(Self(auth.claims_as::<T>()?))))
    }
}
