//! Extractors: `Auth`, `Session`, `Option<Session>`, `Require<P>`, `Claims<T>`.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use clerk_core::users::User;
use clerk_core::{Policy, Refusal};
use serde::de::DeserializeOwned;

use crate::rejection::ClerkRejection;

fn auth_of(parts: &Parts) -> Result<&clerk_core::Auth, ClerkRejection> {
    parts
        .extensions
        .get::<clerk_core::Auth>()
        .ok_or_else(|| ClerkRejection(Refusal::layer_missing()))
}

fn session_of(parts: &Parts) -> Result<Arc<clerk_core::Session>, ClerkRejection> {
    Ok(auth_of(parts)?.require_session()?.clone())
}

/// A verified machine token (API key, M2M or OAuth); 401 when signed out,
/// `token-type-mismatch` for a session token. The layer must accept machine
/// tokens (`Clerk::accepting`).
#[derive(Debug, Clone)]
pub struct Machine(pub Arc<clerk_core::MachineAuth>);

impl Deref for Machine {
    type Target = clerk_core::MachineAuth;

    fn deref(&self) -> &clerk_core::MachineAuth {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Machine {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(auth_of(parts)?.require_machine()?.clone()))
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

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let auth = auth_of(parts)?;
        match auth.machine() {
            Some(m) => Ok(Self::Machine(m.clone())),
            None => Ok(Self::User(auth.require_session()?.clone())),
        }
    }
}

/// The authentication outcome, signed in or not. Never rejects (except with
/// a 500 when [`crate::ClerkLayer`] is missing).
#[derive(Debug, Clone)]
pub struct Auth(pub clerk_core::Auth);

impl Deref for Auth {
    type Target = clerk_core::Auth;

    fn deref(&self) -> &clerk_core::Auth {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        auth_of(parts).cloned().map(Self)
    }
}

/// A signed-in session; 401 when signed out (503 when no key is
/// available). Use `Option<Session>` to accept both.
#[derive(Debug, Clone)]
pub struct Session(pub Arc<clerk_core::Session>);

impl Deref for Session {
    type Target = clerk_core::Session;

    fn deref(&self) -> &clerk_core::Session {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        session_of(parts).map(Self)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(auth_of(parts)?.session().cloned().map(Self))
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

impl<P: Policy, S: Send + Sync> FromRequestParts<S> for Require<P> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = auth_of(parts)?.require(P::requirement()).await?;
        Ok(Self(session.clone(), PhantomData))
    }
}

/// The signed-in user's Backend API record (Clerk's `currentUser()`),
/// cached: 401 when signed out, 503 when the Backend API cannot be reached
/// and nothing is cached. `Option<CurrentUser>` is `None` when signed out.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Arc<User>);

impl Deref for CurrentUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = session_of(parts)?;
        Ok(Self(session.user().await.map_err(Refusal::from)?))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        let Some(session) = auth_of(parts)?.session().cloned() else {
            return Ok(None);
        };
        Ok(Some(Self(session.user().await.map_err(Refusal::from)?)))
    }
}

/// Your custom session claims (e.g. from a session-token template),
/// deserialized from the verified token: 401 when signed out, 403
/// (`requirement-not-met`) when the claims do not fit `T`.
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Claims<T> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(auth_of(parts)?.claims_as::<T>()?))
    }
}
