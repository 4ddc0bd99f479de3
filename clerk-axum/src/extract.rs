//! Extractors: `Auth`, `Session`, `Option<Session>`, `Require<P>`, `Claims<T>`.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use clerk_core::{Policy, Refusal};
use serde::de::DeserializeOwned;

clerk_core::__adapter_types!(layer = "crate::ClerkLayer");

fn auth_of(parts: &Parts) -> Result<&clerk_core::Auth, ClerkRejection> {
    parts
        .extensions
        .get::<clerk_core::Auth>()
        .ok_or_else(|| ClerkRejection(Refusal::layer_missing()))
}

fn session_of(parts: &Parts) -> Result<Arc<clerk_core::Session>, ClerkRejection> {
    Ok(auth_of(parts)?.require_session()?.clone())
}

impl<S: Send + Sync> FromRequestParts<S> for Machine {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(auth_of(parts)?.require_machine()?.clone()))
    }
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

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        auth_of(parts).cloned().map(Self)
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

impl<P: Policy, S: Send + Sync> FromRequestParts<S> for Require<P> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = auth_of(parts)?.require(P::requirement()).await?;
        Ok(Self(session.clone(), PhantomData))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = session_of(parts)?;
        Ok(Self(
            session.user().await.map_err(|e| Refusal::user_lookup(&e))?,
        ))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        let Some(session) = auth_of(parts)?.session().cloned() else {
            return Ok(None);
        };
        Ok(Some(Self(
            session.user().await.map_err(|e| Refusal::user_lookup(&e))?,
        )))
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Claims<T> {
    type Rejection = ClerkRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(auth_of(parts)?.claims_as::<T>()?))
    }
}
