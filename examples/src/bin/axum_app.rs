//! The axum example app. `PORT` (default 3000), `HOST` (default 0.0.0.0;
//! dev mode always 127.0.0.1); Clerk keys from the environment, or a
//! loudly logged dev mode with a throwaway key.
//!
//! `cargo run -p clerk-examples --bin axum_app`

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (state, listener) = clerk_examples::app::start_from_env().await?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // Header deadline, connection cap, body limits: see `app::server`.
    clerk_examples::axum_app::serve(listener, state, Default::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
