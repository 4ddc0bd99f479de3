//! `sync-users`: backfills the local users table from the Backend API, so
//! a service that missed webhooks catches up. Safe while webhooks arrive:
//! a row changes only for a record at least as new, and deleted rows stay
//! deleted.
//!
//! ```text
//! CLERK_SECRET_KEY=sk_test_your_clerk_key_here DATABASE_URL=sqlite:app.db \
//!     cargo run -p clerk-examples --bin sync-users
//! ```
//!
//! With no `CLERK_*` key it syncs from the dev Backend API (its personas),
//! to show the way.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clerk_core::Clerk;
use clerk_examples::app::sync::{self, UserStore};
use clerk_examples::app::{
    DEV_SECRET_KEY, DevMode, check_dev_mode_allowed, env_vars, has_clerk_keys,
};

/// Users per Backend API page.
const PAGE_SIZE: u32 = 100;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sync-users: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let store: UserStore = sync::open_from_env().await?;
    let lookup = |k: &str| std::env::var(k).ok();
    let (clerk, _dev_backend) = if has_clerk_keys(&lookup) {
        (Clerk::from_env()?, None)
    } else {
        check_dev_mode_allowed(env_vars())?;
        eprintln!("sync-users: no CLERK_* key; syncing from the dev Backend API (dev mode)");
        let dev = DevMode::new();
        let backend = dev.start_backend().await?;
        let config = dev
            .config()
            .secret_key(DEV_SECRET_KEY)
            .api_url(backend.base_url())
            .build()?;
        (Clerk::new(config)?, Some(backend))
    };
    let report = store.backfill(clerk.api(), PAGE_SIZE).await?;
    println!(
        "sync-users: {} users read, {} rows written, {} found deleted, {} users in the table",
        report.seen,
        report.changed,
        report.deleted,
        store.count("users").await?
    );
    Ok(())
}
