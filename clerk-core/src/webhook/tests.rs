use super::*;
use crate::clock::ManualClock;
use http::{HeaderMap, HeaderValue};
use serde_json::json;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn verifier(now: i64) -> WebhookVerifier {
    WebhookVerifier::new(SECRET)
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(now)))
}

fn headers(prefix: &str, id: &str, ts: &str, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in [("id", id), ("timestamp", ts), ("signature", sig)] {
        h.insert(
            http::HeaderName::from_bytes(format!("{prefix}-{name}").as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    h
}

fn svix(sig: &str) -> HeaderMap {
    headers("svix", ID, &TS.to_string(), sig)
}

#[test]
fn published_vector_with_both_header_spellings() {
    let v = verifier(TS);
    assert_eq!(v.verify_signature(&svix(SIG), BODY), Ok(()));
    let standard = headers("webhook", ID, &TS.to_string(), SIG);
    assert_eq!(v.verify_signature(&standard, BODY), Ok(()));
    // The signer reproduces the published signature.
    let signer = WebhookSigner::new(SECRET).unwrap();
    assert_eq!(signer.signature(ID, TS, BODY), SIG);
    // Without the whsec_ prefix the secret is the same.
    let bare = WebhookVerifier::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap()
        .with_clock(Arc::new(ManualClock::new(TS)));
    assert_eq!(bare.verify_signature(&svix(SIG), BODY), Ok(()));
}

#[test]
fn any_v1_entry_of_a_list_may_match() {
    let v = verifier(TS);
    let other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    let list = format!("v2,abc {other} v1a,{} {SIG}", &SIG[3..]);
    assert_eq!(v.verify_signature(&svix(&list), BODY), Ok(()));
    let none = format!("{other} v2,{} garbage v1,!!!", &SIG[3..]);
    assert_eq!(
        v.verify_signature(&svix(&none), BODY),
        Err(WebhookError::NoMatchingSignature),
        "only v1 entries count"
    );
}

#[test]
fn tolerance_is_300_seconds_inclusive() {
    let at = |now| verifier(now).verify_signature(&svix(SIG), BODY);
    assert_eq!(at(TS + 300), Ok(()));
    assert_eq!(at(TS + 301), Err(WebhookError::TooOld));
    assert_eq!(at(TS - 300), Ok(()));
    assert_eq!(at(TS - 301), Err(WebhookError::TooNew));
}

#[test]
fn timestamps_must_be_whole_non_negative_numbers() {
    let v = verifier(TS);
    for ts in [
        "-1614265330",
        "1614265330.5",
        "abc",
        " ",
        "1e9",
        "+1614265330",
        "99999999999999999999",
    ] {
        let h = headers("svix", ID, ts, SIG);
        let got = v.verify_signature(&h, BODY);
        assert!(
            matches!(
                got,
                Err(WebhookError::InvalidTimestamp | WebhookError::MissingHeader(_))
            ),
            "{ts:?}: {got:?}"
        );
    }
}

#[test]
fn content_changes_break_the_signature() {
    let v = verifier(TS);
    // One whitespace removed from the body.
    assert_eq!(
        v.verify_signature(&svix(SIG), br#"{"test":2432232314}"#),
        Err(WebhookError::NoMatchingSignature)
    );
    // Id and timestamp swapped.
    let swapped = headers("svix", &TS.to_string(), ID, SIG);
    assert!(v.verify_signature(&swapped, BODY).is_err());
    // Another id.
    let other_id = headers("svix", "msg_other", &TS.to_string(), SIG);
    assert_eq!(
        v.verify_signature(&other_id, BODY),
        Err(WebhookError::NoMatchingSignature)
    );
}

#[test]
fn missing_headers_are_named() {
    let v = verifier(TS);
    for (drop, name) in [
        ("svix-id", "svix-id"),
        ("svix-timestamp", "svix-timestamp"),
        ("svix-signature", "svix-signature"),
    ] {
        let mut h = svix(SIG);
        h.remove(drop);
        assert_eq!(
            v.verify_signature(&h, BODY),
            Err(WebhookError::MissingHeader(name))
        );
    }
}

#[test]
fn secrets_are_checked_and_never_shown() {
    assert!(WebhookVerifier::new("").is_err());
    assert!(WebhookVerifier::new("whsec_").is_err());
    assert!(WebhookVerifier::new("whsec_!!!").is_err());
    let v = verifier(TS);
    assert!(!format!("{v:?}").contains("MfKQ9r8"));
    for e in [
        WebhookError::MissingHeader("svix-id"),
        WebhookError::NoMatchingSignature,
        WebhookError::TooOld,
    ] {
        assert!(!e.to_string().contains("MfKQ9r8"));
        assert_eq!(crate::Refusal::from(e).status(), 400);
    }
    assert_eq!(crate::Refusal::from(WebhookError::TooLarge).status(), 413);
    let missing = crate::Refusal::from(WebhookError::NotConfigured);
    assert_eq!(
        (missing.status().as_u16(), missing.reason()),
        (500, "webhook-verifier-missing")
    );
}

fn deliver(payload: &serde_json::Value) -> WebhookEvent {
    let body = payload.to_string();
    let signer = WebhookSigner::new(SECRET).unwrap();
    let mut h = HeaderMap::new();
    for (k, v) in signer.headers("msg_delivery_1", TS, body.as_bytes()) {
        h.insert(k, HeaderValue::from_str(&v).unwrap());
    }
    verifier(TS).verify(&h, body.as_bytes()).unwrap()
}

#[test]
fn user_created_is_typed() {
    let e = deliver(&json!({
        "data": {"birthday": "", "created_at": 1654012591514_i64,
            "email_addresses": [
                {"email_address": "other@example.org", "id": "idn_other", "linked_to": [], "object": "email_address"},
                {"email_address": "example@example.org", "id": "idn_29w83yL7CwVlJXylYLxcslromF1", "linked_to": [],
                 "object": "email_address", "verification": {"status": "verified", "strategy": "ticket"}}],
            "external_accounts": [], "external_id": "567772", "first_name": "Example", "gender": "",
            "id": "user_29w83sxmDNGwOuEthce5gg56FcC", "image_url": "https://img.clerk.com/xxxxxx",
            "last_name": "Example", "last_sign_in_at": 1654012591514_i64, "object": "user", "password_enabled": true,
            "phone_numbers": [{"id": "idn_phone", "phone_number": "+15555550100"}],
            "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF1", "primary_phone_number_id": "idn_phone",
            "primary_web3_wallet_id": null, "private_metadata": {"plan": "gold"}, "public_metadata": {"role": "editor"},
            "two_factor_enabled": true, "unsafe_metadata": {}, "updated_at": 1654012591835_i64, "username": null,
            "web3_wallets": []},
        "event_attributes": {"http_request": {"client_ip": "0.0.0.0", "user_agent": "Mozilla/5.0"}},
        "instance_id": "ins_123", "object": "event", "timestamp": 1654012591835_i64, "type": "user.created"
    }));
    assert_eq!(e.delivery_id, "msg_delivery_1");
    assert_eq!(
        (e.kind.as_str(), e.object.as_str()),
        ("user.created", "event")
    );
    assert_eq!(e.instance_id.as_deref(), Some("ins_123"));
    assert_eq!(e.timestamp, Some(1654012591835));
    assert!(e.event_attributes.is_some());
    assert_eq!(e.object_id(), Some("user_29w83sxmDNGwOuEthce5gg56FcC"));
    let EventData::User(u) = e.data else {
        panic!("{:?}", e.data)
    };
    assert_eq!(u.primary_email(), Some("example@example.org"));
    assert_eq!(u.primary_phone(), Some("+15555550100"));
    assert_eq!(u.public_metadata["role"], "editor");
    assert_eq!(u.private_metadata["plan"], "gold");
    assert_eq!(u.external_id.as_deref(), Some("567772"));
    assert!(u.two_factor_enabled);
    assert_eq!(u.updated_at, Some(1654012591835));
}

#[test]
fn deletions_sessions_orgs_memberships_invitations_emails() {
    let e = deliver(
        &json!({"data": {"deleted": true, "id": "user_29wBMCtzATuFJut8jO2VNTVekS4", "object": "user"},
        "object": "event", "type": "user.deleted"}),
    );
    assert_eq!(
        e.data,
        EventData::Deleted {
            id: Some("user_29wBMCtzATuFJut8jO2VNTVekS4".into()),
            object: Some("user".into()),
        }
    );
    let e = deliver(
        &json!({"data": {"abandon_at": 1700690174253_i64, "client_id": "client_2Y", "created_at": 1700085374250_i64,
        "expire_at": 1700690174253_i64, "id": "sess_2Y", "last_active_at": 1700085374250_i64, "object": "session",
        "status": "ended", "updated_at": 1700085374312_i64, "user_id": "user_2Y"}, "object": "event", "type": "session.ended"}),
    );
    let EventData::Session(s) = e.data else {
        panic!()
    };
    assert_eq!(
        (s.id.as_str(), s.user_id.as_str(), s.status.as_str()),
        ("sess_2Y", "user_2Y", "ended")
    );
    let org = json!({"created_at": 1654013202977_i64, "created_by": "user_1vq84bqWzw7qmFgqSwN4CH1Wp0n",
        "id": "org_29w9IfBrPmcpi0IeBVaKtA7R94W", "image_url": "https://img.clerk.com/xxxxxx",
        "logo_url": "https://example.org/example.png", "name": "Acme Inc", "object": "organization",
        "public_metadata": {}, "slug": "acme-inc", "updated_at": 1654013202977_i64});
    let e = deliver(&json!({"data": org, "object": "event", "type": "organization.created"}));
    let EventData::Organization(o) = e.data else {
        panic!()
    };
    assert_eq!(
        (o.name.as_str(), o.slug.as_deref()),
        ("Acme Inc", Some("acme-inc"))
    );
    let e = deliver(
        &json!({"data": {"created_at": 1654013203217_i64, "id": "orgmem_29w9UHeZ2LLLgiGtFPYibzjlb5f",
        "object": "organization_membership", "organization": org, "public_metadata": {},
        "public_user_data": {"first_name": null, "identifier": "example@example.org", "image_url": "https://img.clerk.com/xxxxxx",
            "last_name": null, "profile_image_url": "https://www.gravatar.com/avatar?d=mp", "user_id": "user_29w83sxmDNGwOuEthce5gg56FcC"},
        "role": "org:admin", "updated_at": 1654013203217_i64}, "object": "event", "type": "organizationMembership.created"}),
    );
    let EventData::Membership(m) = e.data else {
        panic!()
    };
    assert_eq!(m.role, "org:admin");
    assert_eq!(m.organization.id, "org_29w9IfBrPmcpi0IeBVaKtA7R94W");
    assert_eq!(
        m.public_user_data.user_id,
        "user_29w83sxmDNGwOuEthce5gg56FcC"
    );
    let e = deliver(
        &json!({"data": {"created_at": 1661861640000_i64, "email_address": "invitee@example.com",
        "id": "orginv_29w9IfBrPmcpi0IeBVaKtA7R94W", "object": "organization_invitation",
        "organization_id": "org_29w9IfBrPmcpi0IeBVaKtA7R94W", "role": "org:member", "status": "pending",
        "updated_at": 1661861640000_i64}, "object": "event", "type": "organizationInvitation.created"}),
    );
    let EventData::Invitation(i) = e.data else {
        panic!()
    };
    assert_eq!(
        (i.email_address.as_str(), i.status.as_str()),
        ("invitee@example.com", "pending")
    );
    let e = deliver(
        &json!({"data": {"body": "<p>123456</p>", "data": {"app": {"name": "Acme"}, "otp_code": "123456"},
        "delivered_by_clerk": true, "email_address_id": "idn_1", "from_email_name": "notifications", "id": "ema_1",
        "object": "email", "slug": "verification_code", "status": "queued", "subject": "123456 is your verification code",
        "to_email_address": "user@example.com", "user_id": null}, "object": "event", "type": "email.created"}),
    );
    let EventData::Email(m) = e.data else {
        panic!()
    };
    assert_eq!(m.slug.as_deref(), Some("verification_code"));
    assert_eq!(m.data["otp_code"], "123456");
}

#[test]
fn unknown_types_and_odd_data_are_delivered_not_rejected() {
    let e = deliver(
        &json!({"data": {"id": "sub_1", "plan": "pro"}, "object": "event", "type": "subscription.created"}),
    );
    assert_eq!(e.kind, "subscription.created");
    assert_eq!(
        e.data,
        EventData::Other(json!({"id": "sub_1", "plan": "pro"}))
    );
    // A known type whose data does not fit still arrives, as raw JSON.
    let e = deliver(&json!({"data": {"id": 42}, "object": "event", "type": "user.updated"}));
    assert_eq!(e.data, EventData::Other(json!({"id": 42})));
}

#[test]
fn bodies_that_are_not_events_and_oversized_bodies() {
    let signer = WebhookSigner::new(SECRET).unwrap();
    for body in [&b"not json"[..], br#"{"data":{}}"#, b"[]"] {
        let mut h = HeaderMap::new();
        for (k, v) in signer.headers(ID, TS, body) {
            h.insert(k, HeaderValue::from_str(&v).unwrap());
        }
        assert_eq!(
            verifier(TS).verify(&h, body),
            Err(WebhookError::InvalidBody)
        );
    }
    let small = verifier(TS).with_max_body_bytes(8);
    assert_eq!(small.verify(&svix(SIG), BODY), Err(WebhookError::TooLarge));
}

/// A declared `Content-Length` over the limit is refused before any body
/// is read; so is one that is not a length at all.
#[test]
fn declared_lengths_over_the_limit_are_refused_before_reading() {
    let v = verifier(TS).with_max_body_bytes(100);
    let declared = |values: &[&str]| {
        let mut h = HeaderMap::new();
        for value in values {
            h.append("content-length", HeaderValue::from_str(value).unwrap());
        }
        v.check_declared_length(&h)
    };
    assert_eq!(declared(&[]), Ok(()), "chunked: read with the cap");
    assert_eq!(declared(&["100"]), Ok(()));
    assert_eq!(declared(&[" 7 "]), Ok(()));
    for hostile in [
        &["101"][..],
        &["999999999999"],
        &["99999999999999999999999"],
        &["-1"],
        &["1e3"],
        &["10, 10"],
        &["10", "101"],
    ] {
        assert_eq!(
            declared(hostile),
            Err(WebhookError::TooLarge),
            "{hostile:?}"
        );
    }
}

#[test]
fn the_secret_comes_from_either_name_and_the_sdk_name_wins() {
    let sdk = WebhookSigner::random_secret();
    let legacy = WebhookSigner::random_secret();
    let from = |vars: &[(&str, &str)]| {
        WebhookVerifier::from_env_with(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    let accepts = |v: &WebhookVerifier, secret: &str| {
        let sig = WebhookSigner::new(secret).unwrap().signature(ID, TS, BODY);
        let v = v.clone().with_clock(Arc::new(ManualClock::new(TS)));
        v.verify_signature(&svix(&sig), BODY).is_ok()
    };
    let both = from(&[
        ("CLERK_WEBHOOK_SECRET", &legacy),
        ("CLERK_WEBHOOK_SIGNING_SECRET", &sdk),
    ])
    .unwrap()
    .unwrap();
    assert!(
        accepts(&both, &sdk) && !accepts(&both, &legacy),
        "the SDK name wins"
    );
    let old = from(&[("CLERK_WEBHOOK_SECRET", &legacy)]).unwrap().unwrap();
    assert!(accepts(&old, &legacy));
    let blank_sdk = from(&[
        ("CLERK_WEBHOOK_SIGNING_SECRET", "  "),
        ("CLERK_WEBHOOK_SECRET", &legacy),
    ])
    .unwrap()
    .unwrap();
    assert!(accepts(&blank_sdk, &legacy), "a blank variable is unset");
    assert!(from(&[]).unwrap().is_none());
    assert!(from(&[("CLERK_WEBHOOK_SECRET", "whsec_!!!")]).is_err());
}
