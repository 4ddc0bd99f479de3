//! Extractors with the same names and meanings as `clerk-axum`'s.

use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use clerk_core::users::User;
use clerk_core::{Policy, Refusal};
use serde::de::DeserializeOwned;

use crate::glue::to_http_response;

/// Why an extractor refused a request: core's [`Refusal`] (401 / 403 /
/// reverification 403 / 503, a webhook's 400 or 413, or a 500 when
/// [`crate::ClerkMiddleware`] is missing), answered as core made it. The
/// same name and meaning as `clerk_axum::ClerkRejection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkRejection(pub Refusal);

impl From<Refusal> for ClerkRejection {
    fn from(refusal: Refusal) -> Self {
        Self(refusal)
    }
}

impl std::fmt::Display for ClerkRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

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

/// A verified machine token (API key, M2M or OAuth); 401 when signed out,
/// `token-type-mismatch` for a session token. The middleware must accept
/// machine tokens (`Clerk::accepting`).
#[derive(Debug, Clone)]
pub struct Machine(pub Arc<clerk_core::MachineAuth>);

impl Deref for Machine {
    type Target = clerk_core::MachineAuth;

    fn deref(&self) -> &clerk_core::MachineAuth {
        &self.0
    }
}

impl FromRequest for Machine {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(auth_of(req).and_then(|auth| Ok(Self(auth.require_machine()?.clone()))))
    }
}

/// A signed-in user or a verified machine; 401 when signed out.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A user's session.
    User(Arc<clerk_core::Session>),
    /// A machine token.
    Machine(Arc<clerk_core::MachineAuth>),
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

/// The authentication outcome, signed in or not. Never rejects (except with
/// a 500 when [`crate::ClerkMiddleware`] is missing).
#[derive(Debug, Clone)]
pub struct Auth(pub clerk_core::Auth);

impl Deref for Auth {
    type Target = clerk_core::Auth;

    fn deref(&self) -> &clerk_core::Auth {
        &self.0
    }
}

impl FromRequest for Auth {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(auth_of(req).map(Self))
    }
}

/// A signed-in session; 401 when signed out (503 when no key is
/// available). `Option<Session>` accepts both.
#[derive(Debug, Clone)]
pub struct Session(pub Arc<clerk_core::Session>);

impl Deref for Session {
    type Target = clerk_core::Session;

    fn deref(&self) -> &clerk_core::Session {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(session_of(req).map(Self))
    }
}

/// A signed-in session that satisfies `P`'s requirement: 401 when signed
/// out, 403 when not allowed, 403 with Clerk's reverification body when
/// only a step-up is missing.
#[derive(Debug, Clone)]
pub struct Require<P>(pub Arc<clerk_core::Session>, pub PhantomData<P>);

impl<P> Deref for Require<P> {
    type Target = clerk_core::Session;

    fn deref(&self) -> &clerk_core::Session {
        &self.0
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

/// The signed-in user's Backend API record (Clerk's `currentUser()`),
/// cached: 401 when signed out, 503 when the Backend API cannot be reached
/// and nothing is cached.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Arc<User>);

impl Deref for CurrentUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.0
    }
}

impl FromRequest for CurrentUser {
    type Error = ClerkRejection;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = session_of(req);
        Box::pin(async move { Ok(Self(session?.user().await.map_err(Refusal::from)?)) })
    }
}

/// Your custom session claims, deserialized from the verified token: 401
/// when signed out, 403 (`requirement-not-met`) when they do not fit `T`.
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Claims<T> {
    type Error = ClerkRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(auth_of(req).and_then(|auth| Ok(Self(auth.claims_as::<T>()?))))
    }
}
