//! The actix example app: the shared route table on actix-web.

use actix_web::body::MessageBody;
use actix_web::dev::{Service as _, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpResponse, web};
use clerk_actix::{
    Auth, ClerkMiddleware, ClerkProtect, ContentSecurityPolicyMiddleware, CurrentUser, Machine,
    Session, Webhook,
};
use clerk_core::browser::OrganizationTarget;

use crate::app::admin::Reply;
use crate::app::{self, AppState, Limits, WebhookState};

/// Runs the app on `listener` with `workers` workers and `limits` (header
/// deadline, connection cap, body limits).
///
/// # Errors
/// When the listener cannot be used.
pub fn server(
    state: AppState,
    limits: Limits,
    listener: std::net::TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    Ok(
        actix_web::HttpServer::new(move || app_with(state.clone(), limits))
            .workers(workers)
            .client_request_timeout(limits.header_timeout)
            .client_disconnect_timeout(std::time::Duration::from_secs(1))
            // Per worker in actix: the cap is shared out among them.
            .max_connections(limits.max_connections.div_ceil(workers.max(1)))
            .listen(listener)?
            .run(),
    )
}

/// Builds the app with the default body limits (call it inside
/// `HttpServer::new` with a clone of one `AppState`, so workers share one
/// key cache).
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    app_with(state, Limits::default())
}

/// Builds the app with `limits`' body limits.
pub fn app_with(
    state: AppState,
    limits: Limits,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut app = App::new()
        .app_data(web::Data::new(state.clone()))
        .route("/", web::get().to(index))
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics))
        .route(app::openapi::PATH, web::get().to(openapi))
        .route("/api/public", web::get().to(public))
        .route("/api/me", web::get().to(me))
        .route("/api/me/profile", web::get().to(profile))
        .service(
            web::resource("/api/machine")
                .wrap(ClerkProtect::new(state.machine_protect()))
                .route(web::get().to(machine)),
        )
        .route("/sign-in", web::get().to(sign_in))
        .route("/sign-out", web::get().to(sign_out))
        .route("/dashboard", web::get().to(dashboard))
        .route("/dashboard/{rest:.*}", web::get().to(dashboard))
        .route("/orgs/{slug}/dashboard", web::get().to(dashboard))
        .route("/me/dashboard", web::get().to(dashboard));
    // Clerk's Frontend API proxy (the core reads its path as no page load,
    // so the Clerk middleware around it never hands it a handshake).
    if let Some(proxy) = state.frontend_api_proxy() {
        app = app.app_data(web::Data::new(proxy)).route(
            &format!("{}/{{tail:.+}}", app::PROXY_PATH),
            web::to(clerk_actix::frontend_api_proxy),
        );
    }
    for guard in app::guards() {
        let path = guard.path;
        let handler = move |session: Session| async move {
            HttpResponse::Ok().json(app::allowed_json(path, &session))
        };
        let route = match guard.method {
            "POST" => web::post().to(handler),
            _ => web::get().to(handler),
        };
        app = app.service(
            web::resource(path)
                .route(route)
                .wrap(ClerkProtect::requiring(guard.requirement)),
        );
    }
    app = app
        .service(
            web::resource(app::admin::PLAN_PATH)
                .route(web::post().to(set_plan))
                .wrap(ClerkProtect::requiring(app::admin::requirement())),
        )
        .service(
            web::resource(app::admin::MEMBERS_PATH)
                .route(web::get().to(members))
                .wrap(ClerkProtect::requiring(app::admin::requirement())),
        );
    if let Some(hooks) = state.webhooks.clone() {
        app = app
            .app_data(web::Data::new(hooks.verifier.clone()))
            .app_data(web::Data::new(hooks))
            .route("/webhooks/clerk", web::post().to(webhook));
        if state.dev.is_some() {
            app = app.route("/webhooks/recent", web::get().to(recent_webhooks));
        }
    }
    // `wrap` order: the last one runs first, so authentication is outermost.
    app.wrap(ClerkProtect::new(state.dashboard_protect()))
        .wrap(ClerkMiddleware::new(state.clerk.clone()))
        // Clerk's Content-Security-Policy (strict: a nonce per response,
        // in the request's `x-nonce` for the pages' scripts).
        .wrap(ContentSecurityPolicyMiddleware::new(
            state.content_security_policy().strict(true),
        ))
        // Outermost: a declared body over the limit is 413 before any
        // other work, and a body that stops coming fails its read.
        .wrap_fn(move |mut req, srv| {
            use futures_util::future::{Either, FutureExt as _};
            if app::server::actix_body_deadline(
                &mut req,
                limits.body_timeout,
                limits.max_body_bytes,
            ) {
                Either::Left(
                    srv.call(req)
                        .map(|res| res.map(ServiceResponse::map_into_left_body)),
                )
            } else {
                let refusal = HttpResponse::PayloadTooLarge()
                    .insert_header(("connection", "close"))
                    .finish();
                let (http_req, _) = req.into_parts();
                Either::Right(std::future::ready(Ok(ServiceResponse::new(
                    http_req, refusal,
                )
                .map_into_right_body())))
            }
        })
}

