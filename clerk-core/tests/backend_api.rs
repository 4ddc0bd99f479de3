//! The typed Backend API client against a local fake: every operation sends
//! the request Clerk documents and decodes a realistic answer (with fields
//! and enum values Clerk may add), pagination walks and stops, errors carry
//! Clerk's codes and trace id, 429 pauses, reads retry once and writes never,
//! and a hostile id never reaches a path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::future::Future;
use std::time::Duration;

use clerk_core::Clerk;
use clerk_core::api::{
    API_VERSION, ApiError, InvitationStatus, MembershipList, Metadata, NewInvitation,
    OrganizationFields, OrganizationList, SessionStatus, SubscriptionStatus, UserFields, UserList,
};
use clerk_core::testing::{FakeBackendApi, Outage, SeenRequest, TestIssuer};
use serde_json::{Value, json};

const SECRET: &str = "sk_test_your_clerk_key_here";

/// Adds a field Clerk might add tomorrow to every object, at every depth.
fn with_unknowns(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for child in m.values_mut() {
                    walk(child);
                }
                m.insert("field_from_the_future".into(), json!({"nested": [1, "x"]}));
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

fn user(id: &str) -> Value {
    with_unknowns(json!({
        "object": "user", "id": id, "external_id": null, "username": null,
        "first_name": "John", "last_name": "Doe", "image_url": "https://img.clerk.com/u",
        "has_image": false, "primary_email_address_id": "idn_email_address",
        "primary_phone_number_id": null, "password_enabled": false, "two_factor_enabled": true,
        "totp_enabled": false, "backup_code_enabled": false, "banned": false, "locked": false,
        "lockout_expires_in_seconds": null,
        "email_addresses": [{"object": "email_address", "id": "idn_email_address",
            "email_address": "john.doe@clerk.test", "reserved": true,
            "verification": {"status": "verified", "strategy": "from_oauth_google"},
            "linked_to": [{"type": "oauth_google", "id": "idn_email_address"}]}],
        "phone_numbers": [], "web3_wallets": [], "external_accounts": [],
        "public_metadata": {"zodiac_sign": "leo"}, "private_metadata": {}, "unsafe_metadata": {},
        "last_sign_in_at": null, "last_active_at": 1_700_690_400_000_i64,
        "created_at": 1_611_948_436_000_i64, "updated_at": 1_611_948_436_000_i64,
        "delete_self_enabled": true
    }))
}

fn org() -> Value {
    with_unknowns(json!({
        "object": "organization", "id": "org_2abc", "name": "Acme", "slug": "acme",
        "image_url": "https://img.clerk.com/x", "has_image": false, "members_count": 3,
        "max_allowed_memberships": 0, "admin_delete_enabled": true, "public_metadata": {"plan": "pro"},
        "private_metadata": {}, "created_by": "user_2abc", "created_at": 1_700_000_000_000_i64,
        "updated_at": 1_700_000_000_000_i64
    }))
}

fn membership(user_id: &str, role: &str) -> Value {
    with_unknowns(json!({
        "object": "organization_membership", "id": format!("orgmem_{user_id}"), "role": role,
        "role_name": "Admin", "permissions": ["org:sys_memberships:manage"],
        "public_metadata": {}, "private_metadata": {},
        "organization": {"object": "organization", "id": "org_2abc", "name": "Acme", "slug": "acme",
            "has_image": false, "max_allowed_memberships": 0, "admin_delete_enabled": true,
            "public_metadata": {}, "created_at": 1_700_000_000_000_i64, "updated_at": 1_700_000_000_000_i64},
        "public_user_data": {"user_id": user_id, "first_name": "John", "last_name": "Doe",
            "image_url": "https://img.clerk.com/y", "has_image": false, "identifier": "john.doe@clerk.test"},
        "created_at": 1_700_000_000_000_i64, "updated_at": 1_700_000_000_000_i64
    }))
}

fn invitation(status: &str) -> Value {
    with_unknowns(json!({
        "object": "organization_invitation", "id": "orginv_1", "email_address": "one@example.com",
        "role": "org:member", "role_name": "Member", "organization_id": "org_2abc", "status": status,
        "public_metadata": {}, "private_metadata": {}, "url": null, "created_at": 1_640_995_200_i64,
        "updated_at": 1_640_995_200_i64, "expires_at": 1_643_673_600_i64
    }))
}

fn session(status: &str) -> Value {
    with_unknowns(json!({
        "object": "session", "id": "sess_2abc", "user_id": "user_2abc", "client_id": "client_2abc",
        "status": status, "actor": null, "last_active_organization_id": null,
        "latest_activity": {"object": "session_activity", "id": "sess_activity_2abc",
            "is_mobile": false, "browser_name": "Chrome", "ip_address": "203.0.113.7"},
        "last_active_at": 1_700_000_000_000_i64, "expire_at": 1_700_604_800_000_i64,
        "abandon_at": 1_702_592_000_000_i64, "created_at": 1_700_000_000_000_i64,
        "updated_at": 1_700_000_000_000_i64
    }))
}

fn subscription() -> Value {
    let money = json!({"amount": 1200, "amount_formatted": "12.00", "currency": "USD", "currency_symbol": "$"});
    with_unknowns(json!({
        "object": "commerce_subscription", "id": "csub_2abc", "instance_id": "ins_2abc",
        "status": "active", "payer_id": "cpayer_2abc", "created_at": 1_700_000_000_000_i64,
        "updated_at": 1_700_000_000_000_i64, "active_at": 1_700_000_000_000_i64, "past_due_at": null,
        "next_payment": {"date": 1_702_592_000_000_i64, "amount": money},
        "subscription_items": [
            {"object": "commerce_subscription_item", "id": "csubi_2abc", "status": "active",
             "plan_period": "month", "period_start": 1_700_000_000_000_i64, "period_end": 1_702_592_000_000_i64,
             "amount": money, "is_free_trial": false,
             "plan": {"object": "commerce_plan", "id": "cplan_2abc", "name": "Pro", "slug": "pro",
                "fee": money, "is_default": false, "for_payer_type": "user",
                "features": [{"object": "feature", "id": "feat_1", "name": "Export", "slug": "export"},
                             {"object": "feature", "id": "feat_2", "name": "Seats", "slug": "seats"}]}},
            {"object": "commerce_subscription_item", "id": "csubi_old", "status": "ended",
             "plan_period": "month",
             "plan": {"id": "cplan_free", "name": "Free", "slug": "free",
                "features": [{"id": "feat_3", "name": "Basic", "slug": "basic"}]}}]
    }))
}

fn deleted(object: &str, id: &str) -> Value {
    json!({"object": object, "id": id, "deleted": true})
}

struct Fake {
    fake: FakeBackendApi,
    clerk: Clerk,
}

impl Fake {
    async fn new() -> Self {
        let fake = FakeBackendApi::start().await.unwrap();
        let clerk = Clerk::new(
            TestIssuer::new()
                .config()
                .secret_key(SECRET)
                .api_url(fake.base_url())
                .http_timeout(Duration::from_millis(300))
                .build()
                .unwrap(),
        )
        .unwrap();
        Self { fake, clerk }
    }

    /// Answers `method path` with `body`, runs `call`, and returns its
    /// result with the one request it made.
    async fn run<A: Answer>(
        &self,
        method: &str,
        path: &str,
        body: &Value,
        call: impl Future<Output = A>,
    ) -> (A::Out, SeenRequest) {
        self.fake.respond(method, path, 200, &[], body);
        let before = self.fake.calls();
        let out = call
            .await
            .into_result()
            .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let seen = self.fake.seen();
        assert_eq!(
            seen.len(),
            before + 1,
            "{method} {path}: exactly one request"
        );
        (out, seen.last().cloned().unwrap())
    }
}

fn assert_clerk_headers(seen: &SeenRequest) {
    assert_eq!(seen.header("clerk-api-version"), Some(API_VERSION));
    assert!(
        seen.header("user-agent")
            .is_some_and(|ua| ua.starts_with("clerk-core/")),
        "{seen:?}"
    );
    assert_eq!(
        seen.authorization.as_deref(),
        Some("Bearer sk_test_your_clerk_key_here")
    );
}

#[tokio::test]
async fn every_user_operation_sends_clerks_request_and_decodes_a_realistic_answer() {
    let f = Fake::new().await;
    let users = f.clerk.api().users();

    let (u, seen) = f
        .run(
            "GET",
            "/v1/users/user_1",
            &user("user_1"),
            users.get("user_1"),
        )
        .await;
    assert_eq!(seen.line, "GET /v1/users/user_1");
    assert_clerk_headers(&seen);
    assert_eq!(u.primary_email(), Some("john.doe@clerk.test"));
    assert_eq!(u.public_metadata["zodiac_sign"], "leo");

    let list = UserList::new()
        .email_address("a@x.test")
        .email_address("b@x.test")
        .phone_number("+15555550100")
        .username("ada")
        .external_id("ext-1")
        .user_id("user_1")
        .organization_id("org_1")
        .query("ada lovelace")
        .order_by("+created_at");
    let mut pages = users.list(&list).page_size(20);
    let (page, seen) = f
        .run(
            "GET",
            "/v1/users",
            &json!([user("user_1")]),
            pages.next_page(),
        )
        .await;
    assert_eq!(page.len(), 1);
    assert_eq!(
        seen.line,
        "GET /v1/users?email_address=a%40x.test&email_address=b%40x.test&phone_number=%2B15555550100\
         &username=ada&external_id=ext-1&user_id=user_1&organization_id=org_1&query=ada+lovelace\
         &order_by=%2Bcreated_at&limit=20&offset=0"
    );
    assert!(
        pages.next_page().await.is_none(),
        "a short page ends the walk"
    );

    let (n, seen) = f
        .run(
            "GET",
            "/v1/users/count",
            &json!({"object": "total_count", "total_count": 2}),
            users.count(&UserList::new().email_address("a@x.test")),
        )
        .await;
    assert_eq!(
        (n, seen.line.as_str()),
        (2, "GET /v1/users/count?email_address=a%40x.test")
    );

    let (u, seen) = f
        .run(
            "POST",
            "/v1/users",
            &user("user_new"),
            users.create(
                &UserFields::new()
                    .email_address("ada@example.com")
                    .phone_number("+15555550100")
                    .username("ada")
                    .password("correct horse battery staple")
                    .first_name("Ada")
                    .last_name("Lovelace")
                    .external_id("ext-1")
                    .metadata(&Metadata::new().public(json!({"plan": "free"})))
                    .field("skip_password_checks", true),
            ),
        )
        .await;
    assert_eq!(u.id, "user_new");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(
        seen.json(),
        json!({"email_address": ["ada@example.com"], "phone_number": ["+15555550100"],
               "username": "ada", "password": "correct horse battery staple", "first_name": "Ada",
               "last_name": "Lovelace", "external_id": "ext-1", "public_metadata": {"plan": "free"},
               "skip_password_checks": true})
    );

    let (_, seen) = f
        .run(
            "PATCH",
            "/v1/users/user_1",
            &user("user_1"),
            users.update("user_1", &UserFields::new().first_name("Ada")),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), seen.json()),
        ("PATCH /v1/users/user_1", json!({"first_name": "Ada"}))
    );

    let meta = Metadata::new()
        .public(json!({"plan": "pro"}))
        .private(json!({"stripe": "cus_1"}))
        .unsafe_metadata(json!({"theme": null}));
    let want = json!({"public_metadata": {"plan": "pro"}, "private_metadata": {"stripe": "cus_1"},
                      "unsafe_metadata": {"theme": null}});
    let (_, seen) = f
        .run(
            "PATCH",
            "/v1/users/user_1/metadata",
            &user("user_1"),
            users.update_metadata("user_1", &meta),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), seen.json()),
        ("PATCH /v1/users/user_1/metadata", want.clone())
    );
    let (_, seen) = f
        .run(
            "PUT",
            "/v1/users/user_1/metadata",
            &user("user_1"),
            users.replace_metadata("user_1", &meta),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), seen.json()),
        ("PUT /v1/users/user_1/metadata", want)
    );

    let ((), seen) = f
        .run(
            "DELETE",
            "/v1/users/user_1",
            &deleted("user", "user_1"),
            users.delete("user_1"),
        )
        .await;
    assert_eq!(seen.line, "DELETE /v1/users/user_1");

    for (action, banned, locked) in [
        ("ban", true, false),
        ("unban", false, false),
        ("lock", false, true),
        ("unlock", false, false),
    ] {
        let mut answer = user("user_1");
        answer["banned"] = json!(banned);
        answer["locked"] = json!(locked);
        let path = format!("/v1/users/user_1/{action}");
        let call = async {
            match action {
                "ban" => users.ban("user_1").await,
                "unban" => users.unban("user_1").await,
                "lock" => users.lock("user_1").await,
                _ => users.unlock("user_1").await,
            }
        };
        let (u, seen) = f.run("POST", &path, &answer, call).await;
        assert_eq!(seen.line, format!("POST {path}"));
        assert!(seen.body.is_empty(), "{action} sends no body");
        assert_eq!((u.banned, u.locked), (banned, locked), "{action}");
    }

    let ((), seen) = f
        .run(
            "DELETE",
            "/v1/users/user_1/mfa",
            &json!({"user_id": "user_1"}),
            users.disable_mfa("user_1"),
        )
        .await;
    assert_eq!(seen.line, "DELETE /v1/users/user_1/mfa");

    let mut mine = users.organization_memberships("user_1");
    let (page, seen) = f
        .run(
            "GET",
            "/v1/users/user_1/organization_memberships",
            &json!({"data": [membership("user_1", "org:admin")], "total_count": 1}),
            mine.next_page(),
        )
        .await;
    assert_eq!(
        seen.line,
        "GET /v1/users/user_1/organization_memberships?limit=100&offset=0"
    );
    assert_eq!(
        (page[0].role.as_str(), page[0].organization.slug.as_deref()),
        ("org:admin", Some("acme"))
    );
    assert_eq!(mine.total_count(), Some(1));

    let (sub, seen) = f
        .run(
            "GET",
            "/v1/users/user_1/billing/subscription",
            &subscription(),
            users.subscription("user_1"),
        )
        .await;
    assert_eq!(seen.line, "GET /v1/users/user_1/billing/subscription");
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(
        sub.plan_slugs(),
        ["pro"],
        "the ended free item grants nothing"
    );
    assert_eq!(sub.feature_slugs(), ["export", "seats"]);
}

