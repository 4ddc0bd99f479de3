//! The MCP server example over real HTTP, driven by rmcp's own client:
//! the metadata is the server's own (RFC 9728), unauthenticated and
//! wrong-kind requests get the challenge pointing at it, and each tool
//! answers only a token with its scope.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientInfo, Implementation};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

struct Server {
    base: String,
    dev: std::sync::Arc<clerk_examples::DevMode>,
}

async fn start() -> Server {
    let state =
        clerk_examples::AppState::start_dev(clerk_examples::DevMode::new(), "/sign-in".into())
            .await
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let app = clerk_examples::mcp::router(&state, &format!("{base}/mcp")).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        base,
        dev: state.dev.clone().unwrap(),
    }
}

async fn client(
    s: &Server,
    token: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, ClientInfo> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", s.base)).auth_header(token),
    );
    ClientInfo::new(
        ClientCapabilities::default(),
        Implementation::new("clerk-kit test", "0.0.1"),
    )
    .serve(transport)
    .await
    .unwrap()
}

fn text(result: &rmcp::model::CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap()[0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_with_a_scoped_oauth_token_calls_only_its_tools() {
    let s = start().await;
    let http = reqwest::Client::new();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", s.base);

    // The server's own metadata (and the root form).
    for url in [
        metadata_url.clone(),
        format!("{}/.well-known/oauth-protected-resource", s.base),
    ] {
        let res = http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({"resource": format!("{}/mcp", s.base),
                "authorization_servers": ["https://clerk.test.invalid"],
                "bearer_methods_supported": ["header"], "scopes_supported": ["profile", "email"]})
        );
    }

    // No token, a session token, an expired OAuth token: 401 pointing at it.
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "curl", "version": "0"}}});
    let session = s.dev.personas[0].token.clone();
    let expired = s
        .dev
        .issuer
        .oauth_token("user_admin", "client_dev_mcp", &["profile"])
        .issued_at(1_000_000_000)
        .build();
    for (token, challenge) in [
        (None, format!("Bearer resource_metadata=\"{metadata_url}\"")),
        (
            Some(session.as_str()),
            format!("Bearer error=\"invalid_token\", resource_metadata=\"{metadata_url}\""),
        ),
        (
            Some(expired.as_str()),
            format!("Bearer error=\"invalid_token\", resource_metadata=\"{metadata_url}\""),
        ),
    ] {
        let mut req = http
            .post(format!("{}/mcp", s.base))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{token:?}");
        assert_eq!(res.headers()["www-authenticate"], challenge.as_str());
    }

    // A token with `profile` only: `whoami` answers, `token_info` refuses.
    let profile_only = s
        .dev
        .issuer
        .oauth_token("user_admin", "client_dev_mcp", &["profile"])
        .ttl(3600)
        .build();
    let c = client(&s, &profile_only).await;
    let tools = c.list_tools(Default::default()).await.unwrap();
    let mut names: Vec<String> = tools.tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, ["token_info", "whoami"]);
    let who = c
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert_eq!(text(&who), "user_admin");
    let refused = c
        .call_tool(CallToolRequestParams::new("token_info"))
        .await
        .unwrap_err();
    assert!(
        format!("{refused:?}").contains("insufficient_scope"),
        "{refused:?}"
    );
    c.cancel().await.unwrap();

    // Both scopes (the dev banner's token): both tools.
    let c = client(&s, &s.dev.mcp_token()).await;
    let info = c
        .call_tool(CallToolRequestParams::new("token_info"))
        .await
        .unwrap();
    let info: Value = serde_json::from_str(&text(&info)).unwrap();
    assert_eq!(info["client_id"], "client_dev_mcp");
    c.cancel().await.unwrap();
}
