//! The MCP server example: tools guarded by Clerk OAuth access tokens.
//! `PORT` (default 3001); `MCP_RESOURCE_URL` (its public `…/mcp` URL,
//! needed with real keys); dev mode with no Clerk keys, printing an OAuth
//! token to try it with.
//!
//! `cargo run -p clerk-examples --bin mcp_server`
#![allow(clippy::print_stdout)] // the dev-mode hint is for humans

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();
    let state = clerk_examples::AppState::from_env().await?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3001);
    let host = if state.dev.is_some() {
        "127.0.0.1"
    } else {
        "0.0.0.0"
    };
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    let port = listener.local_addr()?.port();
    let resource = match (std::env::var("MCP_RESOURCE_URL"), &state.dev) {
        (Ok(url), _) => url,
        (Err(_), Some(_)) => format!("http://127.0.0.1:{port}/mcp"),
        (Err(_), None) => {
            return Err("set MCP_RESOURCE_URL to this server's public …/mcp URL".into());
        }
    };
    if let Some(dev) = &state.dev {
        println!("DEV MODE: an OAuth access token (scopes profile, email) for {resource}:");
        println!("{}", dev.mcp_token());
    }
    let app = clerk_examples::mcp::router(&state, &resource)?;
    axum::serve(listener, app).await?;
    Ok(())
}