#[tokio::test]
async fn every_organization_operation_sends_clerks_request_and_decodes_a_realistic_answer() {
    let f = Fake::new().await;
    let orgs = f.clerk.api().organizations();

    for key in ["org_2abc", "acme"] {
        let path = format!("/v1/organizations/{key}");
        let (o, seen) = f.run("GET", &path, &org(), orgs.get(key)).await;
        assert_eq!(seen.line, format!("GET {path}"), "by id or slug");
        assert_eq!((o.name.as_str(), o.members_count), ("Acme", Some(3)));
        assert_eq!(o.public_metadata_as::<Value>().unwrap()["plan"], "pro");
    }

    let mut all = orgs.list(&OrganizationList::new().query("acme"));
    let (page, seen) = f
        .run(
            "GET",
            "/v1/organizations",
            &json!({"data": [org()], "total_count": 1}),
            all.next_page(),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), page.len()),
        ("GET /v1/organizations?query=acme&limit=100&offset=0", 1)
    );

    let (_, seen) = f
        .run(
            "POST",
            "/v1/organizations",
            &org(),
            orgs.create(
                &OrganizationFields::new()
                    .name("Acme")
                    .slug("acme")
                    .created_by("user_2abc")
                    .max_allowed_memberships(50)
                    .metadata(&Metadata::new().public(json!({"plan": "pro"}))),
            ),
        )
        .await;
    assert_eq!(
        seen.json(),
        json!({"name": "Acme", "slug": "acme", "created_by": "user_2abc",
               "max_allowed_memberships": 50, "public_metadata": {"plan": "pro"}})
    );

    let (_, seen) = f
        .run(
            "PATCH",
            "/v1/organizations/org_2abc",
            &org(),
            orgs.update("org_2abc", &OrganizationFields::new().name("Acme 2")),
        )
        .await;
    assert_eq!(seen.json(), json!({"name": "Acme 2"}));

    let (_, seen) = f
        .run(
            "PATCH",
            "/v1/organizations/org_2abc/metadata",
            &org(),
            orgs.update_metadata("org_2abc", &Metadata::new().private(json!({"crm": 7}))),
        )
        .await;
    assert_eq!(seen.json(), json!({"private_metadata": {"crm": 7}}));

    let ((), seen) = f
        .run(
            "DELETE",
            "/v1/organizations/org_2abc",
            &deleted("organization", "org_2abc"),
            orgs.delete("org_2abc"),
        )
        .await;
    assert_eq!(seen.line, "DELETE /v1/organizations/org_2abc");

    let mut members = orgs.memberships("org_2abc", &MembershipList::new());
    let (page, seen) = f
        .run(
            "GET",
            "/v1/organizations/org_2abc/memberships",
            &json!({"data": [membership("user_1", "org:admin")], "total_count": 1}),
            members.next_page(),
        )
        .await;
    assert_eq!(
        seen.line,
        "GET /v1/organizations/org_2abc/memberships?limit=100&offset=0"
    );
    assert_eq!(page[0].public_user_data.user_id, "user_1");

    let (m, seen) = f
        .run(
            "POST",
            "/v1/organizations/org_2abc/memberships",
            &membership("user_2", "org:member"),
            orgs.add_member("org_2abc", "user_2", "org:member"),
        )
        .await;
    assert_eq!(
        seen.json(),
        json!({"user_id": "user_2", "role": "org:member"})
    );
    assert_eq!(m.role, "org:member");

    let (_, seen) = f
        .run(
            "PATCH",
            "/v1/organizations/org_2abc/memberships/user_2",
            &membership("user_2", "org:admin"),
            orgs.update_member_role("org_2abc", "user_2", "org:admin"),
        )
        .await;
    assert_eq!(seen.json(), json!({"role": "org:admin"}));

    let (m, seen) = f
        .run(
            "DELETE",
            "/v1/organizations/org_2abc/memberships/user_2",
            &membership("user_2", "org:admin"),
            orgs.remove_member("org_2abc", "user_2"),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), m.public_user_data.user_id.as_str()),
        (
            "DELETE /v1/organizations/org_2abc/memberships/user_2",
            "user_2"
        )
    );

    let (inv, seen) = f
        .run(
            "POST",
            "/v1/organizations/org_2abc/invitations",
            &invitation("pending"),
            orgs.invite(
                "org_2abc",
                &NewInvitation::new("one@example.com", "org:member")
                    .inviter("user_1")
                    .redirect_url("https://app.example.com/accept")
                    .expires_in_days(7),
            ),
        )
        .await;
    assert_eq!(
        seen.json(),
        json!({"email_address": "one@example.com", "role": "org:member",
               "inviter_user_id": "user_1", "redirect_url": "https://app.example.com/accept",
               "expires_in_days": 7})
    );
    assert_eq!(inv.status, InvitationStatus::Pending);

    let mut pending = orgs.invitations("org_2abc", &[InvitationStatus::Pending]);
    let (page, seen) = f
        .run(
            "GET",
            "/v1/organizations/org_2abc/invitations",
            &json!({"data": [invitation("pending")], "total_count": 1}),
            pending.next_page(),
        )
        .await;
    assert_eq!(
        seen.line,
        "GET /v1/organizations/org_2abc/invitations?status=pending&limit=100&offset=0"
    );
    assert_eq!(page[0].email_address, "one@example.com");

    let (inv, seen) = f
        .run(
            "POST",
            "/v1/organizations/org_2abc/invitations/orginv_1/revoke",
            &invitation("revoked"),
            orgs.revoke_invitation("org_2abc", "orginv_1", Some("user_1")),
        )
        .await;
    assert_eq!(seen.json(), json!({"requesting_user_id": "user_1"}));
    assert_eq!(inv.status, InvitationStatus::Revoked);

    let (sub, seen) = f
        .run(
            "GET",
            "/v1/organizations/org_2abc/billing/subscription",
            &subscription(),
            orgs.subscription("org_2abc"),
        )
        .await;
    assert_eq!(
        seen.line,
        "GET /v1/organizations/org_2abc/billing/subscription"
    );
    assert_eq!(sub.plan_slugs(), ["pro"]);
}

