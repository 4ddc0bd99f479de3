//! The actix example app: the same route table, environment handling and
//! dev mode as `axum_app`. `PORT` (default 3000).
//!
//! `cargo run -p clerk-examples --bin actix_app`

use clerk_examples::AppState;
use tracing_subscriber::EnvFilter;

#[actix_web::main]
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
    // One state (one key cache) for every worker.
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
    tracing::info!(port, "listening");
    actix_web::HttpServer::new(move || clerk_examples::actix_app::app(state.clone()))
        .bind(("0.0.0.0", port))?
        .run()
        .await?;
    Ok(())
}
