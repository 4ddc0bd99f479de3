//! Clerk's security schemes in a [`utoipa`] OpenAPI document (feature
//! `openapi`): the session token as a bearer JWT
//! ([`SESSION_BEARER`]), the same token in the `__session` cookie
//! ([`SESSION_COOKIE`]), and machine tokens (API keys, M2M, OAuth) in the
//! `Authorization` header ([`MACHINE_TOKEN`]). [`ClerkSecurity`] adds them
//! (as a [`utoipa::Modify`], or with [`ClerkSecurity::add_to`]);
//! [`ClerkSecurity::session`] and [`ClerkSecurity::machine`] are the
//! requirements an operation lists.
//!
//! ```
//! use clerk_core::openapi::ClerkSecurity;
//! use utoipa::openapi::{HttpMethod, OpenApiBuilder, PathItem, PathsBuilder};
//! use utoipa::openapi::path::OperationBuilder;
//!
//! let mut doc = OpenApiBuilder::new()
//!     .paths(PathsBuilder::new().path(
//!         "/api/admin",
//!         PathItem::new(
//!             HttpMethod::Get,
//!             OperationBuilder::new().securities(Some(ClerkSecurity::session())),
//!         ),
//!     ))
//!     .build();
//! ClerkSecurity::add_to(&mut doc);
//! let schemes = &doc.components.as_ref().unwrap().security_schemes;
//! assert!(schemes.contains_key("clerk_session"));
//! ```

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};

/// The session token in `Authorization: Bearer` (a JWT).
pub const SESSION_BEARER: &str = "clerk_session";
/// The session token in the `__session` cookie (same-site browser calls).
pub const SESSION_COOKIE: &str = "clerk_session_cookie";
/// A machine token (API key, M2M or OAuth) in `Authorization: Bearer`.
pub const MACHINE_TOKEN: &str = "clerk_machine_token";

/// Adds Clerk's security schemes to a document.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClerkSecurity;

impl ClerkSecurity {
    /// Adds the three schemes to `doc`'s components.
    pub fn add_to(doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION_BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Clerk session token (getToken() in the frontend), RS256-signed.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__session",
                "The Clerk session cookie set by the frontend on your domain.",
            ))),
        );
        components.add_security_scheme(
            MACHINE_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Bearer ak_…` (API key), `Bearer mt_…` or an M2M JWT, or an OAuth access token.",
            ))),
        );
    }

    /// What a route for signed-in users lists: the bearer token or the
    /// cookie (either one).
    pub fn session() -> Vec<SecurityRequirement> {
        vec![
            SecurityRequirement::new(SESSION_BEARER, Vec::<String>::new()),
            SecurityRequirement::new(SESSION_COOKIE, Vec::<String>::new()),
        ]
    }

    /// What a route for machines lists: a machine token with `scopes`.
    pub fn machine<I: Into<String>>(
        scopes: impl IntoIterator<Item = I>,
    ) -> Vec<SecurityRequirement> {
        vec![SecurityRequirement::new(MACHINE_TOKEN, scopes)]
    }
}

impl utoipa::Modify for ClerkSecurity {
    fn modify(&self, doc: &mut OpenApi) {
        Self::add_to(doc);
    }
}