#[tokio::test]
async fn every_session_operation_sends_clerks_request_and_decodes_a_realistic_answer() {
    let f = Fake::new().await;
    let sessions = f.clerk.api().sessions();

    let mut active = sessions.of_user("user_2abc", Some(&SessionStatus::Active));
    let (page, seen) = f
        .run(
            "GET",
            "/v1/sessions",
            &json!({"data": [session("active")], "total_count": 1}),
            active.next_page(),
        )
        .await;
    assert_eq!(
        seen.line,
        "GET /v1/sessions?paginated=true&user_id=user_2abc&status=active&limit=100&offset=0"
    );
    assert_eq!(page[0].status, SessionStatus::Active);

    let (s, seen) = f
        .run(
            "GET",
            "/v1/sessions/sess_2abc",
            &session("active"),
            sessions.get("sess_2abc"),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), s.user_id.as_str()),
        ("GET /v1/sessions/sess_2abc", "user_2abc")
    );

    let (s, seen) = f
        .run(
            "POST",
            "/v1/sessions/sess_2abc/revoke",
            &session("revoked"),
            sessions.revoke("sess_2abc"),
        )
        .await;
    assert_eq!(s.status, SessionStatus::Revoked);
    assert!(seen.body.is_empty());

    let (jwt, seen) = f
        .run(
            "POST",
            "/v1/sessions/sess_2abc/tokens/supabase",
            &with_unknowns(json!({"object": "token", "jwt": "eyJhbGciOiJIUzI1NiJ9.e30.sig"})),
            sessions.token("sess_2abc", "supabase"),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), jwt.as_str()),
        (
            "POST /v1/sessions/sess_2abc/tokens/supabase",
            "eyJhbGciOiJIUzI1NiJ9.e30.sig"
        )
    );
    let (_, seen) = f
        .run(
            "POST",
            "/v1/sessions/sess_2abc/tokens/supabase",
            &json!({"object": "token", "jwt": "eyJhbGciOiJIUzI1NiJ9.e30.sig"}),
            sessions.token_expiring("sess_2abc", "supabase", Some(120)),
        )
        .await;
    assert_eq!(seen.json(), json!({"expires_in_seconds": 120}));
}

