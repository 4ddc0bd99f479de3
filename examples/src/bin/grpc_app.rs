//! The example gRPC server (`examples/proto/greeter.proto`) behind Clerk.
//! Real keys from the environment (`CLERK_SECRET_KEY`, ...); with none, dev
//! mode: a throwaway key and a local Backend API, and ready-made tokens
//! printed for `grpcurl -H "authorization: Bearer …"`. Listens on
//! 127.0.0.1:`GRPC_PORT` (default 50051).
//!
//! `cargo run -p clerk-examples --bin grpc_app`
#![allow(clippy::print_stdout)]

use clerk_core::Clerk;
use clerk_examples::app::{
    DEV_SECRET_KEY, DevMode, check_dev_mode_allowed, env_vars, has_clerk_keys,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lookup = |k: &str| std::env::var(k).ok();
    let port: u16 = lookup("GRPC_PORT")
        .and_then(|p| p.parse().ok())
        .unwrap_or(50051);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let (clerk, _backend) = if has_clerk_keys(&lookup) {
        (Clerk::from_env()?, None)
    } else {
        check_dev_mode_allowed(env_vars())?;
        let dev = DevMode::new();
        let backend = dev.start_backend().await?;
        let config = dev
            .config()
            .secret_key(DEV_SECRET_KEY)
            .api_url(backend.base_url());
        println!("DEV MODE (throwaway key). gRPC on {addr}; try, as an org admin:");
        if let Some(admin) = dev.personas.iter().find(|p| p.name == "org-admin") {
            println!(
                "  grpcurl -plaintext -import-path examples/proto -proto greeter.proto \\\n    -H 'authorization: Bearer {}' -d '{{\"name\":\"Ada\"}}' {addr} clerk.example.v1.Greeter/Hello",
                admin.token
            );
        }
        (Clerk::new(config.build()?)?, Some(backend))
    };
    clerk_examples::grpc::serve(listener, clerk).await?;
    Ok(())
}
