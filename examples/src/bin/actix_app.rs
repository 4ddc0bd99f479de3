//! The actix example app: the same route table, environment handling and
//! dev mode as `axum_app`. `PORT` (default 3000).
//!
//! `cargo run -p clerk-examples --bin actix_app`

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One state (one key cache) for every worker.
    let (state, listener) = clerk_examples::app::start_from_env().await?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Header deadline, connection cap, body limits: see `app::server`.
    clerk_examples::actix_app::server(state, Default::default(), listener, workers)?.await?;
    Ok(())
}