#[tokio::test]
async fn unknown_status_values_and_missing_fields_decode() {
    let f = Fake::new().await;
    let api = f.clerk.api();
    let (s, _) = f
        .run(
            "GET",
            "/v1/sessions/sess_1",
            &session("quantum_entangled"),
            api.sessions().get("sess_1"),
        )
        .await;
    assert_eq!(s.status, SessionStatus::Other("quantum_entangled".into()));
    assert_eq!(s.status.as_str(), "quantum_entangled");
    let (i, _) = f
        .run(
            "GET",
            "/v1/organizations/org_1/invitations",
            &json!({"data": [invitation("snoozed")]}),
            async {
                api.organizations()
                    .invitations("org_1", &[])
                    .next_page()
                    .await
                    .unwrap()
            },
        )
        .await;
    assert_eq!(i[0].status, InvitationStatus::Other("snoozed".into()));
    let mut sub = subscription();
    sub["status"] = json!("paused_by_moon");
    sub["subscription_items"][0]["status"] = json!("paused_by_moon");
    let (sub, _) = f
        .run(
            "GET",
            "/v1/users/user_1/billing/subscription",
            &sub,
            api.users().subscription("user_1"),
        )
        .await;
    assert_eq!(
        sub.status,
        SubscriptionStatus::Other("paused_by_moon".into())
    );
    assert!(
        sub.plan_slugs().is_empty(),
        "an unknown item status grants no plan"
    );
    // A bare minimum object, and nulls where values usually are.
    let (u, _) = f
        .run(
            "GET",
            "/v1/users/user_min",
            &json!({"id": "user_min", "first_name": null, "status": null}),
            api.users().get("user_min"),
        )
        .await;
    assert_eq!((u.id.as_str(), u.first_name), ("user_min", None));
    let (s, _) = f
        .run(
            "GET",
            "/v1/sessions/sess_min",
            &json!({"id": "sess_min", "status": null}),
            api.sessions().get("sess_min"),
        )
        .await;
    assert_eq!(s.status, SessionStatus::Missing);
}

#[tokio::test]
async fn pagination_walks_three_pages_and_stops_early_on_request() {
    let f = Fake::new().await;
    for i in 0..5 {
        f.fake.add_user(user(&format!("user_{i}")));
    }
    let users = f.clerk.api().users();
    let mut pages = users.list(&UserList::new()).page_size(2);
    let mut sizes = Vec::new();
    while let Some(page) = pages.next_page().await {
        sizes.push(page.unwrap().len());
    }
    assert_eq!(sizes, [2, 2, 1]);
    let offsets: Vec<String> = f.fake.seen().iter().map(|s| s.line.clone()).collect();
    assert_eq!(
        offsets,
        [
            "GET /v1/users?limit=2&offset=0",
            "GET /v1/users?limit=2&offset=2",
            "GET /v1/users?limit=2&offset=4"
        ]
    );

    // Stop after the first page: no further call.
    let before = f.fake.calls();
    let mut pages = users.list(&UserList::new()).page_size(2);
    let first = pages.next_page().await.unwrap().unwrap();
    assert_eq!(first.len(), 2);
    drop(pages);
    assert_eq!(f.fake.calls(), before + 1);

    // Counted pages stop at `total_count`, even when a page is full.
    for i in 0..200 {
        f.fake
            .add_membership("org_1", membership(&format!("user_{i}"), "org:member"));
    }
    let before = f.fake.calls();
    let mut members = f
        .clerk
        .api()
        .organizations()
        .memberships("org_1", &MembershipList::new());
    let mut n = 0;
    while let Some(page) = members.next_page().await {
        n += page.unwrap().len();
    }
    assert_eq!((n, members.total_count()), (200, Some(200)));
    assert_eq!(
        f.fake.calls(),
        before + 2,
        "two full pages, no empty third call"
    );
}

fn clerk_error(code: &str) -> Value {
    json!({"errors": [{"code": code, "message": "a message", "long_message": "a longer message",
                       "meta": {"param_name": "email_address"}, "field_from_the_future": 1}],
           "meta": {}, "clerk_trace_id": "trace_123"})
}

