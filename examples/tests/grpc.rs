//! The example gRPC service over a real tonic server and client on
//! 127.0.0.1:0: signed out, wrong role, allowed, a machine token where
//! accepted and where not, a cookie (never read), hostile metadata, an
//! unknown method, and the guard without the authenticating layer. The
//! service method has no check of its own for the role: a bypass would
//! answer `OK`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use clerk_core::Clerk;
use clerk_examples::DevMode;
use clerk_examples::app::DEV_SECRET_KEY;
use clerk_examples::grpc::{self, Greeter, GreeterClient, HELLO_SCOPE, HelloRequest};
use clerk_tower::GrpcProtectLayer;
use tonic::{Code, Request, Status};

struct Server {
    dev: DevMode,
    addr: std::net::SocketAddr,
    _backend: clerk_core::testing::FakeBackendApi,
}

async fn start() -> Server {
    let dev = DevMode::new();
    let backend = dev.start_backend().await.unwrap();
    let clerk = Clerk::new(
        dev.config()
            .secret_key(DEV_SECRET_KEY)
            .api_url(backend.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(grpc::serve(listener, clerk));
    Server {
        dev,
        addr,
        _backend: backend,
    }
}

async fn client(addr: std::net::SocketAddr) -> GreeterClient {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    GreeterClient::new(channel)
}

fn request(metadata: &[(&'static str, String)]) -> Request<HelloRequest> {
    let mut req = Request::new(HelloRequest { name: "Ada".into() });
    for (k, v) in metadata {
        req.metadata_mut().insert(*k, v.parse().unwrap());
    }
    req
}

fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", format!("Bearer {token}"))]
}

fn persona(dev: &DevMode, name: &str) -> String {
    dev.personas
        .iter()
        .find(|p| p.name == name)
        .unwrap()
        .token
        .clone()
}

fn refused(result: Result<tonic::Response<grpc::HelloReply>, Status>) -> (Code, String) {
    let status = result.expect_err("refused");
    (status.code(), status.message().to_owned())
}

#[tokio::test]
async fn the_grpc_guard_refuses_with_grpc_statuses_and_lets_the_right_callers_through() {
    let s = start().await;
    let mut c = client(s.addr).await;

    // Allowed: an org admin; the method reads the caller from extensions.
    let reply = c
        .hello(request(&bearer(&persona(&s.dev, "org-admin"))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            reply.message.as_str(),
            reply.caller.as_str(),
            reply.token_type.as_str()
        ),
        ("Hello, Ada!", "user_admin", "session_token")
    );

    // Signed out, and the reasons Clerk gives; never the token.
    let garbage = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyX2FkbWluIn0.";
    let expired = s
        .dev
        .issuer
        .token()
        .user("user_admin")
        .org("org_acme", "acme", "admin")
        .expired()
        .build();
    for (metadata, message) in [
        (vec![], "session-token-missing"),
        (bearer(garbage), "token-invalid-algorithm"),
        (bearer("not-a-jwt"), "token-invalid"),
        (bearer(&expired), "token-expired"),
        (
            vec![("authorization", "Basic dXNlcjpwYXNz".to_owned())],
            "session-token-missing",
        ),
        // An API key: not a token kind this service accepts.
        (bearer(&s.dev.api_key), "token-type-mismatch"),
    ] {
        let (code, got) = refused(c.hello(request(&metadata)).await);
        assert_eq!(
            (code, got.as_str()),
            (Code::Unauthenticated, message),
            "{metadata:?}"
        );
        for (_, v) in &metadata {
            let token = v.trim_start_matches("Bearer ");
            assert!(!got.contains(token), "the token is never in the status");
        }
    }

    // A session cookie is never read for gRPC, whatever it holds.
    let cookie = vec![(
        "cookie",
        format!("__session={}", persona(&s.dev, "org-admin")),
    )];
    assert_eq!(
        refused(c.hello(request(&cookie)).await),
        (Code::Unauthenticated, "session-token-missing".into())
    );

    // Signed in without the role: permission denied.
    for name in ["member", "pro"] {
        assert_eq!(
            refused(c.hello(request(&bearer(&persona(&s.dev, name)))).await),
            (Code::PermissionDenied, "requirement-not-met".into()),
            "{name}"
        );
    }

    // Machines: an M2M token with the scope is allowed; without it, denied.
    let m2m = s
        .dev
        .issuer
        .m2m_token("mch_billing", &[HELLO_SCOPE])
        .build();
    let reply = c.hello(request(&bearer(&m2m))).await.unwrap().into_inner();
    assert_eq!(
        (reply.caller.as_str(), reply.token_type.as_str()),
        ("mch_billing", "m2m_token")
    );
    assert_eq!(
        refused(c.hello(request(&bearer(&s.dev.machine_token))).await),
        (Code::PermissionDenied, "requirement-not-met".into()),
        "the dev machine token has only reports:read"
    );

    // Two authorization values: refused, not guessed between.
    let mut twice = request(&bearer(&persona(&s.dev, "org-admin")));
    twice.metadata_mut().append(
        "authorization",
        format!("Bearer {garbage}").parse().unwrap(),
    );
    assert_eq!(refused(c.hello(twice).await).0, Code::Unauthenticated);
}

#[tokio::test]
async fn an_unknown_method_is_guarded_too_and_then_unimplemented() {
    let s = start().await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut raw = tonic::client::Grpc::new(channel);
    let path = http::uri::PathAndQuery::from_static("/clerk.example.v1.Greeter/Delete");
    let call = |raw: &mut tonic::client::Grpc<tonic::transport::Channel>,
                md: Vec<(&'static str, String)>| {
        let mut raw = raw.clone();
        let path = path.clone();
        async move {
            raw.ready().await.unwrap();
            raw.unary::<_, grpc::HelloReply, _>(
                request(&md),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await
        }
    };
    let status = call(&mut raw, vec![]).await.unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "no route is left open"
    );
    let status = call(&mut raw, bearer(&persona(&s.dev, "org-admin")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn the_guard_without_the_authenticating_layer_is_internal_never_open() {
    let dev = DevMode::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(GrpcProtectLayer::new(grpc::guard()))
            .add_service(Greeter)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let mut c = client(addr).await;
    assert_eq!(
        refused(c.hello(request(&bearer(&persona(&dev, "org-admin")))).await),
        (Code::Internal, "clerk-layer-missing".into())
    );
}
