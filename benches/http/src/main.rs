//! Servers and token minting for the HTTP load benchmark (`run.sh`).
//!
//! * `http-bench mint DIR N`: a throwaway signing key; writes `DIR/key.pem`
//!   (public key), `DIR/jwk.json`, `DIR/same.txt` (one token) and
//!   `DIR/tokens.txt` (N distinct tokens, each a realistic ~1 KB Clerk v2
//!   session token valid for 15 minutes).
//! * `http-bench serve MODE`: binds `127.0.0.1:0`, prints
//!   `listening 127.0.0.1:PORT`, and answers `GET /api/me` with
//!   `{"user_id": sub}`:
//!   * `noauth`: no authentication (a fixed user id);
//!   * `quickstart`: README's axum quickstart (`Clerk::from_env`,
//!     `ClerkLayer`, the `Session` extractor);
//!   * `jwt`: a hand-written middleware on `jsonwebtoken` (aws-lc-rs), the
//!     peer the goals are measured against (`JWK` env: the key).

use std::io::Write;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use clerk_axum::{Clerk, ClerkLayer, Session};
use serde::Deserialize;
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["mint", dir, n] => mint(dir, n.parse()?),
        ["serve", mode] => serve(mode),
        _ => Err("usage: http-bench mint DIR N | http-bench serve noauth|quickstart|jwt".into()),
    }
}

fn mint(dir: &str, n: usize) -> Result<(), Error> {
    let issuer = clerk_core::testing::TestIssuer::new();
    let dir = std::path::Path::new(dir);
    std::fs::write(dir.join("key.pem"), issuer.public_key_pem())?;
    std::fs::write(dir.join("jwk.json"), issuer.jwk().to_string())?;
    let token = |i: usize| {
        issuer
            .token()
            .ttl(900)
            .user(&format!("user_2d3vF6Zh4iYkq8GdGPN4a{i:07}"))
            .session(&format!("sess_2mUXsGJ8Ak2nY2a7HMdbC{i:07}"))
            .realistic()
            .build()
    };
    std::fs::write(dir.join("same.txt"), token(0) + "\n")?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("tokens.txt"))?);
    for i in 1..=n {
        writeln!(out, "{}", token(i))?;
    }
    out.flush()?;
    Ok(())
}

#[tokio::main]
async fn serve(mode: &str) -> Result<(), Error> {
    let app = match mode {
        "noauth" => Router::new().route(
            "/api/me",
            get(|| async { Json(json!({"user_id": "user_2d3vF6Zh4iYkq8GdGPN4a0000000"})) }),
        ),
        "quickstart" => {
            // README's quickstart, with the response this benchmark uses.
            async fn me(session: Session) -> Json<Value> {
                Json(json!({"user_id": session.user_id()}))
            }
            let clerk = Clerk::from_env()?;
            Router::new()
                .route("/api/me", get(me))
                .layer(ClerkLayer::new(clerk))
        }
        "jwt" => {
            let jwk: Value = serde_json::from_str(&std::env::var("JWK")?)?;
            let key = jsonwebtoken::DecodingKey::from_rsa_components(
                jwk["n"].as_str().ok_or("jwk n")?,
                jwk["e"].as_str().ok_or("jwk e")?,
            )?;
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            validation.set_required_spec_claims(&["exp", "nbf", "sub"]);
            validation.validate_nbf = true;
            validation.leeway = 5;
            let keys = std::sync::Arc::new((key, validation));
            async fn me(Extension(claims): Extension<std::sync::Arc<Claims>>) -> Json<Value> {
                Json(json!({"user_id": claims.sub}))
            }
            Router::new()
                .route("/api/me", get(me))
                .layer(middleware::from_fn(move |req, next| {
                    jwt_middleware(keys.clone(), req, next)
                }))
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

async fn jwt_middleware(
    keys: std::sync::Arc<(jsonwebtoken::DecodingKey, jsonwebtoken::Validation)>,
    mut req: Request,
    next: Next,
) -> Result<Response, StatusCode> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let data = jsonwebtoken::decode::<Claims>(token, &keys.0, &keys.1)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    req.extensions_mut()
        .insert(std::sync::Arc::new(data.claims));
    Ok(next.run(req).await)
}