#[tokio::test]
async fn clerk_errors_map_to_typed_errors_with_code_message_and_trace_id() {
    let f = Fake::new().await;
    let users = f.clerk.api().users();
    for (status, code) in [
        (404, "resource_not_found"),
        (401, "authentication_invalid"),
        (422, "form_identifier_exists"),
        (403, "authorization_invalid"),
    ] {
        f.fake
            .respond("POST", "/v1/users", status, &[], &clerk_error(code));
        let before = f.fake.calls();
        let err = users
            .create(&UserFields::new().email_address("a@x.test"))
            .await
            .unwrap_err();
        assert_eq!(f.fake.calls(), before + 1, "{status}: never retried");
        assert_eq!(
            (err.status(), err.code(), err.trace_id()),
            (Some(status), Some(code), Some("trace_123"))
        );
        let ApiError::Clerk { errors, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(errors[0].long_message.as_deref(), Some("a longer message"));
        assert_eq!(errors[0].meta["param_name"], "email_address");
        assert!(err.to_string().contains(code), "{err}");
        assert!(
            !format!("{err} {err:?}").contains(SECRET),
            "never the secret"
        );
    }
    // No trace id in the body: Clerk's `cf-ray` header.
    f.fake.respond(
        "GET",
        "/v1/users/user_1",
        404,
        &[("cf-ray", "8f1c2d3e4f-AMS")],
        &json!({"errors": []}),
    );
    let err = users.get("user_1").await.unwrap_err();
    assert_eq!(
        (err.status(), err.trace_id(), err.code()),
        (Some(404), Some("8f1c2d3e4f-AMS"), None)
    );
    // An error body that is not JSON still gives the status.
    f.fake
        .respond("GET", "/v1/users/user_2", 400, &[], &json!("<html>"));
    assert_eq!(users.get("user_2").await.unwrap_err().status(), Some(400));
    // A success that is not the documented shape.
    f.fake
        .respond("GET", "/v1/users/user_3", 200, &[], &json!([1, 2]));
    assert_eq!(
        users.get("user_3").await.unwrap_err(),
        ApiError::InvalidResponse
    );
}

#[tokio::test]
async fn a_429_answers_retry_after_and_pauses_every_call() {
    let f = Fake::new().await;
    let users = f.clerk.api().users();
    f.fake.respond(
        "GET",
        "/v1/users/user_1",
        429,
        &[("retry-after", "30")],
        &clerk_error("too_many_requests"),
    );
    let err = users.get("user_1").await.unwrap_err();
    assert_eq!(
        err,
        ApiError::RateLimited {
            retry_after: Duration::from_secs(30),
            trace_id: Some("trace_123".into())
        }
    );
    assert_eq!(f.fake.calls(), 1, "a 429 is not retried");
    let err = f
        .clerk
        .api()
        .organizations()
        .get("org_1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::RateLimited { retry_after, .. } if retry_after <= Duration::from_secs(30))
    );
    assert_eq!(err.status(), Some(429));
    assert_eq!(f.fake.calls(), 1, "paused: no call made");
}

#[tokio::test]
async fn reads_retry_once_on_5xx_and_timeouts_writes_never() {
    let f = Fake::new().await;
    let users = f.clerk.api().users();
    f.fake.respond(
        "GET",
        "/v1/users/user_1",
        503,
        &[],
        &clerk_error("service_unavailable"),
    );
    assert_eq!(users.get("user_1").await.unwrap_err().status(), Some(503));
    assert_eq!(f.fake.calls(), 2, "a read is tried twice");

    f.fake
        .respond("POST", "/v1/users/user_1/ban", 502, &[], &json!({}));
    assert_eq!(users.ban("user_1").await.unwrap_err().status(), Some(502));
    assert_eq!(f.fake.calls(), 3, "a write is tried once");

    f.fake.set_outage(Some(Outage::Hang));
    assert_eq!(
        users
            .update_metadata("user_1", &Metadata::new().public(json!({"plan": "pro"})))
            .await,
        Err(ApiError::Unreachable)
    );
    assert_eq!(
        f.fake.calls(),
        4,
        "a timed-out write is not retried: it may have happened"
    );
    assert_eq!(
        users.count(&UserList::new()).await,
        Err(ApiError::Unreachable)
    );
    assert_eq!(f.fake.calls(), 6, "a timed-out read is retried once");
}

#[tokio::test]
async fn hostile_ids_never_reach_a_path() {
    let f = Fake::new().await;
    let api = f.clerk.api();
    let long = "a".repeat(129);
    for bad in [
        "",
        "..",
        "../users",
        "user_1/ban",
        "user_1?x=1",
        "user_1#x",
        "user%2F1",
        "user 1",
        "user.1",
        "ユーザー",
        "user_1\n",
        long.as_str(),
    ] {
        let inv = |e: ApiError| assert!(matches!(e, ApiError::InvalidInput(_)), "{bad:?}: {e:?}");
        inv(api.users().get(bad).await.unwrap_err());
        inv(api.users().delete(bad).await.unwrap_err());
        inv(api.users().ban(bad).await.unwrap_err());
        inv(api.organizations().get(bad).await.unwrap_err());
        inv(api
            .organizations()
            .add_member("org_1", bad, "org:admin")
            .await
            .unwrap_err());
        inv(api
            .organizations()
            .revoke_invitation("org_1", "orginv_1", Some(bad))
            .await
            .unwrap_err());
        inv(api.sessions().revoke(bad).await.unwrap_err());
        inv(api.sessions().token("sess_1", bad).await.unwrap_err());
        inv(api
            .organizations()
            .memberships(bad, &MembershipList::new())
            .next_page()
            .await
            .unwrap()
            .unwrap_err());
        inv(api
            .sessions()
            .of_user(bad, None)
            .next_page()
            .await
            .unwrap()
            .unwrap_err());
        inv(api
            .users()
            .organization_memberships(bad)
            .next_page()
            .await
            .unwrap()
            .unwrap_err());
    }
    assert_eq!(f.fake.calls(), 0, "no request for any of them");
    // Text in bodies and queries is data, encoded, never a path.
    f.fake.respond("GET", "/v1/users", 200, &[], &json!([]));
    let mut p = api.users().list(&UserList::new().query("a&limit=999/../x"));
    assert!(p.next_page().await.is_none());
    assert_eq!(
        f.fake.seen()[0].line,
        "GET /v1/users?query=a%26limit%3D999%2F..%2Fx&limit=100&offset=0"
    );
}

#[tokio::test]
async fn without_a_secret_key_nothing_is_sent() {
    let clerk = Clerk::new(TestIssuer::new().config().build().unwrap()).unwrap();
    assert_eq!(
        clerk.api().users().get("user_1").await,
        Err(ApiError::NotConfigured)
    );
    let mut pages = clerk.api().users().list(&UserList::new());
    assert_eq!(pages.next_page().await, Some(Err(ApiError::NotConfigured)));
    assert_eq!(pages.next_page().await, None, "an error ends the walk");
}

/// What a call answers: a result, or a page of a walk.
trait Answer {
    type Out;
    fn into_result(self) -> Result<Self::Out, ApiError>;
}

impl<T> Answer for Result<T, ApiError> {
    type Out = T;
    fn into_result(self) -> Result<T, ApiError> {
        self
    }
}

impl<T> Answer for Option<Result<Vec<T>, ApiError>> {
    type Out = Vec<T>;
    fn into_result(self) -> Result<Vec<T>, ApiError> {
        self.expect("a page")
    }
}

#[tokio::test]
async fn explicit_nulls_read_as_absent() {
    let f = Fake::new().await;
    let api = f.clerk.api();
    // Explicit nulls where a value, a list or an object is expected read as
    // absent; metadata keeps its nulls as stored.
    let nulls = json!({"id": "user_nulls", "banned": null, "email_addresses": null,
        "two_factor_enabled": null, "public_metadata": {"plan": null}, "private_metadata": null});
    let (u, _) = f
        .run(
            "GET",
            "/v1/users/user_nulls",
            &nulls,
            api.users().get("user_nulls"),
        )
        .await;
    assert_eq!((u.banned, u.email_addresses.len()), (false, 0));
    assert_eq!(u.public_metadata, json!({"plan": null}));
    let mut m = membership("user_1", "org:admin");
    m["public_user_data"] = Value::Null;
    m["role"] = Value::Null;
    let (page, _) = f
        .run(
            "GET",
            "/v1/organizations/org_1/memberships",
            &json!({"data": [m], "total_count": null}),
            async {
                api.organizations()
                    .memberships("org_1", &MembershipList::new())
                    .next_page()
                    .await
                    .unwrap()
            },
        )
        .await;
    assert_eq!(
        (
            page[0].role.as_str(),
            page[0].public_user_data.user_id.as_str()
        ),
        ("", "")
    );
    // An error entry with nulls keeps the rest of the error.
    f.fake.respond(
        "GET",
        "/v1/users/user_x",
        404,
        &[],
        &json!({"errors": [{"code": null, "message": "gone", "meta": null}], "clerk_trace_id": "t_1"}),
    );
    let err = api.users().get("user_x").await.unwrap_err();
    assert_eq!((err.trace_id(), err.code()), (Some("t_1"), Some("")));
}

#[tokio::test]
async fn ids_of_the_wrong_kind_never_reach_a_path() {
    let f = Fake::new().await;
    let api = f.clerk.api();
    // `count` would be `GET /users/count`.
    for bad in ["count", "user_", "org_1", "sess_1"] {
        let e = api.users().get(bad).await.unwrap_err();
        assert!(
            matches!(e, ApiError::InvalidInput("user id")),
            "{bad}: {e:?}"
        );
    }
    assert!(matches!(
        api.sessions().get("user_1").await,
        Err(ApiError::InvalidInput(_))
    ));
    assert!(matches!(
        api.organizations()
            .revoke_invitation("org_1", "inv_1", None)
            .await,
        Err(ApiError::InvalidInput(_))
    ));
    assert_eq!(f.fake.calls(), 0);
}

#[tokio::test]
async fn a_total_ends_a_walk_not_a_short_page() {
    let f = Fake::new().await;
    for i in 0..200 {
        f.fake
            .add_membership("org_1", membership(&format!("user_{i}"), "org:member"));
    }
    // The fake serves at most 100 a page: asked for 500, a short page of
    // 100 comes back, and the total, not the short page, ends the walk.
    let mut members = f
        .clerk
        .api()
        .organizations()
        .memberships("org_1", &MembershipList::new())
        .page_size(500);
    let mut n = 0;
    while let Some(page) = members.next_page().await {
        n += page.unwrap().len();
    }
    assert_eq!(n, 200);
    assert_eq!(f.fake.calls(), 2);

    // A list that never ends (full pages, a total that lies): the shared
    // budget stops it long before the page cap, with an error.
    f.fake.respond(
        "GET",
        "/v1/organizations/org_2/memberships",
        200,
        &[],
        &json!({"data": [membership("user_1", "org:member")], "total_count": 1_000_000_000}),
    );
    let mut pages = f
        .clerk
        .api()
        .organizations()
        .memberships("org_2", &MembershipList::new())
        .page_size(1);
    let mut last = None;
    for _ in 0..60 {
        match pages.next_page().await {
            Some(page) => last = Some(page),
            None => break,
        }
    }
    assert!(
        matches!(last, Some(Err(ApiError::RateLimited { .. }))),
        "{last:?}"
    );
    assert!(pages.next_page().await.is_none(), "an error ends the walk");

    // An empty page ends a walk whatever the total says.
    let g = Fake::new().await;
    g.fake.respond(
        "GET",
        "/v1/organizations/org_3/memberships",
        200,
        &[],
        &json!({"data": [], "total_count": 5}),
    );
    let mut pages = g
        .clerk
        .api()
        .organizations()
        .memberships("org_3", &MembershipList::new());
    assert!(pages.next_page().await.is_none());
    assert!(pages.next_page().await.is_none());
    assert_eq!(g.fake.calls(), 1);
}

/// Lists start at an offset (page 3 in one call), the user list learns its
/// total from `/users/count` with the same filters (as the SDK's
/// `getUserList`), counted lists from a one-item page, and `collect_all`
/// walks a whole list.
#[tokio::test]
async fn lists_start_at_an_offset_know_their_total_and_collect() {
    let f = Fake::new().await;
    for i in 0..25 {
        f.fake.add_user(user(&format!("user_{i}")));
    }
    let users = f.clerk.api().users();
    let before = f.fake.seen().len();
    let mut third = users
        .list(
            &UserList::new()
                .organization_id("org_1")
                .order_by("-created_at"),
        )
        .page_size(10)
        .starting_at(20);
    let page = third.next_page().await.unwrap().unwrap();
    assert_eq!(page.len(), 5);
    f.fake.respond(
        "GET",
        "/v1/users/count",
        200,
        &[],
        &json!({"object": "total_count", "total_count": 25}),
    );
    assert_eq!(third.total().await.unwrap(), 25);
    assert_eq!(third.total().await.unwrap(), 25, "asked once");
    let lines: Vec<String> = f.fake.seen()[before..]
        .iter()
        .map(|s| s.line.clone())
        .collect();
    assert_eq!(
        lines,
        [
            "GET /v1/users?organization_id=org_1&order_by=-created_at&limit=10&offset=20",
            "GET /v1/users/count?organization_id=org_1",
        ]
    );
    // A whole small list.
    let all = users
        .list(&UserList::new())
        .page_size(10)
        .collect_all()
        .await
        .unwrap();
    assert_eq!(all.len(), 25);

    // Counted lists: the total from a one-item page, before any walk.
    for i in 0..7 {
        f.fake
            .add_membership("org_1", membership(&format!("user_{i}"), "org:member"));
    }
    let orgs = f.clerk.api().organizations();
    let mut members = orgs
        .memberships("org_1", &MembershipList::new().role("org:member"))
        .starting_at(5);
    assert_eq!(members.total().await.unwrap(), 7);
    assert_eq!(members.next_page().await.unwrap().unwrap().len(), 2);
    let last = f.fake.seen();
    assert!(
        last[last.len() - 2]
            .line
            .ends_with("/memberships?role=org%3Amember&limit=1&offset=0"),
        "{}",
        last[last.len() - 2].line
    );
    assert!(last[last.len() - 1].line.ends_with("&limit=100&offset=5"));

    // Typed filters send Clerk's parameters.
    let before = f.fake.seen().len();
    let _ = orgs
        .list(
            &OrganizationList::new()
                .query("acme")
                .organization_id("org_1")
                .organization_id("org_2")
                .include_members_count()
                .order_by("-members_count"),
        )
        .next_page()
        .await;
    let _ = orgs
        .invitations(
            "org_1",
            &[InvitationStatus::Pending, InvitationStatus::Expired],
        )
        .next_page()
        .await;
    let _ = f
        .clerk
        .api()
        .sessions()
        .of_client("client_1", Some(&SessionStatus::Active))
        .next_page()
        .await;
    let lines: Vec<String> = f.fake.seen()[before..]
        .iter()
        .map(|s| s.line.clone())
        .collect();
    assert_eq!(
        lines,
        [
            "GET /v1/organizations?query=acme&organization_id=org_1&organization_id=org_2\
             &include_members_count=true&order_by=-members_count&limit=100&offset=0",
            "GET /v1/organizations/org_1/invitations?status=pending&status=expired&limit=100&offset=0",
            "GET /v1/sessions?paginated=true&client_id=client_1&status=active&limit=100&offset=0",
        ]
    );
    // A client id of the wrong kind never reaches the query.
    let refused = f
        .clerk
        .api()
        .sessions()
        .of_client("user_1", None)
        .next_page()
        .await
        .unwrap();
    assert!(matches!(refused, Err(ApiError::InvalidInput(_))));
}

const MACHINE_SECRET: &str = "ak_your_machine_secret_key_here";

fn machine_record(id: &str) -> Value {
    with_unknowns(json!({
        "object": "machine", "id": id, "name": "billing", "instance_id": "ins_2abc",
        "created_at": 1_745_185_445_567_i64, "updated_at": 1_745_185_445_567_i64,
        "default_token_ttl": 3600, "scoped_machines": [{"object": "machine", "id": "mch_2reports",
            "name": "reports", "instance_id": "ins_2abc", "created_at": 1, "updated_at": 1,
            "default_token_ttl": 3600, "scoped_machines": []}],
        "secret_key": "ak_machine_secret_shown_once"
    }))
}

fn m2m_record(token: Option<&str>) -> Value {
    // `@clerk/backend` fixtures (`fixtures/machine.ts`), in the wire's
    // snake_case.
    with_unknowns(json!({
        "object": "machine_to_machine_token", "id": "mt_ey966f1b1xf93586b2debdcadb0b3bd1",
        "token": token, "subject": "mch_2vYVtestTESTtestTESTtestTESTtest",
        "scopes": ["mch_1xxxxx", "mch_2xxxxx"], "claims": {"foo": "bar"}, "revoked": token.is_none(),
        "revocation_reason": token.map_or(Some("rotated"), |_| None), "expired": false,
        "expiration": null, "created_at": 1_745_185_445_567_i64, "updated_at": 1_745_185_445_567_i64
    }))
}

fn api_key_record() -> Value {
    with_unknowns(json!({
        "object": "api_key", "id": "ak_ey966f1b1xf93586b2debdcadb0b3bd1", "type": "api_key",
        "name": "my-api-key", "secret": "ak_LCWGdaM8mv8K4PC/57IICZQXAeWfCgF30DZaFXHoGn9=",
        "subject": "user_2vYVtestTESTtestTESTtestTESTtest", "scopes": ["read:foo", "write:bar"],
        "claims": {"foo": "bar"}, "revoked": false, "revocation_reason": null, "expired": false,
        "expiration": null, "created_by": null, "description": null, "last_used_at": null,
        "created_at": 1_745_354_860_746_i64, "updated_at": 1_745_354_860_746_i64
    }))
}

fn ticket(object: &str, id: &str) -> Value {
    with_unknowns(json!({
        "object": object, "id": id, "user_id": "user_2abc", "status": "pending",
        "token": "ticket_secret", "url": "https://accounts.example.com/sign-in?__clerk_ticket=ticket_secret",
        "actor": {"sub": "user_agent"}, "created_at": 1, "updated_at": 1
    }))
}

fn body_of(seen: &SeenRequest) -> Value {
    serde_json::from_slice(&seen.body).unwrap_or(Value::Null)
}

/// Machines, M2M tokens, API keys, testing, sign-in and actor tokens:
/// each call's exact method, path, query, body and key (the machine secret
/// key where Clerk requires it), and a realistic answer decoded, secrets
/// never in `Debug`.
#[tokio::test]
async fn every_machine_credential_operation_sends_clerks_request() {
    use clerk_core::api::{ApiKeyFields, MachineFields, NewM2mToken};
    let fake = FakeBackendApi::start().await.unwrap();
    let clerk = Clerk::new(
        TestIssuer::new()
            .config()
            .secret_key(SECRET)
            .machine_secret_key(MACHINE_SECRET)
            .api_url(fake.base_url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let f = Fake { fake, clerk };
    let api = f.clerk.api();
    let instance_key = |seen: &SeenRequest| {
        assert_clerk_headers(seen);
    };
    let machine_key = |seen: &SeenRequest| {
        assert_eq!(
            seen.authorization.as_deref(),
            Some("Bearer ak_your_machine_secret_key_here"),
            "{}",
            seen.line
        );
    };

    // Machines.
    let machines = api.machines();
    let fields = MachineFields::new()
        .name("billing")
        .default_token_ttl(3600)
        .scoped_machine("mch_2reports");
    let (m, seen) = f
        .run(
            "POST",
            "/v1/machines",
            &machine_record("mch_2billing"),
            machines.create(&fields),
        )
        .await;
    instance_key(&seen);
    assert_eq!(seen.line, "POST /v1/machines");
    assert_eq!(
        body_of(&seen),
        json!({"name": "billing", "default_token_ttl": 3600, "scoped_machines": ["mch_2reports"]})
    );
    assert_eq!(
        (m.id.as_str(), m.scoped_machines[0].id.as_str()),
        ("mch_2billing", "mch_2reports")
    );
    assert_eq!(
        m.secret_key.as_ref().unwrap().expose(),
        "ak_machine_secret_shown_once"
    );
    assert!(
        !format!("{m:?}").contains("ak_machine_secret_shown_once"),
        "no secret in Debug"
    );

    let mut pages = machines
        .list(Some("bill"), Some("-created_at"))
        .page_size(5);
    let (page, seen) = f
        .run(
            "GET",
            "/v1/machines",
            &json!({"data": [machine_record("mch_2billing")], "total_count": 1}),
            pages.next_page(),
        )
        .await;
    assert_eq!(page.len(), 1);
    assert_eq!(
        seen.line,
        "GET /v1/machines?query=bill&order_by=-created_at&limit=5&offset=0"
    );
    for (method, path, call_line) in [
        (
            "GET",
            "/v1/machines/mch_2billing",
            "GET /v1/machines/mch_2billing",
        ),
        (
            "DELETE",
            "/v1/machines/mch_2billing",
            "DELETE /v1/machines/mch_2billing",
        ),
    ] {
        let call = async {
            if method == "GET" {
                machines.get("mch_2billing").await
            } else {
                machines.delete("mch_2billing").await
            }
        };
        let (_, seen) = f
            .run(method, path, &machine_record("mch_2billing"), call)
            .await;
        assert_eq!(seen.line, call_line);
    }
    let (_, seen) = f
        .run(
            "PATCH",
            "/v1/machines/mch_2billing",
            &machine_record("mch_2billing"),
            machines.update("mch_2billing", &MachineFields::new().name("billing-v2")),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), body_of(&seen)),
        (
            "PATCH /v1/machines/mch_2billing",
            json!({"name": "billing-v2"})
        )
    );
    let secret = json!({"object": "machine_secret_key", "secret": "ak_rotated"});
    let (s, seen) = f
        .run(
            "GET",
            "/v1/machines/mch_2billing/secret_key",
            &secret,
            machines.secret_key("mch_2billing"),
        )
        .await;
    assert_eq!(
        (s.expose(), seen.line.as_str()),
        ("ak_rotated", "GET /v1/machines/mch_2billing/secret_key")
    );
    assert_eq!(format!("{s:?}"), "Secret(..)");
    let (_, seen) = f
        .run(
            "POST",
            "/v1/machines/mch_2billing/secret_key/rotate",
            &secret,
            machines.rotate_secret_key("mch_2billing", 300),
        )
        .await;
    assert_eq!(body_of(&seen), json!({"previous_token_ttl": 300}));
    let scope = json!({"object": "machine_scope", "from_machine_id": "mch_2billing", "to_machine_id": "mch_2reports", "created_at": 1});
    let (sc, seen) = f
        .run(
            "POST",
            "/v1/machines/mch_2billing/scopes",
            &scope,
            machines.add_scope("mch_2billing", "mch_2reports"),
        )
        .await;
    assert_eq!(body_of(&seen), json!({"to_machine_id": "mch_2reports"}));
    assert_eq!(sc.to_machine_id, "mch_2reports");
    let (sc, seen) = f
        .run(
            "DELETE",
            "/v1/machines/mch_2billing/scopes/mch_2reports",
            &json!({"object": "machine_scope", "from_machine_id": "mch_2billing", "to_machine_id": "mch_2reports", "deleted": true}),
            machines.remove_scope("mch_2billing", "mch_2reports"),
        )
        .await;
    assert!(sc.deleted);
    assert_eq!(
        seen.line,
        "DELETE /v1/machines/mch_2billing/scopes/mch_2reports"
    );

    // M2M tokens: minted with the machine secret key, as Clerk requires.
    let tokens = api.m2m_tokens();
    let new = NewM2mToken::new()
        .seconds_until_expiration(600)
        .claims(json!({"camelCase": 1}))
        .min_remaining_ttl_seconds(60)
        .jwt();
    let (t, seen) = f
        .run(
            "POST",
            "/v1/m2m_tokens",
            &m2m_record(Some("mt_secret_shown_once")),
            tokens.create(&new),
        )
        .await;
    machine_key(&seen);
    assert_eq!(
        body_of(&seen),
        json!({"seconds_until_expiration": 600, "claims": {"camelCase": 1},
               "min_remaining_ttl_seconds": 60, "token_format": "jwt"})
    );
    assert_eq!(t.token.as_ref().unwrap().expose(), "mt_secret_shown_once");
    assert_eq!(t.claims["foo"], "bar");
    // Clerk's defaults: opaque, no lifetime or claims (null), no reuse.
    let (_, seen) = f
        .run(
            "POST",
            "/v1/m2m_tokens",
            &m2m_record(Some("mt_x")),
            tokens.create(&NewM2mToken::new()),
        )
        .await;
    assert_eq!(
        body_of(&seen),
        json!({"seconds_until_expiration": null, "claims": null, "token_format": "opaque"})
    );
    let mut pages = tokens.list("mch_2vYVtestTESTtestTESTtestTESTtest", true, false);
    let (page, seen) = f
        .run(
            "GET",
            "/v1/m2m_tokens",
            &json!({"data": [m2m_record(None)], "total_count": 1}),
            pages.next_page(),
        )
        .await;
    machine_key(&seen);
    assert_eq!(
        seen.line,
        "GET /v1/m2m_tokens?subject=mch_2vYVtestTESTtestTESTtestTESTtest&revoked=true&limit=100&offset=0"
    );
    assert!(page[0].revoked && page[0].token.is_none());
    let (t, seen) = f
        .run(
            "POST",
            "/v1/m2m_tokens/mt_ey966f1b1xf93586b2debdcadb0b3bd1/revoke",
            &m2m_record(None),
            tokens.revoke("mt_ey966f1b1xf93586b2debdcadb0b3bd1", Some("rotated")),
        )
        .await;
    machine_key(&seen);
    assert_eq!(body_of(&seen), json!({"revocation_reason": "rotated"}));
    assert_eq!(t.revocation_reason.as_deref(), Some("rotated"));

    // API keys, with the instance's secret key.
    let keys = api.api_keys();
    let fields = ApiKeyFields::new("my-api-key", "user_2vYVtestTESTtestTESTtestTESTtest")
        .description("CI")
        .claims(json!({"foo": "bar"}))
        .scope("read:foo")
        .scope("write:bar")
        .created_by("user_2abc")
        .seconds_until_expiration(86_400);
    let (k, seen) = f
        .run(
            "POST",
            "/v1/api_keys",
            &api_key_record(),
            keys.create(&fields),
        )
        .await;
    instance_key(&seen);
    assert_eq!(
        body_of(&seen),
        json!({"name": "my-api-key", "subject": "user_2vYVtestTESTtestTESTtestTESTtest",
               "description": "CI", "claims": {"foo": "bar"}, "scopes": ["read:foo", "write:bar"],
               "created_by": "user_2abc", "seconds_until_expiration": 86_400})
    );
    // Clerk's own fixture secret (standard base64 with `/` and `=`).
    assert_eq!(
        k.secret.as_ref().unwrap().expose(),
        "ak_LCWGdaM8mv8K4PC/57IICZQXAeWfCgF30DZaFXHoGn9="
    );
    assert!(!format!("{k:?}").contains("LCWG"));
    let mut pages = keys.list("org_2abc", true);
    let (_, seen) = f
        .run(
            "GET",
            "/v1/api_keys",
            &json!({"data": [api_key_record()], "total_count": 1}),
            pages.next_page(),
        )
        .await;
    assert_eq!(
        seen.line,
        "GET /v1/api_keys?subject=org_2abc&include_invalid=true&limit=100&offset=0"
    );
    let id = "ak_ey966f1b1xf93586b2debdcadb0b3bd1";
    let (_, seen) = f
        .run(
            "GET",
            &format!("/v1/api_keys/{id}"),
            &api_key_record(),
            keys.get(id),
        )
        .await;
    assert_eq!(seen.line, format!("GET /v1/api_keys/{id}"));
    let (s, seen) = f
        .run(
            "GET",
            &format!("/v1/api_keys/{id}/secret"),
            &json!({"secret": "ak_again"}),
            keys.secret(id),
        )
        .await;
    assert_eq!(
        (s.expose(), seen.line),
        ("ak_again", format!("GET /v1/api_keys/{id}/secret"))
    );
    let update = ApiKeyFields::update("user_2vYVtestTESTtestTESTtestTESTtest").scope("read:foo");
    let (_, seen) = f
        .run(
            "PATCH",
            &format!("/v1/api_keys/{id}"),
            &api_key_record(),
            keys.update(id, &update),
        )
        .await;
    assert_eq!(
        body_of(&seen),
        json!({"subject": "user_2vYVtestTESTtestTESTtestTESTtest", "scopes": ["read:foo"]})
    );
    let (_, seen) = f
        .run(
            "POST",
            &format!("/v1/api_keys/{id}/revoke"),
            &api_key_record(),
            keys.revoke(id, None),
        )
        .await;
    assert_eq!(body_of(&seen), json!({"revocation_reason": null}));
    let (_, seen) = f
        .run(
            "DELETE",
            &format!("/v1/api_keys/{id}"),
            &deleted("api_key", id),
            keys.delete(id),
        )
        .await;
    assert_eq!(seen.line, format!("DELETE /v1/api_keys/{id}"));

    // Testing, sign-in and actor tokens.
    let one_off = api.tokens();
    let (t, seen) = f
        .run(
            "POST",
            "/v1/testing_tokens",
            &json!({"object": "testing_token", "token": "1713877200-abc", "expires_at": 1_713_880_800}),
            one_off.testing(),
        )
        .await;
    assert_eq!(
        (seen.line.as_str(), seen.body.is_empty()),
        ("POST /v1/testing_tokens", true)
    );
    assert_eq!(
        (t.token.expose(), t.expires_at),
        ("1713877200-abc", 1_713_880_800)
    );
    let (t, seen) = f
        .run(
            "POST",
            "/v1/sign_in_tokens",
            &ticket("sign_in_token", "sit_1"),
            one_off.sign_in("user_2abc", 600, Some("org_2abc")),
        )
        .await;
    assert_eq!(
        body_of(&seen),
        json!({"user_id": "user_2abc", "expires_in_seconds": 600, "org_id": "org_2abc"})
    );
    assert!(!format!("{t:?}").contains("ticket_secret"));
    let (_, seen) = f
        .run(
            "POST",
            "/v1/sign_in_tokens/sit_1/revoke",
            &ticket("sign_in_token", "sit_1"),
            one_off.revoke_sign_in("sit_1"),
        )
        .await;
    assert_eq!(seen.line, "POST /v1/sign_in_tokens/sit_1/revoke");
    let (t, seen) = f
        .run(
            "POST",
            "/v1/actor_tokens",
            &ticket("actor_token", "act_1"),
            one_off.actor(
                "user_2abc",
                json!({"sub": "user_agent", "reason": "support"}),
                Some(600),
                Some(1800),
            ),
        )
        .await;
    assert_eq!(
        body_of(&seen),
        json!({"user_id": "user_2abc", "actor": {"sub": "user_agent", "reason": "support"},
               "expires_in_seconds": 600, "session_max_duration_in_seconds": 1800})
    );
    assert_eq!(t.actor["sub"], "user_agent");
    let (_, seen) = f
        .run(
            "POST",
            "/v1/actor_tokens/act_1/revoke",
            &ticket("actor_token", "act_1"),
            one_off.revoke_actor("act_1"),
        )
        .await;
    assert_eq!(seen.line, "POST /v1/actor_tokens/act_1/revoke");
}

/// Hostile ids and bodies never reach a path or a call; minting without
/// the machine secret key is `NotConfigured`; writes are never retried.
#[tokio::test]
async fn machine_credentials_refuse_bad_input_before_any_call() {
    use clerk_core::api::{ApiKeyFields, MachineFields, NewM2mToken};
    let f = Fake::new().await;
    let api = f.clerk.api();
    let before = f.fake.calls();
    assert!(matches!(
        api.m2m_tokens().create(&NewM2mToken::new()).await,
        Err(ApiError::NotConfigured)
    ));
    for bad in [
        "", "mch_", "mch_../x", "mch_a/b", "mch_%2e", "user_1", "mch_a?b", "verify",
    ] {
        assert!(
            matches!(
                api.machines().get(bad).await,
                Err(ApiError::InvalidInput(_))
            ),
            "{bad}"
        );
        assert!(
            matches!(
                api.machines().add_scope("mch_ok", bad).await,
                Err(ApiError::InvalidInput(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        api.machines()
            .create(&MachineFields::new().name("x").scoped_machine("../admin"))
            .await,
        Err(ApiError::InvalidInput(_))
    ));
    // An API key's secret is not its id (it has `/` and `=`).
    for bad in [
        "ak_LCWGdaM8mv8K4PC/57IICZQXAeWfCgF30DZaFXHoGn9=",
        "verify",
        "ak_",
        "mt_1",
    ] {
        assert!(
            matches!(
                api.api_keys().get(bad).await,
                Err(ApiError::InvalidInput(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        api.api_keys()
            .create(&ApiKeyFields::new("k", "mch_1"))
            .await,
        Err(ApiError::InvalidInput(_))
    ));
    assert!(matches!(
        api.m2m_tokens().revoke("ak_1", None).await,
        Err(ApiError::InvalidInput(_))
    ));
    assert!(matches!(
        api.tokens().revoke_sign_in("a/b").await,
        Err(ApiError::InvalidInput(_))
    ));
    assert!(matches!(
        api.tokens()
            .actor("user_1", json!({"name": "no sub"}), None, None)
            .await,
        Err(ApiError::InvalidInput(_))
    ));
    let mut pages = api.api_keys().list("everyone", false);
    assert!(matches!(
        pages.next_page().await,
        Some(Err(ApiError::InvalidInput(_)))
    ));
    assert_eq!(f.fake.calls(), before, "no call was made");

    // A write that fails with a 5xx is not repeated.
    f.fake.respond("POST", "/v1/api_keys", 503, &[], &json!({}));
    let res = api
        .api_keys()
        .create(&ApiKeyFields::new("k", "user_1"))
        .await;
    assert!(res.is_err());
    assert_eq!(f.fake.calls(), before + 1, "one try");
}
