//! The axum example app: the shared route table on axum.

use axum::body::Bytes;
use axum::extract::{FromRef, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Json, Router};
use clerk_axum::{
    Auth, ClerkLayer, ContentSecurityPolicyLayer, CurrentUser, Machine, ProtectLayer, Session,
    Webhook, protect,
};
use clerk_core::browser::OrganizationTarget;
use clerk_core::webhook::WebhookVerifier;
use serde_json::Value;

use crate::app::admin::Reply;
use crate::app::{self, AppState, Limits, WebhookState};

impl FromRef<WebhookState> for WebhookVerifier {
    fn from_ref(state: &WebhookState) -> Self {
        state.verifier.clone()
    }
}

/// Builds the app's router, with the default body limits.
pub fn router(state: AppState) -> Router {
    router_with(state, Limits::default())
}

/// Serves the app on `listener` (header deadline, connection cap, peer
/// addresses for the Clerk layer) until `shutdown`.
///
/// # Errors
/// See [`app::server::serve_axum`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    app::server::serve_axum(listener, router_with(state, limits), limits, shutdown).await
}

/// Builds the app's router with `limits`' body limits.
pub fn router_with(state: AppState, limits: Limits) -> Router {
    let mut api = Router::new();
    for guard in app::guards() {
        let path = guard.path;
        let handler =
            move |session: Session| async move { Json(app::allowed_json(path, &session)) };
        let method: MethodRouter<AppState> = match guard.method {
            "POST" => post(handler),
            _ => get(handler),
        };
        api = api.route(path, method.layer(protect(guard.requirement)));
    }
    api = api
        .route(
            app::admin::PLAN_PATH,
            post(set_plan).layer(protect(app::admin::requirement())),
        )
        .route(
            app::admin::MEMBERS_PATH,
            get(members).layer(protect(app::admin::requirement())),
        );
    if let Some(hooks) = state.webhooks.clone() {
        let mut routes = Router::new().route("/webhooks/clerk", post(webhook));
        if state.dev.is_some() {
            routes = routes.route("/webhooks/recent", get(recent_webhooks));
        }
        api = api.merge(routes.with_state(hooks));
    }
    let mut router = Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route(app::openapi::PATH, get(openapi))
        .route("/api/public", get(public))
        .route("/api/me", get(me))
        .route("/api/me/profile", get(profile))
        .route(
            "/api/machine",
            get(machine).layer(ProtectLayer::new(state.machine_protect())),
        )
        .route("/sign-in", get(sign_in))
        .route("/sign-out", get(sign_out))
        .route("/dashboard", get(dashboard))
        .route("/dashboard/{*rest}", get(dashboard))
        .route("/orgs/{slug}/dashboard", get(dashboard))
        .route("/me/dashboard", get(dashboard))
        .merge(api);
    // Clerk's Frontend API proxy, inside the Clerk layer as in the actix
    // app (the core reads its path as no page load, so it never hands it a
    // handshake; no guard pattern covers it).
    if let Some(proxy) = state.frontend_api_proxy() {
        router = router.route_service(
            &format!("{}/{{*path}}", app::PROXY_PATH),
            clerk_axum::frontend_api_proxy(proxy),
        );
    }
    let router = router
        .layer(ProtectLayer::new(state.dashboard_protect()))
        .layer(ClerkLayer::new(state.clerk.clone()));
    // Clerk's Content-Security-Policy (strict: a nonce per response, in
    // the request's `x-nonce` for the pages' scripts) on every answer.
    let csp = ContentSecurityPolicyLayer::new(state.content_security_policy().strict(true));
    let router = router.layer(csp).with_state(state);
    app::server::body_limits(router, limits)
}

async fn index(State(state): State<AppState>) -> Html<String> {
    Html(state.index_html())
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(state.health())
}

/// The OpenAPI document of the routes, with Clerk's security schemes.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(app::openapi::document())
}

/// Dev mode: the Prometheus page (404 otherwise).
async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics_page() {
        Some(page) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], page).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn public(auth: Auth) -> Json<Value> {
    Json(app::public_json(&auth))
}

async fn me(session: Session) -> Response {
    // Serialized while the session is borrowed: no JSON tree per request.
    Json(app::session_json(&session)).into_response()
}

/// `/dashboard`, `/orgs/{slug}/dashboard`, `/me/dashboard`: the session,
/// the organization the URL names (put there by the Clerk layer) and the
/// CSP nonce (put there by the CSP layer).
async fn dashboard(
    session: Session,
    named: Option<Extension<OrganizationTarget>>,
    headers: axum::http::HeaderMap,
) -> Html<String> {
    let nonce = headers.get("x-nonce").and_then(|n| n.to_str().ok());
    Html(app::dashboard_html(&session, named.as_deref(), nonce))
}

/// Dev mode: the dev Frontend API's sign-in page (404 otherwise).
async fn sign_in(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match state.sign_in_location(query.as_deref()) {
        Some(to) => Redirect::to(&to).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// Dev mode: sign out at the dev Frontend API (404 otherwise).
async fn sign_out(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let host = headers.get("host").and_then(|h| h.to_str().ok());
    match state.sign_out_location(host) {
        Some(to) => Redirect::to(&to).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn webhook(State(hooks): State<WebhookState>, Webhook(event): Webhook) -> Response {
    reply(hooks.handle(&event).await)
}

async fn set_plan(
    State(state): State<AppState>,
    session: Session,
    Path(user_id): Path<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    reply(app::admin::set_plan(state.clerk.api(), &session, &user_id, content_type, &body).await)
}

async fn members(State(state): State<AppState>, session: Session) -> Response {
    reply(app::admin::members(state.clerk.api(), &session).await)
}

/// An app [`Reply`] as an axum response.
fn reply(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, Json(r.body)).into_response();
    if let Some(secs) = r.retry_after {
        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    res
}

async fn recent_webhooks(State(hooks): State<WebhookState>) -> Json<Value> {
    Json(hooks.recent())
}

async fn machine(Machine(m): Machine) -> Json<Value> {
    Json(app::machine_json(&m))
}

async fn profile(user: CurrentUser) -> Json<Value> {
    Json(app::profile_json(&user))
}
