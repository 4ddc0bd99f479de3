//! `MachineCredentialLayer`: this machine's M2M token on every outgoing
//! request of a tower client (a tonic channel, a hyper client).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use clerk_core::machine::MachineCredential;
use http::{HeaderValue, Request, header};
use tower_layer::Layer;
use tower_service::Service;

/// Any error, boxed (tower's `BoxError`): the inner service's, or why no
/// token could be had ([`clerk_core::api::ApiError`]).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Adds `Authorization: Bearer <M2M token>` from a [`MachineCredential`]
/// to every request (replacing any), renewed as the credential renews it.
/// A request for which no valid token can be had fails with the
/// credential's error and is not sent.
///
/// ```
/// use clerk_core::api::NewM2mToken;
/// use tower::{ServiceBuilder, service_fn};
/// # fn f(clerk: clerk_core::Clerk) -> Result<(), Box<dyn std::error::Error>> {
/// let credential = clerk.machine_credential(NewM2mToken::new())?;
/// let client = ServiceBuilder::new()
///     .layer(clerk_tower::MachineCredentialLayer::new(credential))
///     .service(service_fn(|req: http::Request<String>| async move {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     }));
/// # let _ = client; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MachineCredentialLayer {
    credential: MachineCredential,
}

impl MachineCredentialLayer {
    /// A layer sending `credential`'s token.
    pub fn new(credential: MachineCredential) -> Self {
        Self { credential }
    }
}

impl<S> Layer<S> for MachineCredentialLayer {
    type Service = MachineCredentialService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MachineCredentialService {
            inner,
            credential: self.credential.clone(),
        }
    }
}

/// The service of [`MachineCredentialLayer`].
#[derive(Debug, Clone)]
pub struct MachineCredentialService<S> {
    inner: S,
    credential: MachineCredential,
}

impl<S, B> Service<Request<B>> for MachineCredentialService<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The service that was made ready serves this request (tower's
        // clone-and-swap).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let credential = self.credential.clone();
        Box::pin(async move {
            let token = credential.bearer().await?;
            let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))?;
            value.set_sensitive(true);
            req.headers_mut().insert(header::AUTHORIZATION, value);
            inner.call(req).await.map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clerk_core::api::NewM2mToken;
    use clerk_core::testing::{FakeBackendApi, TestIssuer};
    use tower::{ServiceExt, service_fn};

    #[tokio::test]
    async fn every_request_carries_the_token_and_none_goes_without_one() {
        let fake = FakeBackendApi::start().await.unwrap();
        let clerk = clerk_core::Clerk::new(
            TestIssuer::new()
                .config()
                .machine_secret_key("ak_your_machine_secret_key_here")
                .api_url(fake.base_url())
                .build()
                .unwrap(),
        )
        .unwrap();
        let credential = clerk.machine_credential(NewM2mToken::new()).unwrap();
        let echo = service_fn(|req: Request<()>| async move {
            let auth = req.headers().get_all(header::AUTHORIZATION).iter().count();
            let value = req.headers()[header::AUTHORIZATION].clone();
            Ok::<_, std::convert::Infallible>((auth, value))
        });
        let svc = MachineCredentialLayer::new(credential).layer(echo);
        // Clerk down: no token, so the request is not sent.
        fake.respond("POST", "/v1/m2m_tokens", 503, &[], &serde_json::json!({}));
        assert!(svc.clone().oneshot(Request::new(())).await.is_err());
        fake.respond(
            "POST",
            "/v1/m2m_tokens",
            200,
            &[],
            &serde_json::json!({"id": "mt_1", "token": "mt_minted", "expiration": null}),
        );
        // (The credential pauses 1 s after a failure; a fresh one asks.)
        let credential = clerk.machine_credential(NewM2mToken::new()).unwrap();
        let svc = MachineCredentialLayer::new(credential).layer(echo);
        let mut req = Request::new(());
        req.headers_mut().insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer forged"),
        );
        let (count, value) = svc.oneshot(req).await.unwrap();
        assert_eq!((count, value.to_str().unwrap()), (1, "Bearer mt_minted"));
        assert!(value.is_sensitive());
    }
}
