//! Verification cost, quoted against the raw aws-lc-rs RSA-2048 verify of the
//! same signature with a pre-parsed key, measured in the same run.
//!
//! `cargo bench -p clerk-core --features testing`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    clippy::print_stderr
)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clerk_core::clock::ManualClock;
use clerk_core::testing::TestIssuer;
use clerk_core::{Clerk, Requirement};
use criterion::{Criterion, criterion_group, criterion_main};

const NOW: i64 = 1_750_000_000;

/// Local key sources never suspend, so one poll completes the future.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("local key sources never suspend"),
    }
}

fn realistic_v2_token(issuer: &TestIssuer) -> String {
    issuer
        .token()
        .issued_at(NOW)
        .user("user_2d3vF6Zh4iYkq8GdGPN4aIhF0Pa")
        .session("sess_2mUXsGJ8Ak2nY2a7HMdbCWxwf2e")
        .realistic()
        .build()
}

/// The realistic token with its own user and session ids.
fn distinct_v2_token(issuer: &TestIssuer, i: usize) -> String {
    issuer
        .token()
        .issued_at(NOW)
        .user(&format!("user_2d3vF6Zh4iYkq8GdGPN{i:08}"))
        .session(&format!("sess_2mUXsGJ8Ak2nY2a7HMd{i:08}"))
        .realistic()
        .build()
}

fn bench(c: &mut Criterion) {
    let issuer = TestIssuer::new();
    let token = realistic_v2_token(&issuer);
    let clock = Arc::new(ManualClock::new(NOW));
    let config = || {
        issuer
            .config()
            .authorized_parties(["https://app.example.com"])
            .clock(clock.clone())
    };
    let uncached = Clerk::new(config().token_cache_capacity(0).build().unwrap()).unwrap();
    let cached = Clerk::new(config().build().unwrap()).unwrap();
    ready(cached.verify(&token)).unwrap();

    let jwk = issuer.jwk();
    let decode = |k: &str| URL_SAFE_NO_PAD.decode(jwk[k].as_str().unwrap()).unwrap();
    let raw_key = PublicKeyComponents {
        n: decode("n"),
        e: decode("e"),
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let (signing_input, sig64) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(sig64).unwrap();

    let mut g = c.benchmark_group("verify");
    g.bench_function("raw_rsa2048_verify", |b| {
        b.iter(|| {
            raw_key
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });
    g.bench_function("uncached_v2_token", |b| {
        b.iter(|| ready(uncached.verify(black_box(&token))).unwrap())
    });
    // Organization, billing and factor-age claims are decoded on first use:
    // this line pays for that too, once per token.
    let permission = Requirement::permission("org:projects:revoke");
    g.bench_function("uncached_v2_token_then_permission_check", |b| {
        b.iter(|| {
            let session = ready(uncached.verify(black_box(&token))).unwrap();
            assert!(permission.is_met_by(&session));
        })
    });
    g.bench_function("cached_v2_token", |b| {
        b.iter(|| ready(cached.verify(black_box(&token))).unwrap())
    });
    // More distinct tokens than the cache holds, round robin: calls miss,
    // verify, insert and evict. Against the same tokens uncached, this is
    // what the cache costs a miss (hashing, insertion, eviction).
    let full = Clerk::new(config().token_cache_capacity(500).build().unwrap()).unwrap();
    let distinct: Vec<String> = (0..2_000).map(|i| distinct_v2_token(&issuer, i)).collect();
    let mut next = distinct.iter().cycle();
    g.bench_function("distinct_tokens_uncached", |b| {
        b.iter(|| ready(uncached.verify(black_box(next.next().unwrap()))).unwrap())
    });
    g.bench_function("distinct_tokens_full_cache", |b| {
        b.iter(|| ready(full.verify(black_box(next.next().unwrap()))).unwrap())
    });
    // The cache may keep some of them (a hit costs nanoseconds): say how
    // many, so the miss cost can be read off the two lines above.
    let hits = distinct
        .iter()
        .filter(|t| {
            let start = std::time::Instant::now();
            ready(full.verify(t)).unwrap();
            start.elapsed() < Duration::from_micros(2)
        })
        .count();
    eprintln!(
        "distinct_tokens_full_cache: {hits} of {} tokens were hits",
        distinct.len()
    );
    g.finish();

    // A request carrying its token in Clerk's cookies (not a page load):
    // Clerk's cookie rules (parse, `usesSuffixedCookies`, `__client_uat`)
    // before the cache, against the same token as a bearer header.
    let with_pk = Clerk::new(
        config()
            .publishable_key(clerk_core::testing::publishable_key_for(
                issuer.issuer().trim_start_matches("https://"),
                true,
            ))
            .build()
            .unwrap(),
    )
    .unwrap();
    let header = |name: &'static str, value: String| {
        let mut h = http::HeaderMap::new();
        h.insert("host", http::HeaderValue::from_static("app.example.com"));
        h.insert(name, http::HeaderValue::from_str(&value).unwrap());
        h
    };
    let request = |h: http::HeaderMap| clerk_core::testing::request("GET", "/api/me", &h);
    let bearer = request(header("authorization", format!("Bearer {token}")));
    let cookie = request(header(
        "cookie",
        format!("theme=dark; __client_uat=1; __session={token}"),
    ));
    let mut g = c.benchmark_group("request");
    g.bench_function("cached_bearer_request", |b| {
        b.iter(|| {
            let auth = ready(with_pk.authenticate(black_box(&bearer)));
            assert!(auth.is_signed_in());
        })
    });
    g.bench_function("cached_cookie_request", |b| {
        b.iter(|| {
            let auth = ready(with_pk.authenticate(black_box(&cookie)));
            assert!(auth.is_signed_in());
        })
    });
    g.finish();

    let session = ready(cached.verify(&token)).unwrap();
    let req = Requirement::permission("org:projects:revoke").and(Requirement::plan("o:pro"));
    c.bench_function("has/permission_and_plan", |b| {
        b.iter(|| black_box(&req).is_met_by(black_box(&session)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
