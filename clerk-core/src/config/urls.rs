//! The URL and path checks of the configuration: where secrets and keys
//! may travel, and what a proxy path may hold.

use crate::error::ConfigError;

/// An `http(s)://` URL, trimmed of spaces and trailing `/`, with a host and
/// no whitespace.
pub(super) fn checked_url(url: &str, what: &'static str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(ConfigError::InvalidUrl(what))?;
    if rest.is_empty() || rest.chars().any(char::is_whitespace) {
        return Err(ConfigError::InvalidUrl(what));
    }
    Ok(url.to_owned())
}

/// A path on the application's own origin (the Frontend API proxy's
/// `proxyPath`, a relative `proxyUrl`): absolute, of plain segments in
/// RFC 3986's `pchar` set without percent-encoding (no `?`, `#`, `%`, `\`,
/// whitespace or control characters, so it is safe in a URL and in a
/// header), no `.`/`..`/empty segment, at most 256 bytes. Clerk documents
/// `/__clerk`; nothing it could send is refused. Trailing `/` dropped.
pub(crate) fn checked_proxy_path(path: &str, what: &'static str) -> Result<String, ConfigError> {
    let path = path.trim_end_matches('/');
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c);
    if !path.starts_with('/')
        || path.len() > 256
        || !path.chars().all(plain)
        || path[1..]
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(ConfigError::InvalidUrl(what));
    }
    Ok(path.to_owned())
}

/// A URL that secrets or verification keys travel over: `https://`, or
/// plain `http://` to a loopback host only (local tests and proxies), so a
/// typo cannot send the secret key, or fetch keys, in clear text.
pub(crate) fn checked_remote_url(url: &str, what: &'static str) -> Result<String, ConfigError> {
    let url = checked_url(url, what)?;
    if url.starts_with("http://") && !is_loopback_url(&url) {
        return Err(ConfigError::InsecureUrl(what));
    }
    Ok(url)
}

/// `localhost` or a loopback address, read by the URL parser reqwest sends
/// with, so the host judged is the host connected to. User info
/// (`localhost:80@evil.example`) or a URL that does not parse is not.
fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return false;
    }
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
