//! A one-command tour of `clerk-core` with no Clerk account: a throwaway key,
//! tokens for a few personas, and what the verifier and `has()` say of each.
//!
//! `cargo run -p clerk-examples --bin demo`
#![allow(clippy::print_stdout)] // a demo talks on stdout

use clerk_core::testing::TestIssuer;
use clerk_core::{Clerk, Preset, Requirement};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("clerk-core demo: throwaway RSA key, no network, no Clerk account\n");
    let issuer = TestIssuer::new();
    let verifier = Clerk::new(issuer.config().build()?)?;

    let personas = [
        (
            "member",
            issuer
                .token()
                .user("user_member")
                .org("org_acme", "acme", "member")
                .build(),
        ),
        (
            "org admin",
            issuer
                .token()
                .user("user_admin")
                .org("org_acme", "acme", "admin")
                .permissions(["org:reports:read"])
                .build(),
        ),
        (
            "pro plan",
            issuer
                .token()
                .user("user_pro")
                .plan("u:pro")
                .feature("u:export")
                .build(),
        ),
        (
            "stale 2nd factor",
            issuer.token().user("user_stale").factor_age(90, 90).build(),
        ),
        (
            "fresh MFA",
            issuer.token().user("user_mfa").factor_age(2, 2).build(),
        ),
        (
            "expired",
            issuer.token().user("user_late").expired().build(),
        ),
        (
            "wrong azp",
            issuer.token().azp("https://evil.example").build(),
        ),
    ];
    let checks = [
        ("role:org:admin", Requirement::role("org:admin")),
        (
            "permission:org:reports:read",
            Requirement::permission("org:reports:read"),
        ),
        ("plan:pro", Requirement::plan("pro")),
        (
            "reverification:strict",
            Requirement::reverification(Preset::Strict),
        ),
        ("mfa", Requirement::mfa()),
    ];
    for (name, token) in personas {
        match verifier.verify(&token).await {
            Ok(session) => {
                let passed: Vec<&str> = checks
                    .iter()
                    .filter(|(_, r)| r.is_met_by(&session))
                    .map(|(label, _)| *label)
                    .collect();
                println!(
                    "{name:>17}: signed in as {}; passes {passed:?}",
                    session.user_id()
                );
            }
            Err(e) => println!("{name:>17}: signed out ({})", e.reason()),
        }
    }
    println!("\nDebug your own tokens: cargo run -p clerk-examples --bin clerk-token -- --help");
    Ok(())
}
