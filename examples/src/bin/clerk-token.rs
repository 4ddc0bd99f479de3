//! `clerk-token`: make throwaway keys, mint Clerk-shaped session tokens, and
//! verify tokens exactly as `clerk-core` does, printing one JSON line each.
//!
//! ```text
//! clerk-token keygen --out-dir keys [--kid ins_test]
//! clerk-token mint --private-key keys/private.pem [--kid ins_test] [--ttl 60] [--claims '{"org_id":"org_1"}']
//! clerk-token verify --jwks-file keys/jwks.json [--check role:admin] TOKEN...
//! ```
//!
//! Exit status: 0 when every token is valid, 1 when any is invalid, 2 on
//! usage or configuration errors.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a CLI talks on stdio

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use clerk_core::authorize::{Level, Reverification};
use clerk_core::clock::{Clock, ManualClock, SystemClock};
use clerk_core::testing::TestIssuer;
use clerk_core::{Clerk, ClerkConfig, Preset, Requirement};
use serde_json::{Map, Value, json};

#[derive(Parser)]
#[command(
    name = "clerk-token",
    version,
    about = "Make keys, mint and verify Clerk session tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a throwaway RSA-2048 key: private.pem (PKCS#8), public.pem (SPKI), jwks.json.
    Keygen {
        /// Directory to write the three files into (created if missing).
        #[arg(long)]
        out_dir: PathBuf,
        /// Key id written into jwks.json.
        #[arg(long, default_value = "ins_test")]
        kid: String,
    },
    /// Print one signed session token.
    Mint {
        /// PKCS#8 PEM private key (from `keygen`).
        #[arg(long)]
        private_key: PathBuf,
        /// Key id put in the token header.
        #[arg(long, default_value = "ins_test")]
        kid: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 60)]
        ttl: i64,
        /// JSON object merged over the defaults (sub, sid, iat, nbf, exp).
        #[arg(long)]
        claims: Option<String>,
    },
    /// Verify tokens (arguments, else one per line on stdin).
    Verify(VerifyArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("key").required(true).args(["jwt_key", "jwks_file"])))]
