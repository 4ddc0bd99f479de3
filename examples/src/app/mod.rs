//! The route table, key handling and dev mode shared by the example apps,
//! one concern a file: [`routes`] (the table and its JSON), [`admin`] (the
//! Backend API routes), [`dev`] (dev mode), [`webhooks`], [`sync`] (the
//! local users table), [`state`] (what handlers need), [`start`]
//! (start-up) and [`server`] (connection and body limits).

pub mod admin;
pub mod dev;
pub mod frontend;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod start;
pub mod state;
pub mod sync;
pub mod webhooks;

pub use dev::{DEV_SECRET_KEY, DevMode, Persona};
pub use routes::{
    DASHBOARD_PATTERNS, Guard, ORGANIZATION_PATTERNS, PERSONAL_ACCOUNT_PATTERNS, PROXY_PATH,
    SessionJson, allowed_json, dashboard_html, guards, machine_json, profile_json, public_json,
    session_json,
};
pub use server::Limits;
pub use start::{DevModeRefused, check_dev_mode_allowed, env_vars, listen_addr, start_from_env};
pub use state::{AppState, Shared, accepted_tokens, has_clerk_keys};
pub use webhooks::{RECENT_EVENTS, WebhookState};
