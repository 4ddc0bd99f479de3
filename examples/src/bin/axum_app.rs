//! The axum example app. `PORT` (default 3000); Clerk keys from the
//! environment, or a loudly logged dev mode with a throwaway key.
//!
//! `cargo run -p clerk-examples --bin axum_app`

use clerk_examples::AppState;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let state = AppState::from_env().await?;
    if state.dev.is_some() {
        tracing::warn!("DEV MODE: verifying tokens signed by a throwaway local key");
        state.print_dev_banner(port);
    } else if let Err(e) = state.clerk.verifier().prefetch().await {
        tracing::warn!(
            reason = e.reason.as_str(),
            "could not prefetch Clerk keys; will retry"
        );
    }
    let app = clerk_examples::axum_app::router(state);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    tracing::info!(port, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
