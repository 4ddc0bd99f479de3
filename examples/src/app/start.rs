//! Start-up: what dev mode refuses, where the apps listen, logging.

use super::AppState;

/// Why dev mode refuses to start: the environment looks like production.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to start DEV MODE: {0}. Dev mode hands out org-admin tokens; set the \
     Clerk keys this deployment should use (CLERK_SECRET_KEY / CLERK_JWT_KEY)"
)]
pub struct DevModeRefused(String);

/// Dev mode (no Clerk key set) starts only where nothing says production:
/// no `sk_live_` / `pk_live_` in any variable whose name mentions Clerk
/// (`CLERK_SECRET`, `NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY`, ...), and none of
/// `CLERK_ENV`, `APP_ENV`, `RUST_ENV`, `NODE_ENV` or `ENVIRONMENT` saying
/// `production` / `prod`.
///
/// # Errors
/// [`DevModeRefused`] naming the variable (never its value).
pub fn check_dev_mode_allowed<I, K, V>(vars: I) -> Result<(), DevModeRefused>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    const ENV_MARKERS: [&str; 5] = [
        "CLERK_ENV",
        "APP_ENV",
        "RUST_ENV",
        "NODE_ENV",
        "ENVIRONMENT",
    ];
    for (name, value) in vars {
        let (name, value) = (name.as_ref(), value.as_ref());
        if name.to_ascii_uppercase().contains("CLERK")
            && (value.contains("sk_live_") || value.contains("pk_live_"))
        {
            return Err(DevModeRefused(format!("{name} holds a live Clerk key")));
        }
        if ENV_MARKERS.iter().any(|m| name.eq_ignore_ascii_case(m))
            && matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "production" | "prod"
            )
        {
            return Err(DevModeRefused(format!("{name} says production")));
        }
    }
    Ok(())
}

/// The process environment as text (a name or value that is not UTF-8 is
/// read lossily rather than crashing the start-up check).
pub fn env_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    })
}

/// Where an example app listens: dev mode on `127.0.0.1` only (its tokens
/// must not leave the machine, whatever `HOST` says); with real keys on
/// `HOST` (default `0.0.0.0`). `PORT` defaults to 3000.
///
/// # Errors
/// When `HOST` or `PORT` is not an address or port.
pub fn listen_addr(
    dev_mode: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<std::net::SocketAddr, Box<dyn std::error::Error>> {
    let port: u16 = match lookup("PORT") {
        Some(p) => p.trim().parse()?,
        None => 3000,
    };
    let host: std::net::IpAddr = if dev_mode {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        match lookup("HOST") {
            Some(h) => h.trim().parse()?,
            None => std::net::Ipv4Addr::UNSPECIFIED.into(),
        }
    };
    Ok((host, port).into())
}

/// What both example binaries do first: logging (`RUST_LOG`, default
/// `info`), the state from the environment, the listening socket
/// ([`listen_addr`]; `PORT=0` picks a free port), and the dev-mode banner
/// (with the port actually bound) or a key prefetch.
///
/// # Errors
/// When the configured keys are invalid, dev mode is refused
/// ([`check_dev_mode_allowed`]) or cannot start, or the address cannot be
/// bound.
pub async fn start_from_env()
-> Result<(AppState, std::net::TcpListener), Box<dyn std::error::Error>> {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let state = AppState::from_env().await?;
    let listener = std::net::TcpListener::bind(listen_addr(state.dev.is_some(), &|k| {
        std::env::var(k).ok()
    })?)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    if state.dev.is_some() {
        tracing::warn!("DEV MODE: verifying tokens signed by a throwaway local key");
        state.print_dev_banner(addr.port());
    } else if let Err(e) = state.clerk.prefetch().await {
        tracing::warn!(
            reason = e.reason().as_str(),
            "could not prefetch Clerk keys; will retry"
        );
    }
    tracing::info!(%addr, "listening");
    Ok((state, listener))
}
