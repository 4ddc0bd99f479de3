//! Counters and histograms through the `metrics` facade (feature
//! `metrics`; without it every function here is empty and compiles away).
//! Names follow Prometheus conventions (`_total` counters, `_seconds`
//! histograms); labels hold reasons and outcomes, never a token, a user id
//! or another unbounded value. Listed in docs/operations.md.
#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

/// `clerk_authentications_total{outcome, reason}`: every authenticated
/// request, by outcome (`signed_in`, `machine`, `signed_out`,
/// `handshake`) and Clerk's reason (empty when signed in).
pub(crate) const AUTHENTICATIONS: &str = "clerk_authentications_total";
/// `clerk_token_cache_total{result}`: verified-token cache lookups (`hit`,
/// `miss`).
pub(crate) const TOKEN_CACHE: &str = "clerk_token_cache_total";
/// `clerk_key_fetches_total{source, outcome}`: key set fetches (`ok`,
/// `error`).
pub(crate) const KEY_FETCHES: &str = "clerk_key_fetches_total";
/// `clerk_backend_api_requests_total{endpoint, outcome}`: Backend API calls
/// (`ok`, `rate_limited` for a 429, `refused` when the budget or a 429
/// pause kept the call from being made, `client_error`, `server_error`,
/// `unreachable`).
pub(crate) const BACKEND_API: &str = "clerk_backend_api_requests_total";
/// `clerk_fleet_budget_fallback_total`: times a Backend API call found the
/// fleet budget's Redis slow or down and the local share took over (for a
/// second each; feature `redis`).
#[cfg(feature = "redis")]
pub(crate) const FLEET_FALLBACK: &str = "clerk_fleet_budget_fallback_total";
/// `clerk_token_verification_duration_seconds`: the uncached verification
/// of a session token (parse, key, RS256, claims).
pub(crate) const VERIFICATION: &str = "clerk_token_verification_duration_seconds";

#[cfg(feature = "metrics")]
mod on {
    use std::sync::OnceLock;

    /// The two counters every cached request bumps, registered once (a
    /// labelled `counter!` builds its key, a `Vec`, on every call). Install
    /// the recorder before the first request, as `metrics` asks.
    static SIGNED_IN: OnceLock<metrics::Counter> = OnceLock::new();
    static CACHE_HIT: OnceLock<metrics::Counter> = OnceLock::new();

    /// One authentication, by its labels (`Auth::labels`).
    pub(crate) fn auth((outcome, reason): (&'static str, &'static str)) {
        if outcome == "signed_in" {
            SIGNED_IN
                .get_or_init(|| {
                    metrics::counter!(super::AUTHENTICATIONS, "outcome" => "signed_in", "reason" => "")
                })
                .increment(1);
            return;
        }
        metrics::counter!(super::AUTHENTICATIONS, "outcome" => outcome, "reason" => reason)
            .increment(1);
    }

    pub(crate) fn cache(hit: bool) {
        if hit {
            CACHE_HIT
                .get_or_init(|| metrics::counter!(super::TOKEN_CACHE, "result" => "hit"))
                .increment(1);
        } else {
            metrics::counter!(super::TOKEN_CACHE, "result" => "miss").increment(1);
        }
    }

    pub(crate) fn key_fetch(source: &'static str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        metrics::counter!(super::KEY_FETCHES, "source" => source, "outcome" => outcome)
            .increment(1);
    }

    pub(crate) fn backend(endpoint: &str, outcome: &'static str) {
        // Only the first path segment, from a fixed set: ids never become
        // label values.
        let endpoint = match endpoint {
            "jwks" | "users" | "organizations" | "sessions" | "clients" | "api_keys"
            | "m2m_tokens" | "oauth_applications" => endpoint.to_owned(),
            _ => "other".to_owned(),
        };
        metrics::counter!(super::BACKEND_API, "endpoint" => endpoint, "outcome" => outcome)
            .increment(1);
    }

    /// One call counted locally for want of the fleet's Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn fleet_fallback() {
        metrics::counter!(super::FLEET_FALLBACK).increment(1);
    }

    pub(crate) fn start() -> Option<std::time::Instant> {
        Some(std::time::Instant::now())
    }

    pub(crate) fn verification(started: Option<std::time::Instant>) {
        if let Some(started) = started {
            metrics::histogram!(super::VERIFICATION).record(started.elapsed().as_secs_f64());
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod on {
    #[inline(always)]
    pub(crate) fn auth(_: (&'static str, &'static str)) {}
    #[inline(always)]
    pub(crate) fn cache(_: bool) {}
    #[inline(always)]
    pub(crate) fn key_fetch(_: &'static str, _: bool) {}
    #[inline(always)]
    pub(crate) fn backend(_: &str, _: &'static str) {}
    #[cfg(feature = "redis")]
    #[inline(always)]
    pub(crate) fn fleet_fallback() {}
    /// No clock read without the feature.
    #[inline(always)]
    pub(crate) fn start() -> Option<std::time::Instant> {
        None
    }
    #[inline(always)]
    pub(crate) fn verification(_: Option<std::time::Instant>) {}
}

#[cfg(feature = "redis")]
pub(crate) use on::fleet_fallback;
pub(crate) use on::{auth, backend, cache, key_fetch, start, verification};