struct VerifyArgs {
    /// PEM public key, or a file holding one (networkless, like CLERK_JWT_KEY).
    #[arg(long, allow_hyphen_values = true)]
    jwt_key: Option<String>,
    /// JWKS document file.
    #[arg(long)]
    jwks_file: Option<PathBuf>,
    /// Accepted `azp` (repeatable).
    #[arg(long = "authorized-party")]
    authorized_parties: Vec<String>,
    /// Required `iss`.
    #[arg(long)]
    issuer: Option<String>,
    /// Clock skew in seconds.
    #[arg(long, default_value_t = 5)]
    skew_secs: u64,
    /// Verify as if the time were this (seconds since the epoch).
    #[arg(long)]
    now: Option<i64>,
    /// Treat pending sessions as signed in.
    #[arg(long)]
    accept_pending: bool,
    /// Authorization check to report (repeatable): role:<r>, permission:<p>,
    /// plan:<p>, feature:<f>, reverification:<preset>,
    /// reverification:<level>:<minutes>, mfa.
    #[arg(long = "check")]
    checks: Vec<String>,
    /// Tokens to verify.
    tokens: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { out_dir, kid } => keygen(&out_dir, &kid),
        Command::Mint {
            private_key,
            kid,
            ttl,
            claims,
        } => mint(&private_key, &kid, ttl, claims.as_deref()),
        Command::Verify(args) => return verify(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => usage_error(&message),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("clerk-token: {message}");
    ExitCode::from(2)
}

fn keygen(dir: &Path, kid: &str) -> Result<(), String> {
    let issuer = TestIssuer::with_kid(kid);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |name: &str, contents: String| {
        let path = dir.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write("private.pem", issuer.private_key_pem())?;
    write("public.pem", issuer.public_key_pem())?;
    write("jwks.json", issuer.jwks_json())?;
    eprintln!(
        "wrote private.pem, public.pem and jwks.json (kid {kid}) to {}",
        dir.display()
    );
    Ok(())
}

fn mint(private_key: &Path, kid: &str, ttl: i64, claims: Option<&str>) -> Result<(), String> {
    let pem = std::fs::read_to_string(private_key)
        .map_err(|e| format!("cannot read {}: {e}", private_key.display()))?;
    let issuer = TestIssuer::from_private_key_pem(&pem, kid).map_err(|e| e.to_string())?;
    let extra: Map<String, Value> = match claims {
        None => Map::new(),
        Some(json) => match serde_json::from_str(json) {
            Ok(Value::Object(map)) => map,
            _ => return Err("--claims must be a JSON object".into()),
        },
    };
    let iat = extra
        .get("iat")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| SystemClock.now_unix());
    let mut payload = json!({
        "sub": "user_test",
        "sid": "sess_test",
        "iat": iat,
        "nbf": iat - 10,
        "exp": iat + ttl,
    });
    if let Value::Object(map) = &mut payload {
        map.extend(extra);
    }
    let header = json!({"alg": "RS256", "cat": "cl_B7d4PD111AAA", "kid": kid, "typ": "JWT"});
    println!("{}", issuer.sign_raw(&header, &payload));
    Ok(())
}

fn verify(args: VerifyArgs) -> ExitCode {
    let checks: Vec<(String, Requirement)> = match args
        .checks
        .iter()
        .map(|c| parse_check(c).map(|r| (c.clone(), r)))
        .collect::<Result<_, _>>()
    {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let verifier = match build_verifier(&args) {
        Ok(v) => v,
        Err(e) => return usage_error(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => return usage_error(&format!("cannot start runtime: {e}")),
    };
    let mut all_valid = true;
    let mut out = std::io::stdout().lock();
    // One output line per input: a token's result, or what was refused
    // (also said on stderr).
    let mut answer = |input: Result<&str, String>| -> bool {
        let line = match input {
            Ok(token) => match runtime.block_on(verifier.verify(token)) {
                Ok(session) => {
                    let mut summary =
                        serde_json::to_value(clerk_examples::app::session_json(&session))
                            .unwrap_or(Value::Null);
                    let results: Map<String, Value> = checks
                        .iter()
                        .map(|(expr, req)| (expr.clone(), Value::Bool(req.is_met_by(&session))))
                        .collect();
                    if let Value::Object(map) = &mut summary {
                        map.insert("valid".into(), Value::Bool(true));
                        map.insert("checks".into(), Value::Object(results));
                    }
                    summary
                }
                Err(e) => {
                    all_valid = false;
                    json!({"valid": false, "reason": e.reason().as_str(), "message": e.message()})
                }
            },
            Err(refused) => {
                all_valid = false;
                // Never panics, even with stderr closed.
                let _ = writeln!(
                    std::io::stderr(),
                    "clerk-token: {refused}; reported as token-invalid"
                );
                json!({"valid": false, "reason": "token-invalid", "message": refused})
            }
        };
        writeln!(out, "{line}").is_ok()
    };
    if args.tokens.is_empty() {
        let mut input = std::io::stdin().lock();
        let mut number = 0_u64;
        loop {
            let line = match read_line(&mut input) {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("clerk-token: cannot read standard input: {e}");
                    return ExitCode::from(2);
                }
            };
            number += 1;
            let input = match &line {
                Line::TooLong => Err(format!("line {number} is longer than {MAX_LINE} bytes")),
                // A byte-order mark on the first line is not part of a token.
                Line::Bytes(bytes) => match std::str::from_utf8(match number {
                    1 => bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes),
                    _ => bytes,
                })
                .map(str::trim)
                {
                    Ok("") => Err(format!("line {number} is empty")),
                    Ok(token) => Ok(token),
                    Err(_) => Err(format!("line {number} is not valid UTF-8")),
                },
            };
            if !answer(input) {
                return ExitCode::from(2);
            }
        }
    } else {
        for token in &args.tokens {
            if !answer(Ok(token)) {
                return ExitCode::from(2);
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The longest standard-input line read as a token (Clerk's tokens are a
/// few KiB); a longer one is refused without holding it in memory.
const MAX_LINE: u64 = 64 * 1024;

/// One line of standard input, without its line ending.
enum Line {
    /// The line's bytes (not yet known to be UTF-8).
    Bytes(Vec<u8>),
    /// Longer than [`MAX_LINE`]; skipped to its end.
    TooLong,
}

/// Reads one line as bytes (so a line that is not UTF-8 is still a line,
/// where `BufRead::lines` would stop), `None` at the end of input.
fn read_line(input: &mut impl BufRead) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    if input
        .by_ref()
        .take(MAX_LINE + 1)
        .read_until(b'\n', &mut buf)?
        == 0
    {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Some(Line::Bytes(buf)));
    }
    if (buf.len() as u64) <= MAX_LINE {
        return Ok(Some(Line::Bytes(buf))); // the last line, with no newline
    }
    // Too long: skip the rest of the line, a bounded piece at a time.
    loop {
        let mut rest = Vec::new();
        let n = input.by_ref().take(MAX_LINE).read_until(b'\n', &mut rest)?;
        if n == 0 || rest.last() == Some(&b'\n') {
            return Ok(Some(Line::TooLong));
        }
    }
}

fn build_verifier(args: &VerifyArgs) -> Result<Clerk, String> {
    let clock: Arc<dyn Clock> = match args.now {
        Some(now) => Arc::new(ManualClock::new(now)),
        None => Arc::new(SystemClock),
    };
    let mut builder = ClerkConfig::builder()
        .authorized_parties(args.authorized_parties.clone())
        .clock_skew(Duration::from_secs(args.skew_secs))
        .accept_pending_sessions(args.accept_pending)
        .clock(clock);
    if let Some(key) = &args.jwt_key {
        let pem = if Path::new(key).is_file() {
            std::fs::read_to_string(key).map_err(|e| format!("cannot read {key}: {e}"))?
        } else {
            key.clone()
        };
        builder = builder.jwt_key(pem);
    }
    if let Some(file) = &args.jwks_file {
        let json = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        builder = builder.jwks_json(json);
    }
    if let Some(issuer) = &args.issuer {
        builder = builder.issuer(issuer.clone());
    }
    let config = builder.build().map_err(|e| e.to_string())?;
    Clerk::new(config).map_err(|e| e.to_string())
}

/// Reads the check expressions of `clerk-token verify --check`:
/// `role:<r>`, `permission:<p>`, `plan:<p>`, `feature:<f>`,
/// `reverification:<strict_mfa|strict|moderate|lax>`,
/// `reverification:<level>:<minutes>`, or `mfa`.
fn parse_check(expr: &str) -> Result<Requirement, String> {
    let err = || {
        format!(
            "invalid check expression {expr:?}: expected role:<r>, permission:<p>, plan:<p>, \
             feature:<f>, reverification:<preset>, reverification:<level>:<minutes> or mfa"
        )
    };
    if expr == "mfa" {
        return Ok(Requirement::mfa());
    }
    let (kind, arg) = expr.split_once(':').ok_or_else(err)?;
    if arg.is_empty() {
        return Err(err());
    }
    match kind {
        "role" => Ok(Requirement::role(arg)),
        "permission" => Ok(Requirement::permission(arg)),
        "plan" => Ok(Requirement::plan(arg)),
        "feature" => Ok(Requirement::feature(arg)),
        "reverification" => match arg.split_once(':') {
            None => Preset::parse(arg)
                .map(Requirement::reverification)
                .ok_or_else(err),
            Some((level, minutes)) => {
                let level = Level::parse(level).ok_or_else(err)?;
                let minutes = minutes.parse().map_err(|_| err())?;
                Ok(Requirement::reverification(Reverification::new(
                    level, minutes,
                )))
            }
        },
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_expressions_parse() {
        let issuer = clerk_core::testing::TestIssuer::new();
        let clerk = clerk_core::Clerk::new(issuer.config().build().unwrap()).unwrap();
        let token = issuer
            .token()
            .org("org_1", "acme", "admin")
            .claim("pla", json!("o:pro"))
            .claim("fva", json!([1, 1]))
            .build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let session = rt.block_on(clerk.verify(&token)).unwrap();
        for (expr, want) in [
            ("role:admin", true),
            ("role:org:member", false),
            ("permission:org:x:y", false),
            ("plan:pro", true),
            ("plan:u:pro", false),
            ("feature:x", false),
            ("reverification:strict", true),
            ("reverification:strict_mfa", true),
            ("reverification:second_factor:1", false),
            ("reverification:second_factor:2", true),
            ("mfa", true),
        ] {
            let r = parse_check(expr).unwrap();
            assert_eq!(r.is_met_by(&session), want, "{expr}");
        }
        for bad in [
            "",
            "admin",
            "role:",
            "reverification:sometimes",
            "reverification:second_factor:x",
            "reverification:eleventh_factor:5",
            "group:admins",
        ] {
            assert!(parse_check(bad).is_err(), "{bad:?}");
        }
    }
}
