//! Black-box tests of the `clerk-token` binary: keygen, mint, verify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use clerk_core::testing::TestIssuer;
use serde_json::{Value, json};

fn cli(args: &[&str], stdin: Option<&str>) -> Output {
    cli_bytes(args, stdin.map(str::as_bytes))
}

fn cli_bytes(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clerk-token"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn keygen(dir: &Path, kid: &str) {
    let out = cli(
        &["keygen", "--out-dir", dir.to_str().unwrap(), "--kid", kid],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    for f in ["private.pem", "public.pem", "jwks.json"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("clerk-token-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn test_issuer_token_round_trips_through_the_cli() {
    let dir = tempdir("roundtrip");
    keygen(&dir, "ins_cli");
    let pem = std::fs::read_to_string(dir.join("private.pem")).unwrap();
    let issuer = TestIssuer::from_private_key_pem(&pem, "ins_cli").unwrap();
    let token = issuer
        .token()
        .user("user_rt")
        .session("sess_rt")
        .org("org_1", "acme", "admin")
        .permissions(["org:reports:read"])
        .plan("o:pro")
        .feature("u:avatar")
        .factor_age(3, 4)
        .actor("user_support", "sess_support")
        .build();
    let jwks = dir.join("jwks.json");
    let out = cli(
        &[
            "verify",
            "--jwks-file",
            jwks.to_str().unwrap(),
            "--issuer",
            issuer.issuer(),
            "--authorized-party",
            "http://localhost:3000",
            "--check",
            "role:admin",
            "--check",
            "permission:org:reports:read",
            "--check",
            "plan:pro",
            "--check",
            "feature:user:avatar",
            "--check",
            "reverification:strict_mfa",
            "--check",
            "reverification:first_factor:3",
            "--check",
            "mfa",
            &token,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        lines(&out),
        [json!({
            "valid": true,
            "user_id": "user_rt",
            "session_id": "sess_rt",
            "org_id": "org_1",
            "org_role": "org:admin",
            "org_slug": "acme",
            "org_permissions": ["org:reports:read"],
            "plan": "o:pro",
            "features": ["o:reports", "u:avatar"],
            "factor_age": [3, 4],
            "status": "active",
            "actor": {"sub": "user_support", "sid": "sess_support"},
            "checks": {
                "role:admin": true,
                "permission:org:reports:read": true,
                "plan:pro": true,
                "feature:user:avatar": true,
                "reverification:strict_mfa": true,
                "reverification:first_factor:3": false,
                "mfa": true,
            }
        })]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mint_then_verify_with_pem_and_stdin() {
    let dir = tempdir("mint");
    keygen(&dir, "ins_test");
    let private = dir.join("private.pem");
    let out = cli(
        &[
            "mint",
            "--private-key",
            private.to_str().unwrap(),
            "--ttl",
            "120",
            "--claims",
            r#"{"sub":"user_m","iat":1700000000,"o":{"id":"org_9","rol":"member"},"v":2}"#,
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let public = dir.join("public.pem");
    let verify = |now: &str| {
        cli(
            &[
                "verify",
                "--jwt-key",
                public.to_str().unwrap(),
                "--now",
                now,
            ],
            Some(&format!("{token}\n\nnot-a-token\n")),
        )
    };
    // exp = iat + ttl = 1700000120; inside the window: first valid, second invalid.
    let out = verify("1700000060");
    assert_eq!(out.status.code(), Some(1));
    let got = lines(&out);
    assert_eq!(got.len(), 3, "one answer per input line");
    assert_eq!(got[0]["valid"], true);
    assert_eq!(got[0]["user_id"], "user_m");
    assert_eq!(got[0]["org_role"], "org:member");
    assert_eq!(got[0]["checks"], json!({}));
    assert_eq!(
        got[1],
        json!({"valid": false, "reason": "token-invalid", "message": "line 2 is empty"})
    );
    assert_eq!(
        got[2],
        json!({"valid": false, "reason": "token-invalid", "message": "token must have exactly three segments"})
    );
    // Past exp + skew: expired.
    let out = verify("1700000125");
    assert_eq!(lines(&out)[0]["reason"], "token-expired");
    // Before nbf - skew (nbf = iat - 10): not active yet.
    let out = verify("1699999984");
    assert_eq!(lines(&out)[0]["reason"], "token-not-active-yet");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verify_options_change_the_outcome() {
    let issuer = TestIssuer::new();
    let dir = tempdir("options");
    std::fs::create_dir_all(&dir).unwrap();
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, issuer.jwks_json()).unwrap();
    let jwks = jwks.to_str().unwrap();
    let pending = issuer.token().pending().build();
    let out = cli(&["verify", "--jwks-file", jwks, &pending], None);
    assert_eq!(lines(&out)[0]["reason"], "session-pending");
    let out = cli(
        &["verify", "--jwks-file", jwks, "--accept-pending", &pending],
        None,
    );
    assert_eq!(lines(&out)[0]["status"], "pending");
    let t = issuer.token().build();
    let out = cli(
        &[
            "verify",
            "--jwks-file",
            jwks,
            "--authorized-party",
            "https://other.example",
            &t,
        ],
        None,
    );
    assert_eq!(lines(&out)[0]["reason"], "token-invalid-authorized-parties");
    let out = cli(
        &[
            "verify",
            "--jwks-file",
            jwks,
            "--issuer",
            "https://other.example",
            &t,
        ],
        None,
    );
    assert_eq!(lines(&out)[0]["reason"], "token-invalid-issuer");
    // The PEM may be passed inline.
    let out = cli(&["verify", "--jwt-key", &issuer.public_key_pem(), &t], None);
    assert_eq!(out.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let out = cli(&["verify", "token"], None);
    assert_eq!(out.status.code(), Some(2), "no key source");
    let out = cli(&["verify", "--jwt-key", "not-a-key", "token"], None);
    assert_eq!(out.status.code(), Some(2), "bad key");
    let issuer = TestIssuer::new();
    let pem = issuer.public_key_pem();
    let out = cli(
        &["verify", "--jwt-key", &pem, "--check", "group:x", "t"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "bad check");
    assert!(String::from_utf8_lossy(&out.stderr).contains("group:x"));
    let out = cli(&["mint", "--private-key", "/nonexistent/key.pem"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&["frobnicate"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_stdin_line_gets_one_answer_even_when_not_utf8_or_huge() {
    let dir = tempdir("odd");
    keygen(&dir, "ins_odd");
    let public = dir.join("public.pem");
    let args = ["verify", "--jwt-key", public.to_str().unwrap()];
    // The issue's own input: a line that is not UTF-8 between two others.
    let out = cli_bytes(&args, Some(b"abc\n\xff\ndef\n"));
    assert_eq!(out.status.code(), Some(1));
    let got = lines(&out);
    assert_eq!(got.len(), 3, "{out:?}");
    assert_eq!(
        got[1],
        json!({"valid": false, "reason": "token-invalid", "message": "line 2 is not valid UTF-8"})
    );
    assert_eq!(
        got[2]["message"], "token must have exactly three segments",
        "reading went on"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 2 is not valid UTF-8"), "{stderr}");

    // CRLF endings, no final newline, a line longer than the cap, and
    // invalid UTF-8 split across what a reader might buffer.
    let mut input = b"abc\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'a', 200 * 1024));
    input.extend(b"\n\xe2\x82\nlast");
    let out = cli_bytes(&args, Some(&input));
    let got = lines(&out);
    assert_eq!(got.len(), 4, "{out:?}");
    assert_eq!(
        got[0]["message"], "token must have exactly three segments",
        "\\r stripped"
    );
    assert_eq!(got[1]["message"], "line 2 is longer than 65536 bytes");
    assert_eq!(got[2]["message"], "line 3 is not valid UTF-8");
    assert_eq!(got[3]["reason"], "token-invalid");
}