async fn index(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(state.index_html())
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.health())
}

/// The OpenAPI document of the routes, with Clerk's security schemes.
async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(app::openapi::document())
}

/// Dev mode: the Prometheus page (404 otherwise).
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.metrics_page() {
        Some(page) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(page),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn public(auth: Auth) -> HttpResponse {
    HttpResponse::Ok().json(app::public_json(&auth))
}

async fn me(session: Session) -> HttpResponse {
    HttpResponse::Ok().json(app::session_json(&session))
}

/// `/dashboard`, `/orgs/{slug}/dashboard`, `/me/dashboard`: the session,
/// the organization the URL names (put there by the Clerk middleware) and
/// the CSP nonce (put there by the CSP middleware).
async fn dashboard(
    session: Session,
    named: Option<web::ReqData<OrganizationTarget>>,
    req: actix_web::HttpRequest,
) -> HttpResponse {
    let nonce = req.headers().get("x-nonce").and_then(|n| n.to_str().ok());
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(app::dashboard_html(&session, named.as_deref(), nonce))
}

/// Dev mode: the dev Frontend API's sign-in page (404 otherwise).
async fn sign_in(state: web::Data<AppState>, req: actix_web::HttpRequest) -> HttpResponse {
    match state.sign_in_location(Some(req.query_string())) {
        Some(to) => HttpResponse::SeeOther()
            .insert_header(("location", to))
            .finish(),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Dev mode: sign out at the dev Frontend API (404 otherwise).
async fn sign_out(state: web::Data<AppState>, req: actix_web::HttpRequest) -> HttpResponse {
    let host = req.headers().get("host").and_then(|h| h.to_str().ok());
    match state.sign_out_location(host) {
        Some(to) => HttpResponse::SeeOther()
            .insert_header(("location", to))
            .finish(),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn webhook(hooks: web::Data<WebhookState>, Webhook(event): Webhook) -> HttpResponse {
    reply(hooks.handle(&event).await)
}

async fn set_plan(
    state: web::Data<AppState>,
    session: Session,
    user_id: web::Path<String>,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    reply(app::admin::set_plan(state.clerk.api(), &session, &user_id, content_type, &body).await)
}

async fn members(state: web::Data<AppState>, session: Session) -> HttpResponse {
    reply(app::admin::members(state.clerk.api(), &session).await)
}

/// An app [`Reply`] as an actix response.
fn reply(r: Reply) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(r.status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    if let Some(secs) = r.retry_after {
        res.insert_header(("retry-after", secs.to_string()));
    }
    res.json(r.body)
}

async fn recent_webhooks(hooks: web::Data<WebhookState>) -> HttpResponse {
    HttpResponse::Ok().json(hooks.recent())
}

async fn machine(Machine(m): Machine) -> HttpResponse {
    HttpResponse::Ok().json(app::machine_json(&m))
}

async fn profile(user: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(app::profile_json(&user))
}
