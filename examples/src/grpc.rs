//! The example gRPC service (`examples/proto/greeter.proto`) on tonic,
//! behind Clerk: [`clerk_tower::ClerkLayer`] authenticates every call from
//! its `authorization: Bearer …` metadata (never a cookie:
//! [`Clerk::bearer_only`]) and [`clerk_tower::GrpcProtectLayer`] answers
//! refusals as gRPC statuses. The service method reads the caller from the
//! request extensions.
//!
//! The messages and the service are what `tonic-prost-build` generates
//! from the `.proto`, written out by hand (one call) so the build needs no
//! `protoc`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use clerk_core::machine::{AcceptsToken, TokenType};
use clerk_core::{Auth, Clerk, Protect, Requirement};
use clerk_tower::{ClerkLayer, GrpcProtectLayer};
use tonic::body::Body;
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

/// `clerk.example.v1.HelloRequest`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct HelloRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `clerk.example.v1.HelloReply`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct HelloReply {
    /// The greeting.
    #[prost(string, tag = "1")]
    pub message: String,
    /// The caller: a user id, or a machine id.
    #[prost(string, tag = "2")]
    pub caller: String,
    /// `session_token` or `m2m_token`.
    #[prost(string, tag = "3")]
    pub token_type: String,
}

/// The one call's path.
pub const HELLO_PATH: &str = "/clerk.example.v1.Greeter/Hello";

/// The scope an M2M token needs to call `Hello`.
pub const HELLO_SCOPE: &str = "greeter:hello";

/// The token kinds the gRPC server accepts.
pub fn accepted_tokens() -> AcceptsToken {
    AcceptsToken::only([TokenType::SessionToken, TokenType::M2mToken])
}

/// Who may call: an org admin, or a machine granted [`HELLO_SCOPE`].
pub fn guard() -> Protect {
    Protect::new(Requirement::role("org:admin").or(Requirement::scope(HELLO_SCOPE)))
        .accepts_token(accepted_tokens())
}

/// The `Greeter` service.
#[derive(Debug, Clone, Default)]
pub struct Greeter;

impl Greeter {
    /// `Hello`: greets, naming the verified caller. The guard already let
    /// the call through; the `Auth` is read from the extensions (and its
    /// absence is an internal error, never anonymous access).
    ///
    /// # Errors
    /// `INTERNAL` when no `Auth` is in the extensions (no `ClerkLayer`).
    pub fn hello(request: &Request<HelloRequest>) -> Result<HelloReply, Status> {
        let (caller, token_type) = match request.extensions().get::<Auth>() {
            Some(Auth::SignedIn(session)) => (session.user_id().to_owned(), "session_token"),
            Some(Auth::Machine(m)) => (m.subject.clone(), m.token_type.as_str()),
            Some(_) => return Err(Status::unauthenticated("signed-out")),
            // Never reached behind the guard (it refuses first, with its
            // own reason); a distinct message keeps the two apart in tests.
            None => return Err(Status::internal("no-auth-in-extensions")),
        };
        Ok(HelloReply {
            message: format!("Hello, {}!", request.get_ref().name),
            caller,
            token_type: token_type.to_owned(),
        })
    }
}

impl NamedService for Greeter {
    const NAME: &'static str = "clerk.example.v1.Greeter";
}

struct HelloCall;

impl UnaryService<HelloRequest> for HelloCall {
    type Response = HelloReply;
    type Future = std::future::Ready<Result<Response<HelloReply>, Status>>;

    fn call(&mut self, request: Request<HelloRequest>) -> Self::Future {
        std::future::ready(Greeter::hello(&request).map(Response::new))
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send + 'static>>;

impl tower::Service<http::Request<Body>> for Greeter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if req.uri().path() == HELLO_PATH {
            return Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(HelloCall, req).await)
            });
        }
        Box::pin(async move { Ok(Status::unimplemented("no such method").into_http()) })
    }
}

/// A client for `Greeter` (what tonic-build generates, for one call).
#[derive(Debug, Clone)]
pub struct GreeterClient {
    inner: tonic::client::Grpc<tonic::transport::Channel>,
}

impl GreeterClient {
    /// A client on `channel`.
    pub fn new(channel: tonic::transport::Channel) -> Self {
        Self {
            inner: tonic::client::Grpc::new(channel),
        }
    }

    /// Calls `Hello`.
    ///
    /// # Errors
    /// The call's status.
    pub async fn hello(
        &mut self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("not ready: {e}")))?;
        let path = http::uri::PathAndQuery::from_static(HELLO_PATH);
        self.inner
            .unary(request, path, tonic_prost::ProstCodec::default())
            .await
    }
}

/// The peer address tonic puts in a call's extensions: the client, for
/// the per-client fairness of the Backend API budget.
fn tonic_peer(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
        .map(|addr| addr.ip())
}

/// Serves `Greeter` on `listener` behind Clerk (authentication from
/// metadata only, then [`guard`]), until the task is dropped.
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    clerk: Clerk,
) -> Result<(), tonic::transport::Error> {
    let clerk = clerk.bearer_only().accepting(accepted_tokens());
    tonic::transport::Server::builder()
        .layer(ClerkLayer::new(clerk).peer_from(tonic_peer))
        .layer(GrpcProtectLayer::new(guard()))
        .add_service(Greeter)
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
        .await
}
