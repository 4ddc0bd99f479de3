//! `GET /api-docs/openapi.json`: the apps' routes as an OpenAPI document,
//! built from the same route table the routers use, each protected route
//! with its Clerk security requirement ([`clerk_core::openapi`]).

use clerk_core::openapi::ClerkSecurity;
use utoipa::openapi::path::{OperationBuilder, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder};

/// Where the document is served.
pub const PATH: &str = "/api-docs/openapi.json";

fn operation(summary: String, security: Option<Vec<SecurityRequirement>>) -> PathItem {
    let op = OperationBuilder::new()
        .summary(Some(summary))
        .securities(security);
    PathItem::new(HttpMethod::Get, op)
}

fn method(m: &str) -> HttpMethod {
    match m {
        "POST" => HttpMethod::Post,
        _ => HttpMethod::Get,
    }
}

/// The document: public routes without security, session routes with the
/// session schemes, the machine route with the machine scheme.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new()
        .path("/health", operation("Health".into(), None))
        .path(
            "/api/public",
            operation("Who is calling, if anyone".into(), None),
        )
        .path(
            "/api/me",
            operation(
                "The verified session".into(),
                Some(ClerkSecurity::session()),
            ),
        )
        .path(
            "/api/me/profile",
            operation(
                "The signed-in user's record".into(),
                Some(ClerkSecurity::session()),
            ),
        )
        .path(
            "/api/machine",
            operation(
                "The verified machine token".into(),
                Some(ClerkSecurity::machine(Vec::<String>::new())),
            ),
        );
    for guard in super::guards() {
        let op = OperationBuilder::new()
            .summary(Some(format!("Requires {:?}", guard.requirement)))
            .securities(Some(ClerkSecurity::session()));
        paths = paths.path(guard.path, PathItem::new(method(guard.method), op));
    }
    for (path, m, summary) in [
        (
            super::admin::PLAN_PATH,
            "POST",
            "Set a member's plan (org admin)",
        ),
        (
            super::admin::MEMBERS_PATH,
            "GET",
            "The organization's members (org admin)",
        ),
    ] {
        let op = OperationBuilder::new()
            .summary(Some(summary))
            .securities(Some(ClerkSecurity::session()));
        paths = paths.path(path, PathItem::new(method(m), op));
    }
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("clerk-kit example app")
                .version(env!("CARGO_PKG_VERSION"))
                .build(),
        )
        .paths(paths)
        .build();
    ClerkSecurity::add_to(&mut doc);
    doc
}
