//! HTTP: the JSON API under `/api/`, the pages, the phone's endpoints, sessions, CSRF and
//! security headers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_axum::{ClientAddr, TrustedProxies};
use mfa_email_identity::TokenHash;
use mfa_flow::{
    Auth, Authenticated, ChallengeView, ClientInfo, EnrollmentProof, FactorId, FactorKind,
    LoginError, LoginStep, PushEnrollmentStatus, RequiredAction, Session, SessionId, Store,
};
use mfa_store_sql::SqlStore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::i18n::{Lang, error_key, kind_key, retired_key, t, unavailable_key};
use crate::mail::PortalMailer;
use crate::push_hub::PushHub;

/// The application state.
pub struct App {
    /// The flows.
    pub auth: Auth<SqlStore, PortalMailer, PushHub>,
    /// Push hints waiting for devices.
    pub hub: PushHub,
    /// Whether cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// The proxies whose `X-Forwarded-For` hop is believed.
    pub proxies: TrustedProxies,
    /// The audit log's writer (for its dropped-events count).
    pub audit: mfa_store_sql::SqlAudit,
    /// Product name.
    pub product: String,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("product", &self.product).finish_non_exhaustive()
    }
}

type Shared = Arc<App>;

#[allow(clippy::disallowed_methods)]
fn now() -> SystemTime {
    SystemTime::now()
}

/// The session cookie: before sign-in a random token, after it the `mfa-flow` session's own
/// token (so signing in replaces whatever token the browser had: no fixation).
const SESSION_COOKIE: &str = "portal_session";
const DEVICE_COOKIE: &str = "portal_device";
/// The page language chosen with the switch (kept by the browser, not the server).
const LANG_COOKIE: &str = "portal_lang";
/// How long the browser keeps the session cookie; the server's session decides far sooner.
const COOKIE_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long the page state below is kept without a request.
const UI_STATE_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest cookie value read.
const MAX_TOKEN_LEN: usize = 128;

/// Page state the portal keeps per browser, server-side under the hash of the cookie's
/// token, and only while there is some: a request without a cookie writes nothing. No
/// secret is kept here (recovery codes go to the browser once, in the answer that made
/// them).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct WebSession {
    login: Option<ChallengeView>,
    after_login: Option<String>,
    warn_username: bool,
    proof_flow: Option<String>,
}

struct Ctx {
    app: Shared,
    token: String,
    ws: WebSession,
    /// The signed-in (or enrollment-only) session, as `mfa-flow` found it for this token.
    session: Option<Session>,
    lang: Lang,
    /// A language chosen in this request, for the language cookie.
    set_lang: Option<Lang>,
    new_cookie: bool,
    client: ClientInfo,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    #[allow(clippy::disallowed_methods)]
    let _ = getrandom::fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The value of cookie `name` (parsed by axum-extra's cookie crate). A name sent twice — a
/// cookie planted beside ours by a sibling site, with another `Path` or `Domain` — counts as
/// absent: which one the browser meant cannot be known.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(axum_extra::extract::cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name)
        .map(|c| c.value().to_owned());
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

fn session_key(token: &str) -> String {
    format!("websession:{}", TokenHash::of(token).to_base64url())
}

impl App {
    /// A cookie's name: `__Host-` prefixed behind https (the browser then insists on
    /// `Secure`, `Path=/` and no `Domain`).
    fn cookie_name(&self, name: &str) -> String {
        if self.secure_cookies { format!("__Host-{name}") } else { name.to_owned() }
    }
}

impl Ctx {
    /// The request's context. The client address comes from the socket (through
    /// `mfa-axum`: a forwarded-for header counts only from the configured proxies).
    async fn load(app: &Shared, headers: &HeaderMap, ClientAddr(ip): ClientAddr) -> Self {
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let client = ClientInfo {
            ip: ip.to_string(),
            browser: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(browser_name)
                .unwrap_or_default(),
            location: String::new(),
            known_device: cookie(headers, &app.cookie_name(DEVICE_COOKIE))
                .filter(|t| t.len() <= MAX_TOKEN_LEN),
        };
        let lang = match cookie(headers, &app.cookie_name(LANG_COOKIE)).as_deref() {
            Some("ja") => Lang::Ja,
            Some("en") => Lang::En,
            _ => Lang::from_accept(accept),
        };
        let token = cookie(headers, &app.cookie_name(SESSION_COOKIE))
            .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN);
        let Some(token) = token else {
            return Self {
                app: app.clone(),
                token: random_token(),
                ws: WebSession::default(),
                session: None,
                lang,
                set_lang: None,
                new_cookie: true,
                client,
            };
        };
        let ws = match app.auth.store().get_flow(&session_key(&token), now()).await {
            Ok(Some(bytes)) => serde_json::from_slice::<WebSession>(&bytes).unwrap_or_default(),
            _ => WebSession::default(),
        };
        // The session, acting from this request's client (the audit log's "who").
        let session = app.auth.session(&token, now()).await.ok().map(|s| s.acting_from(&client));
        Self {
            app: app.clone(),
            token,
            ws,
            session,
            lang,
            set_lang: None,
            new_cookie: false,
            client,
        }
    }

    /// Moves the page state to a new cookie token: the signed-in session's after a login,
    /// a fresh random one after a logout. A token planted before is worth nothing after.
    async fn rotate_to(&mut self, token: String) {
        let _ = self.app.auth.store().take_flow(&session_key(&self.token), now()).await;
        self.token = token;
        self.new_cookie = true;
    }

    /// Stores the page state, or deletes it when there is none.
    async fn save(&self) {
        let store = self.app.auth.store();
        let key = session_key(&self.token);
        if self.ws == WebSession::default() {
            let _ = store.take_flow(&key, now()).await;
        } else if let Ok(bytes) = serde_json::to_vec(&self.ws) {
            let _ = store.put_flow(&key, &bytes, now() + UI_STATE_TTL).await;
        }
    }

    fn cookie_headers(&self, extra: Option<String>) -> HeaderMap {
        let mut h = HeaderMap::new();
        let secure = if self.app.secure_cookies { "; Secure" } else { "" };
        if self.new_cookie
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                self.app.cookie_name(SESSION_COOKIE),
                self.token,
                COOKIE_MAX_AGE.as_secs()
            ))
        {
            h.append(header::SET_COOKIE, v);
        }
        if let Some(lang) = self.set_lang
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}",
                self.app.cookie_name(LANG_COOKIE),
                lang.tag()
            ))
        {
            h.append(header::SET_COOKIE, v);
        }
        if let Some(device) = extra
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{}={device}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                self.app.cookie_name(DEVICE_COOKIE),
                self.app.auth.config().known_device_ttl.as_secs()
            ))
        {
            h.append(header::SET_COOKIE, v);
        }
        h
    }

    /// The CSRF token: derived from the cookie's token (`mfa-axum`), so it needs no storage.
    fn csrf(&self) -> String {
        mfa_axum::csrf_token(&self.token)
    }

    fn check_csrf(&self, headers: &HeaderMap) -> bool {
        !self.new_cookie && mfa_axum::verify_csrf(headers, &self.token)
    }

    fn session(&self) -> Option<Session> {
        self.session.clone()
    }

    fn reply(&self, status: StatusCode, body: Value, device: Option<String>) -> Response {
        (status, self.cookie_headers(device), axum::Json(body)).into_response()
    }

    fn error(&self, e: &LoginError) -> Response {
        let key = error_key(e);
        let status = match e {
            LoginError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            LoginError::StepUpRequired | LoginError::ProofRequired => StatusCode::FORBIDDEN,
            LoginError::NotSignedIn => StatusCode::UNAUTHORIZED,
            LoginError::Internal | LoginError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        if matches!(e, LoginError::Internal | LoginError::Store(_)) {
            tracing::error!(error = %e, "request failed");
        }
        let next = matches!(e, LoginError::StepUpRequired).then_some("/stepup");
        self.reply(
            status,
            json!({"ok": false, "error": key, "message": t(self.lang, key), "next": next}),
            None,
        )
    }

    fn fail_key(&self, status: StatusCode, key: &str) -> Response {
        self.reply(status, json!({"ok": false, "error": key, "message": t(self.lang, key)}), None)
    }
}

fn browser_name(ua: &str) -> String {
    let browser = ["Edg/", "Chrome/", "Firefox/", "Safari/"]
        .iter()
        .find(|b| ua.contains(*b))
        .map_or("Browser", |b| match *b {
            "Edg/" => "Edge",
            "Chrome/" => "Chrome",
            "Firefox/" => "Firefox",
            _ => "Safari",
        });
    let os = ["Windows", "Mac OS", "Android", "iPhone", "Linux"]
        .iter()
        .find(|o| ua.contains(*o))
        .copied()
        .unwrap_or("");
    if os.is_empty() { browser.to_owned() } else { format!("{browser} on {os}") }
}

/// The router.
pub fn router(app: Shared) -> Router {
    let router = Router::new()
        .route("/", get(root))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/lang", get(set_lang))
        .route("/login", get(page_login))
        .route("/signup", get(page_signup))
        .route("/factor", get(page_factor))
        .route("/mfa", get(page_mfa))
        .route("/mfa/totp", get(page_totp))
        .route("/mfa/key", get(page_key))
        .route("/mfa/push", get(page_push))
        .route("/mfa/email", get(page_email_factor))
        .route("/recovery", get(page_recovery))
        .route("/settings", get(page_settings))
        .route("/stepup", get(page_stepup))
        .route("/offer-biometric", get(page_offer))
        .route("/email/confirm", get(page_email_link))
        .route("/email/revert", get(page_email_link))
        .route("/api/session", get(api_session))
        .route("/api/signup", post(api_signup))
        .route("/api/login", post(api_login))
        .route("/api/login/code", post(api_login_code))
        .route("/api/login/select", post(api_login_select))
        .route("/api/login/poll", post(api_login_poll))
        .route("/api/login/webauthn", post(api_login_webauthn))
        .route("/api/logout", post(api_logout))
        .route("/api/me", get(api_me))
        .route("/api/stepup", post(api_stepup))
        .route("/api/mfa/totp/begin", post(api_totp_begin))
        .route("/api/mfa/totp/confirm", post(api_totp_confirm))
        .route("/api/mfa/webauthn/begin", post(api_webauthn_begin))
        .route("/api/mfa/webauthn/finish", post(api_webauthn_finish))
        .route("/api/mfa/push/begin", post(api_push_begin))
        .route("/api/mfa/push/status", post(api_push_status))
        .route("/api/mfa/email/begin", post(api_email_factor_begin))
        .route("/api/mfa/email/confirm", post(api_email_factor_confirm))
        .route("/api/mfa/sms", post(api_sms))
        .route("/api/mfa/remove", post(api_remove))
        .route("/api/mfa/rename", post(api_rename))
        .route("/api/mfa/recovery", post(api_recovery))
        .route("/api/mfa/reinstate", post(api_reinstate))
        .route("/api/mfa/proof/begin", post(api_proof_begin))
        .route("/api/mfa/proof/confirm", post(api_proof_confirm))
        .route("/api/mfa/proof/recovery", post(api_proof_recovery))
        .route("/api/sessions", get(api_sessions))
        .route("/api/methods", get(api_methods))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/api/sessions/end", post(api_session_end))
        .route("/api/sessions/end-others", post(api_sessions_end_others))
        .route("/api/settings/profile", post(api_profile))
        .route("/api/settings/email", post(api_change_email))
        .route("/api/settings/password", post(api_password))
        .route("/api/email/confirm", post(api_email_confirm))
        .route("/api/email/revert", post(api_email_revert))
        .route("/push/register", post(push_register))
        .route("/push/fetch", post(push_fetch))
        .route("/push/respond", post(push_respond))
        .route("/push/poll", post(push_poll))
        .layer(axum::Extension(app.proxies.clone()));
    let hardening =
        mfa_axum::Hardening { hsts: app.secure_cookies, ..mfa_axum::Hardening::default() };
    mfa_axum::traced(mfa_axum::harden(router.with_state(app), &hardening))
}

// ----- JSON API -----

/// A request's JSON body, or none (an empty body). Anything else — not JSON, JSON not
/// declared as such, too large — is refused in the API's JSON shape, translated, never with
/// the parser's words.
struct J(Option<Value>);

impl J {
    fn as_ref(&self) -> Option<&Value> {
        self.0.as_ref()
    }
}

/// A refused body, answered in the page language of the request.
struct BodyRefused(mfa_axum::ApiError, Lang);

impl IntoResponse for BodyRefused {
    fn into_response(self) -> Response {
        let Self(e, lang) = self;
        let body = json!({"ok": false, "error": e.code, "message": t(lang, e.code)});
        (e.status, axum::Json(body)).into_response()
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for J {
    type Rejection = BodyRefused;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, BodyRefused> {
        let accept = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let lang = Lang::from_accept(accept);
        if !req.headers().contains_key(header::CONTENT_TYPE) {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|_| BodyRefused(mfa_axum::ApiError::too_large(), lang))?;
            return if bytes.is_empty() {
                Ok(Self(None))
            } else {
                Err(BodyRefused(mfa_axum::ApiError::content_type(), lang))
            };
        }
        let mfa_axum::ApiJson(v) = mfa_axum::ApiJson::<Value>::from_request(req, state)
            .await
            .map_err(|e| BodyRefused(e, lang))?;
        Ok(Self(Some(v)))
    }
}

fn field(body: &J, name: &str) -> String {
    body.as_ref().and_then(|b| b.get(name)).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// An unknown route under `/api/`: the JSON shape, not a bare 404.
async fn api_not_found(headers: HeaderMap) -> Response {
    let lang =
        Lang::from_accept(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    BodyRefused(mfa_axum::ApiError::not_found(), lang).into_response()
}

/// Loads the context and checks the CSRF header of a state-changing request.
async fn post_ctx(app: &Shared, headers: &HeaderMap, client: ClientAddr) -> Result<Ctx, Response> {
    let ctx = Ctx::load(app, headers, client).await;
    if !ctx.check_csrf(headers) {
        return Err(ctx.fail_key(StatusCode::FORBIDDEN, "err_csrf"));
    }
    Ok(ctx)
}

async fn api_session(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = Ctx::load(&app, &headers, client).await;
    let session = ctx.session();
    let body = json!({
        "ok": true, "csrf": ctx.csrf(), "lang": ctx.lang.tag(),
        "authenticated": session.as_ref().is_some_and(|s| !s.enrollment_only),
        "enrollment_only": session.as_ref().is_some_and(|s| s.enrollment_only),
        "proof_required": session.as_ref().is_some_and(|s| s.proof == EnrollmentProof::Required),
        "assurance": session.as_ref().map(|s| s.assurance),
        "login_pending": ctx.ws.login.is_some(),
    });
    ctx.reply(StatusCode::OK, body, None)
}

async fn api_signup(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.auth.sign_up(&field(&body, "email"), &field(&body, "password"), now()).await {
        Ok(_) => ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/login"}), None),
        // The address has an account: its owner was told by mail; the page answers as for a
        // new account, so sign-up reveals no one.
        Err(LoginError::AccountExists) => ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/login"}), None),
        Err(LoginError::Refused(reason)) => {
            ctx.reply(StatusCode::BAD_REQUEST, json!({"ok": false, "error": "err_invalid", "message": format!("{} ({reason})", t(ctx.lang, "err_invalid"))}), None)
        }
        Err(e) => ctx.error(&e),
    }
}

/// Applies a login step to the web session and says where the browser goes next.
async fn apply_step(mut ctx: Ctx, step: LoginStep) -> Response {
    match step {
        LoginStep::Challenge(view) => {
            ctx.ws.warn_username =
                view.warnings.iter().any(|w| matches!(w, mfa_flow::Warning::UsernameDeprecated));
            let body = json!({"ok": true, "next": "/factor", "challenge": view});
            ctx.ws.login = Some(view);
            ctx.save().await;
            ctx.reply(StatusCode::OK, body, None)
        }
        LoginStep::MustEnroll { session, session_token, unavailable, .. } => {
            ctx.ws.login = None;
            let proof_required = session.proof == EnrollmentProof::Required;
            ctx.rotate_to(session_token.expose_secret().to_owned()).await;
            ctx.session = Some(session);
            ctx.save().await;
            ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/mfa", "must_enroll": true, "proof_required": proof_required, "unavailable": unavailable}), None)
        }
        LoginStep::Authenticated(done) => finish_login(ctx, done).await,
        LoginStep::SteppedUp(session) => {
            ctx.ws.login = None;
            let next = ctx.ws.after_login.take().unwrap_or_else(|| "/settings".into());
            ctx.session = Some(session);
            ctx.save().await;
            ctx.reply(StatusCode::OK, json!({"ok": true, "next": next, "stepped_up": true}), None)
        }
        LoginStep::Waiting => ctx.reply(StatusCode::OK, json!({"ok": true, "waiting": true}), None),
        _ => ctx.error(&LoginError::Internal),
    }
}

async fn finish_login(mut ctx: Ctx, done: Authenticated) -> Response {
    ctx.ws.after_login = None;
    ctx.ws.login = None;
    let offer = done.required_actions.contains(&RequiredAction::OfferBiometricKey);
    let next = if offer { "/offer-biometric" } else { "/settings" };
    ctx.rotate_to(done.session_token.expose_secret().to_owned()).await;
    ctx.session = Some(done.session);
    ctx.save().await;
    let body = json!({"ok": true, "next": next, "assurance": done.assurance, "required_actions": done.required_actions});
    ctx.reply(StatusCode::OK, body, Some(done.known_device))
}

async fn api_login(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app
        .auth
        .login(&field(&body, "identifier"), &field(&body, "password"), &ctx.client, now())
        .await
    {
        Ok(step) => apply_step(ctx, step).await,
        Err(e) => ctx.error(&e),
    }
}

fn pending_flow(ctx: &Ctx) -> Option<String> {
    ctx.ws.login.as_ref().map(|v| v.flow.clone())
}

async fn api_login_code(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(flow) = pending_flow(&ctx) else { return ctx.error(&LoginError::FlowExpired) };
    match app.auth.submit_code(&flow, &field(&body, "code"), now()).await {
        Ok(step) => apply_step(ctx, step).await,
        Err(e) => ctx.error(&e),
    }
}

async fn api_login_select(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(flow) = pending_flow(&ctx) else { return ctx.error(&LoginError::FlowExpired) };
    let Ok(id) = uuid::Uuid::parse_str(&field(&body, "factor")) else {
        return ctx.error(&LoginError::Malformed);
    };
    match app.auth.select_method(&flow, FactorId(id), &ctx.client, now()).await {
        Ok(step) => apply_step(ctx, step).await,
        Err(e) => ctx.error(&e),
    }
}

async fn api_login_poll(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(flow) = pending_flow(&ctx) else { return ctx.error(&LoginError::FlowExpired) };
    match app.auth.poll_push(&flow, now()).await {
        Ok(step) => apply_step(ctx, step).await,
        Err(e) => ctx.error(&e),
    }
}

async fn api_login_webauthn(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(flow) = pending_flow(&ctx) else { return ctx.error(&LoginError::FlowExpired) };
    let response =
        body.as_ref().and_then(|b| b.get("response")).map(Value::to_string).unwrap_or_default();
    match app.auth.submit_webauthn(&flow, &response, now()).await {
        Ok(step) => apply_step(ctx, step).await,
        // Say what happened to the key, not "the code".
        Err(LoginError::WrongSecondFactor) => {
            ctx.fail_key(StatusCode::BAD_REQUEST, "err_key_refused")
        }
        Err(e) => ctx.error(&e),
    }
}

async fn api_logout(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let mut ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(s) = ctx.session.take() {
        let _ = app.auth.sign_out(&s, now()).await;
    }
    ctx.ws = WebSession::default();
    ctx.rotate_to(random_token()).await;
    ctx.save().await;
    ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/login"}), None)
}

async fn api_me(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let ctx = Ctx::load(&app, &headers, client).await;
    let Some(s) = ctx.session() else {
        return ctx.fail_key(StatusCode::UNAUTHORIZED, "err_login_required");
    };
    if s.proof == EnrollmentProof::Required {
        // The password alone, on an account that had a factor: nothing about the account
        // until the mailbox or a recovery code is proven.
        let body = json!({"ok": true, "enrollment_only": true, "proof_required": true});
        return ctx.reply(StatusCode::OK, body, None);
    }
    let Ok(Some(a)) = app.auth.store().account(s.account).await else {
        return ctx.error(&LoginError::Internal);
    };
    let factors = app.auth.factor_list(a.id, now()).await.unwrap_or_default();
    let list: Vec<Value> = factors
        .iter()
        .map(|f| json!({"id": f.method.factor.to_string(), "kind": f.method.kind, "name": f.method.name, "retired": f.retired.map(retired_key).map(|k| t(ctx.lang, k))}))
        .collect();
    let body = json!({
        "ok": true, "email": a.email.as_typed(), "username": a.username.as_ref().map(|u| u.as_typed().to_owned()),
        "profile": a.profile, "factors": list, "enrollment_only": s.enrollment_only,
        "proof_required": s.proof == EnrollmentProof::Required, "assurance": s.assurance,
    });
    ctx.reply(StatusCode::OK, body, None)
}

async fn api_stepup(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let mut ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(s) = ctx.session() else {
        return ctx.fail_key(StatusCode::UNAUTHORIZED, "err_login_required");
    };
    let next = field(&body, "next");
    ctx.ws.after_login = Some(if local_path(&next) { next } else { "/settings".into() });
    match app.auth.begin_step_up(&s, &ctx.client, now()).await {
        Ok(step) => apply_step(ctx, step).await,
        Err(e) => ctx.error(&e),
    }
}

/// The session, or the reply for its absence.
fn authed(ctx: &Ctx) -> Result<Session, Response> {
    ctx.session().ok_or_else(|| ctx.fail_key(StatusCode::UNAUTHORIZED, "err_login_required"))
}

/// An enrollment finished. Recovery codes, when there are new ones, go to the browser in this
/// answer only (the page shows them once); nothing keeps them here.
fn enrolled(ctx: &Ctx, e: mfa_flow::Enrolled) -> Response {
    let was_forced = ctx.session.as_ref().is_some_and(|s| s.enrollment_only);
    let next = if e.recovery_codes.is_some() {
        "/recovery"
    } else if was_forced {
        "/settings"
    } else {
        "/mfa"
    };
    ctx.reply(
        StatusCode::OK,
        json!({"ok": true, "next": next, "factor": e.factor, "recovery_codes": e.recovery_codes}),
        None,
    )
}

macro_rules! post_authed {
    ($app:expr, $headers:expr, $client:expr) => {{
        let ctx = match post_ctx(&$app, &$headers, $client).await {
            Ok(c) => c,
            Err(r) => return r,
        };
        let session = match authed(&ctx) {
            Ok(s) => s,
            Err(r) => return r,
        };
        (ctx, session)
    }};
}

async fn api_totp_begin(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app.auth.begin_totp(&s, now()).await {
        Ok(en) => ctx.reply(StatusCode::OK, json!({"ok": true, "flow": en.flow, "uri": en.uri, "qr_svg": en.qr_svg, "secret": en.secret_base32}), None),
        Err(e) => ctx.error(&e),
    }
}

async fn api_totp_confirm(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app
        .auth
        .confirm_totp(
            &s,
            &field(&body, "flow"),
            &field(&body, "code"),
            &field(&body, "name"),
            now(),
        )
        .await
    {
        Ok(e) => enrolled(&ctx, e),
        Err(e) => ctx.error(&e),
    }
}

async fn api_webauthn_begin(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    let kind = match field(&body, "kind").as_str() {
        "passkey" => FactorKind::Passkey,
        "biometric_key" => FactorKind::BiometricKey,
        _ => FactorKind::SecurityKey,
    };
    match app.auth.begin_webauthn(&s, kind, now()).await {
        Ok((flow, options)) => {
            let options: Value = serde_json::from_str(&options).unwrap_or(Value::Null);
            ctx.reply(StatusCode::OK, json!({"ok": true, "flow": flow, "options": options}), None)
        }
        Err(e) => ctx.error(&e),
    }
}

async fn api_webauthn_finish(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    let response =
        body.as_ref().and_then(|b| b.get("response")).map(Value::to_string).unwrap_or_default();
    match app
        .auth
        .finish_webauthn(&s, &field(&body, "flow"), &response, &field(&body, "name"), now())
        .await
    {
        Ok(e) => enrolled(&ctx, e),
        Err(e) => ctx.error(&e),
    }
}

async fn api_push_begin(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app.auth.begin_push(&s, now()).await {
        Ok((flow, uri)) => {
            let svg = qrcode::QrCode::new(uri.as_bytes())
                .map(|q| {
                    q.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).build()
                })
                .unwrap_or_default();
            ctx.reply(
                StatusCode::OK,
                json!({"ok": true, "flow": flow, "uri": uri, "qr_svg": svg}),
                None,
            )
        }
        Err(e) => ctx.error(&e),
    }
}

async fn api_push_status(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app.auth.push_enrollment_status(&s, &field(&body, "flow"), &ctx.client, now()).await {
        Ok(PushEnrollmentStatus::WaitingForDevice) => {
            ctx.reply(StatusCode::OK, json!({"ok": true, "status": "waiting"}), None)
        }
        Ok(PushEnrollmentStatus::ConfirmNumber { number }) => ctx.reply(
            StatusCode::OK,
            json!({"ok": true, "status": "confirm", "number": number}),
            None,
        ),
        Ok(PushEnrollmentStatus::Enrolled(e)) => enrolled(&ctx, *e),
        Ok(_) => ctx.error(&LoginError::Internal),
        Err(e) => ctx.error(&e),
    }
}

async fn api_email_factor_begin(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app.auth.begin_email_code(&s, now()).await {
        Ok(flow) => ctx.reply(StatusCode::OK, json!({"ok": true, "flow": flow}), None),
        Err(e) => ctx.error(&e),
    }
}

async fn api_email_factor_confirm(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app.auth.confirm_email_code(&s, &field(&body, "flow"), &field(&body, "code"), now()).await
    {
        Ok(e) => enrolled(&ctx, e),
        Err(e) => ctx.error(&e),
    }
}

/// SMS enrollment: refused by the policy, with the notice's reason.
async fn api_sms(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let (ctx, _) = post_authed!(app, headers, client);
    let reason = app
        .auth
        .config()
        .policy
        .retirement
        .retired(FactorKind::Sms, now())
        .map(|r| retired_key(r.reason));
    match reason {
        Some(key) => ctx.reply(
            StatusCode::BAD_REQUEST,
            json!({"ok": false, "error": "err_method", "message": t(ctx.lang, key)}),
            None,
        ),
        None => ctx.error(&LoginError::MethodUnavailable),
    }
}

async fn api_remove(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    let Ok(id) = uuid::Uuid::parse_str(&field(&body, "factor")) else {
        return ctx.error(&LoginError::Malformed);
    };
    match app.auth.remove_factor(&s, FactorId(id), now()).await {
        Ok(_) => ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/mfa"}), None),
        Err(e) => ctx.error(&e),
    }
}

async fn api_rename(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    let Ok(id) = uuid::Uuid::parse_str(&field(&body, "factor")) else {
        return ctx.error(&LoginError::Malformed);
    };
    match app.auth.rename_factor(&s, FactorId(id), &field(&body, "name"), now()).await {
        Ok(()) => ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/mfa"}), None),
        Err(e) => ctx.error(&e),
    }
}

async fn api_recovery(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app.auth.regenerate_recovery_codes(&s, now()).await {
        Ok(codes) => ctx.reply(
            StatusCode::OK,
            json!({"ok": true, "next": "/recovery", "recovery_codes": codes}),
            None,
        ),
        Err(e) => ctx.error(&e),
    }
}

async fn api_profile(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (mut ctx, s) = post_authed!(app, headers, client);
    let lang = match field(&body, "language").as_str() {
        "ja" => Lang::Ja,
        _ => Lang::En,
    };
    let profile = mfa_flow::ProfileFields {
        first_name: field(&body, "first_name").chars().take(100).collect(),
        last_name: field(&body, "last_name").chars().take(100).collect(),
        language: lang.tag().to_owned(),
        time_zone: field(&body, "time_zone").chars().take(64).collect(),
        analytics_consent: body
            .as_ref()
            .and_then(|b| b.get("analytics_consent"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    match app.auth.update_profile(&s, profile).await {
        Ok(()) => {
            ctx.set_lang = Some(lang);
            ctx.lang = lang;
            ctx.reply(StatusCode::OK, json!({"ok": true, "message": t(lang, "saved")}), None)
        }
        Err(e) => ctx.error(&e),
    }
}

async fn api_change_email(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app
        .auth
        .change_email(&s, &field(&body, "current_password"), &field(&body, "email"), now())
        .await
    {
        Ok(started) => {
            let key = if started.awaiting_confirmation { "email_change_sent_confirm" } else { "email_changed" };
            ctx.reply(StatusCode::OK, json!({"ok": true, "message": t(ctx.lang, key), "email": started.login_email.as_typed(), "awaiting_confirmation": started.awaiting_confirmation}), None)
        }
        Err(LoginError::Refused(reason)) => ctx.reply(StatusCode::BAD_REQUEST, json!({"ok": false, "error": "err_invalid", "message": format!("{} ({reason})", t(ctx.lang, "err_invalid"))}), None),
        Err(e) => ctx.error(&e),
    }
}

async fn api_password(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app
        .auth
        .change_password(&s, &field(&body, "current_password"), &field(&body, "password"), now())
        .await
    {
        Ok(_) => ctx.reply(StatusCode::OK, json!({"ok": true, "message": t(ctx.lang, "password_changed")}), None),
        Err(LoginError::Refused(reason)) => ctx.reply(StatusCode::BAD_REQUEST, json!({"ok": false, "error": "err_invalid", "message": format!("{} ({reason})", t(ctx.lang, "err_invalid"))}), None),
        Err(e) => ctx.error(&e),
    }
}

async fn api_email_confirm(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.auth.confirm_email_change(&field(&body, "token"), now()).await {
        Ok(email) => ctx.reply(
            StatusCode::OK,
            json!({"ok": true, "email": email.as_typed(), "message": t(ctx.lang, "email_changed")}),
            None,
        ),
        Err(e) => ctx.error(&e),
    }
}

async fn api_email_revert(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let ctx = match post_ctx(&app, &headers, client).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.auth.revert_email_change(&field(&body, "token"), now()).await {
        Ok(email) => ctx.reply(StatusCode::OK, json!({"ok": true, "email": email.as_typed(), "message": t(ctx.lang, "email_reverted")}), None),
        Err(e) => ctx.error(&e),
    }
}

/// Re-enables a factor suspended as a possible clone (a fresh step-up with another factor).
async fn api_reinstate(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    let Ok(id) = uuid::Uuid::parse_str(&field(&body, "factor")) else {
        return ctx.error(&LoginError::Malformed);
    };
    match app.auth.reinstate_factor(&s, FactorId(id), now()).await {
        Ok(()) => ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/mfa"}), None),
        Err(e) => ctx.error(&e),
    }
}

/// An enrollment-only session of an account that had a factor: send a code to its address.
async fn api_proof_begin(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let (mut ctx, s) = post_authed!(app, headers, client);
    match app.auth.begin_enrollment_proof(&s, now()).await {
        Ok(flow) => {
            ctx.ws.proof_flow = Some(flow);
            ctx.save().await;
            ctx.reply(
                StatusCode::OK,
                json!({"ok": true, "message": t(ctx.lang, "proof_sent")}),
                None,
            )
        }
        Err(e) => ctx.error(&e),
    }
}

async fn api_proof_confirm(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (mut ctx, s) = post_authed!(app, headers, client);
    let Some(flow) = ctx.ws.proof_flow.clone() else {
        return ctx.error(&LoginError::FlowExpired);
    };
    match app.auth.confirm_enrollment_proof(&s, &flow, &field(&body, "code"), now()).await {
        Ok(_) => {
            ctx.ws.proof_flow = None;
            ctx.save().await;
            ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/mfa"}), None)
        }
        Err(e) => ctx.error(&e),
    }
}

async fn api_proof_recovery(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app.auth.prove_with_recovery_code(&s, &field(&body, "code"), now()).await {
        Ok(_) => ctx.reply(StatusCode::OK, json!({"ok": true, "next": "/mfa"}), None),
        Err(e) => ctx.error(&e),
    }
}

/// The account's methods, usable or not and why, and the kinds that can be added: what the
/// methods page shows, for a front end of its own.
async fn api_methods(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = Ctx::load(&app, &headers, client).await;
    let s = match authed(&ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.proof == EnrollmentProof::Required {
        return ctx.error(&LoginError::ProofRequired);
    }
    let l = ctx.lang;
    let methods: Vec<Value> = match app.auth.factor_list(s.account, now()).await {
        Ok(list) => list
            .iter()
            .map(|f| {
                let why = f
                    .retired
                    .map(|r| mfa_flow::Unavailable::Retired { reason: r })
                    .or(f.suspended.map(|x| mfa_flow::Unavailable::Suspended {
                        reason: x.reason,
                        since: x.since,
                    }));
                json!({
                    "id": f.method.factor.to_string(), "kind": f.method.kind,
                    "name": display_name(l, &f.method), "created": f.created, "last_used": f.last_used,
                    "available": why.is_none(),
                    "unavailable": why.map(|w| json!({"reason": w, "message": t(l, unavailable_key(w))})),
                })
            })
            .collect(),
        Err(e) => return ctx.error(&e),
    };
    let policy = &app.auth.config().policy.retirement;
    let kinds = [
        FactorKind::SecurityKey,
        FactorKind::Passkey,
        FactorKind::BiometricKey,
        FactorKind::Push,
        FactorKind::Totp,
        FactorKind::EmailCode,
        FactorKind::Sms,
    ];
    let enrollable: Vec<Value> = kinds
        .iter()
        .map(|k| {
            let retired = policy.retired(*k, now());
            json!({
                "kind": k, "name": t(l, kind_key(*k)), "available": retired.is_none(),
                "message": retired.map(|r| t(l, retired_key(r.reason))),
            })
        })
        .collect();
    ctx.reply(
        StatusCode::OK,
        json!({"ok": true, "methods": methods, "enrollable": enrollable}),
        None,
    )
}

async fn api_sessions(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = Ctx::load(&app, &headers, client).await;
    let s = match authed(&ctx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match app.auth.sessions(&s, now()).await {
        Ok(list) => ctx.reply(StatusCode::OK, json!({"ok": true, "sessions": list}), None),
        Err(e) => ctx.error(&e),
    }
}

async fn api_session_end(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    body: J,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    let id = match SessionId::parse(&field(&body, "id")) {
        Ok(id) => id,
        Err(e) => return ctx.error(&e),
    };
    match app.auth.end_session(&s, &id, now()).await {
        Ok(ended) => {
            let next = if id == s.id { "/login" } else { "/settings" };
            ctx.reply(StatusCode::OK, json!({"ok": true, "ended": ended, "next": next}), None)
        }
        Err(e) => ctx.error(&e),
    }
}

async fn api_sessions_end_others(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let (ctx, s) = post_authed!(app, headers, client);
    match app.auth.end_other_sessions(&s, now()).await {
        Ok(_) => ctx.reply(
            StatusCode::OK,
            json!({"ok": true, "message": t(ctx.lang, "sessions_ended"), "next": "/settings"}),
            None,
        ),
        Err(e) => ctx.error(&e),
    }
}

// ----- the phone's endpoints (signed messages; no cookies, no CSRF) -----

fn device_reply(r: Result<String, LoginError>) -> Response {
    match r {
        Ok(body) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => {
            (StatusCode::BAD_REQUEST, axum::Json(json!({"ok": false, "error": error_key(&e)})))
                .into_response()
        }
    }
}

async fn push_register(State(app): State<Shared>, body: String) -> Response {
    device_reply(app.auth.push_device_register(&body, now()).await)
}

async fn push_fetch(State(app): State<Shared>, body: String) -> Response {
    device_reply(app.auth.push_device_fetch(&body, now()).await)
}

async fn push_respond(State(app): State<Shared>, body: String) -> Response {
    device_reply(
        app.auth.push_device_respond(&body, now()).await.map(|()| "{\"ok\":true}".to_owned()),
    )
}

/// The device's long poll for hints (a stand-in for APNs / FCM).
async fn push_poll(State(app): State<Shared>, body: String) -> Response {
    let token = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    if token.is_empty() || token.len() > 256 {
        return device_reply(Err(LoginError::Malformed));
    }
    let hints = app.hub.poll(&token, Duration::from_secs(20)).await;
    device_reply(serde_json::to_string(&json!({"hints": hints})).map_err(|_| LoginError::Internal))
}

// ----- pages -----

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(ctx: &Ctx, title_key: &str, body: &str, data: &Value) -> Response {
    let l = ctx.lang;
    let other = if l == Lang::Ja { ("en", "English") } else { ("ja", "日本語") };
    let authed = ctx.session().is_some();
    let logout = if authed {
        format!("<button class=\"link\" data-action=\"logout\">{}</button>", t(l, "logout"))
    } else {
        String::new()
    };
    let data = esc(&data.to_string());
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} — {product}</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body data-csrf=\"{csrf}\" data-page=\"{data}\"><header><strong>{product}</strong>\
         <nav><a href=\"/lang?to={ol}\" data-lang lang=\"{ol}\">{on}</a> {logout}</nav></header><main><h1>{title}</h1>\
         <p class=\"error\" role=\"alert\" hidden></p><p class=\"message\" role=\"status\" hidden></p>{body}</main>\
         <script src=\"/app.js\"></script></body></html>",
        lang = l.tag(),
        title = t(l, title_key),
        product = esc(&ctx.app.product),
        csrf = esc(&ctx.csrf()),
        ol = other.0,
        on = other.1,
    );
    (ctx.cookie_headers(None), Html(html)).into_response()
}

/// A page's context: a browser without a cookie gets one in the answer, and nothing is
/// stored for it.
async fn page_ctx(app: &Shared, headers: &HeaderMap, client: ClientAddr) -> Ctx {
    Ctx::load(app, headers, client).await
}

async fn root(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    let to = if ctx.session().is_some() { "/settings" } else { "/login" };
    (ctx.cookie_headers(None), Redirect::to(to)).into_response()
}

#[derive(Deserialize)]
struct LangQuery {
    to: String,
    /// The page to go back to (the script adds it; a path on this site only).
    back: Option<String>,
}

/// A path on this site (not `//host`, not `/\\host`, no scheme), bounded.
fn local_path(p: &str) -> bool {
    // Visible ASCII only: browsers drop tabs and line breaks from a URL, so `/\t/evil`
    // would become `//evil`, another site.
    p.starts_with('/')
        && !p.starts_with("//")
        && p.len() <= 256
        && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

async fn set_lang(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    Query(q): Query<LangQuery>,
) -> Response {
    let mut ctx = page_ctx(&app, &headers, client).await;
    ctx.set_lang = Some(if q.to == "ja" { Lang::Ja } else { Lang::En });
    let back = q
        .back
        .filter(|b| local_path(b))
        .or_else(|| {
            headers.get(header::REFERER).and_then(|v| v.to_str().ok()).and_then(|r| {
                r.split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
            })
        })
        .filter(|b| local_path(b))
        .unwrap_or_else(|| "/".into());
    (ctx.cookie_headers(None), Redirect::to(&back)).into_response()
}

fn input(l: Lang, name: &str, key: &str, kind: &str, auto: &str) -> String {
    format!(
        "<label>{}<input name=\"{name}\" type=\"{kind}\" autocomplete=\"{auto}\" required></label>",
        t(l, key)
    )
}

async fn page_login(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    let l = ctx.lang;
    let body = format!(
        "<form data-api=\"/api/login\">{}{}<button>{}</button></form><p><a href=\"/signup\">{}</a></p>",
        input(l, "identifier", "identifier", "text", "username"),
        input(l, "password", "password", "password", "current-password"),
        t(l, "login"),
        t(l, "signup")
    );
    page(&ctx, "login", &body, &json!({}))
}

async fn page_signup(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    let l = ctx.lang;
    let body = format!(
        "<form data-api=\"/api/signup\">{}{}<button>{}</button></form>",
        input(l, "email", "email", "email", "email"),
        input(l, "password", "password", "password", "new-password"),
        t(l, "signup")
    );
    page(&ctx, "signup", &body, &json!({}))
}

fn challenge_body(l: Lang, view: &ChallengeView, warn: bool) -> String {
    let mut body = String::new();
    if warn {
        body.push_str(&format!("<p class=\"warning\">{}</p>", t(l, "username_warning")));
    }
    body.push_str(&match &view.prompt {
        mfa_flow::Prompt::TotpCode | mfa_flow::Prompt::RecoveryCode | mfa_flow::Prompt::EmailCode { .. } => {
            let prompt = match &view.prompt {
                mfa_flow::Prompt::TotpCode => t(l, "totp_prompt").to_owned(),
                mfa_flow::Prompt::RecoveryCode => t(l, "recovery_prompt").to_owned(),
                mfa_flow::Prompt::EmailCode { sent_to } => format!("{} {}", t(l, "email_code_prompt"), esc(sent_to)),
                _ => String::new(),
            };
            // Recovery codes have letters; the other codes are digits.
            let mode = if matches!(view.prompt, mfa_flow::Prompt::RecoveryCode) {
                "inputmode=\"text\" autocomplete=\"off\" autocapitalize=\"characters\""
            } else {
                "inputmode=\"numeric\" autocomplete=\"one-time-code\""
            };
            format!(
                "<p>{prompt}</p><form data-api=\"/api/login/code\"><label>{}<input name=\"code\" {mode} required></label><button>{}</button></form>",
                t(l, "enter_code"),
                t(l, "verify")
            )
        }
        mfa_flow::Prompt::WebAuthn { .. } => format!("<p>{}</p><button data-action=\"webauthn-login\">{}</button>", t(l, "webauthn_prompt"), t(l, "use_key")),
        mfa_flow::Prompt::Push { number, device } => format!(
            "<p>{} <small>({})</small></p><p class=\"number\" data-poll=\"/api/login/poll\">{number}</p>",
            t(l, "push_prompt"),
            esc(device)
        ),
        _ => String::new(),
    });
    if !view.alternatives.is_empty() {
        body.push_str(&format!(
            "<details><summary>{}</summary><ul class=\"methods\">",
            t(l, "try_another")
        ));
        for m in &view.alternatives {
            body.push_str(&format!(
                "<li><button class=\"link\" data-select=\"{}\">{} — {}</button></li>",
                m.factor,
                t(l, kind_key(m.kind)),
                esc(&display_name(l, m))
            ));
        }
        body.push_str("</ul></details>");
    }
    if !view.unavailable.is_empty() {
        body.push_str(&format!("<h2>{}</h2><ul>", t(l, "unavailable")));
        for u in &view.unavailable {
            body.push_str(&format!(
                "<li><s>{}</s> — {}</li>",
                t(l, kind_key(u.kind)),
                t(l, unavailable_key(u.reason))
            ));
        }
        body.push_str("</ul>");
    }
    body
}

async fn page_factor(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    let Some(view) = ctx.ws.login.clone() else {
        return (ctx.cookie_headers(None), Redirect::to("/login")).into_response();
    };
    let body = challenge_body(ctx.lang, &view, ctx.ws.warn_username);
    let data = match &view.prompt {
        mfa_flow::Prompt::WebAuthn { options } => {
            json!({"options": serde_json::from_str::<Value>(options).unwrap_or(Value::Null)})
        }
        _ => json!({}),
    };
    page(&ctx, "second_factor", &body, &data)
}

async fn page_stepup(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    let l = ctx.lang;
    let body = format!(
        "<p>{}</p><form data-api=\"/api/stepup\"><input type=\"hidden\" name=\"next\" value=\"/settings\"><button>{}</button></form>",
        t(l, "step_up"),
        t(l, "continue")
    );
    page(&ctx, "second_factor", &body, &json!({}))
}

fn require_login(ctx: &Ctx) -> Option<Response> {
    ctx.session()
        .is_none()
        .then(|| (ctx.cookie_headers(None), Redirect::to("/login")).into_response())
}

async fn page_mfa(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    if let Some(r) = require_login(&ctx) {
        return r;
    }
    let l = ctx.lang;
    let Some(s) = ctx.session() else { return ctx.error(&LoginError::Internal) };
    let factors = app.auth.factor_list(s.account, now()).await.unwrap_or_default();
    let email = app
        .auth
        .store()
        .account(s.account)
        .await
        .ok()
        .flatten()
        .map(|a| a.email.as_typed().to_owned())
        .unwrap_or_default();
    let mut body = String::new();
    if s.enrollment_only {
        body.push_str(&format!("<p class=\"warning\">{}</p>", t(l, "enroll_required")));
    }
    if s.proof == EnrollmentProof::Required {
        // The account had a factor (a retired SMS number, used-up codes): the password alone
        // must not bind a new one. Prove the mailbox, or use a recovery code.
        body.push_str(&format!(
            "<section class=\"proof\"><p>{help}</p>\
             <form data-api=\"/api/mfa/proof/begin\"><button>{send}</button></form>\
             <form data-api=\"/api/mfa/proof/confirm\"><label>{code_l}<input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required></label><button>{verify}</button></form>\
             <form data-api=\"/api/mfa/proof/recovery\"><label>{rc_l}<input name=\"code\" autocomplete=\"off\" required></label><button>{verify}</button></form></section>",
            help = t(l, "proof_help"),
            send = t(l, "proof_send"),
            code_l = t(l, "enter_code"),
            rc_l = t(l, "proof_recovery"),
            verify = t(l, "verify"),
        ));
        return page(&ctx, "mfa", &body, &json!({}));
    }
    let rows: [(FactorKind, &str, String); 6] = [
        (FactorKind::EmailCode, "/mfa/email", esc(&email)),
        (FactorKind::Push, "/mfa/push", String::new()),
        (FactorKind::Totp, "/mfa/totp", String::new()),
        (FactorKind::SecurityKey, "/mfa/key?kind=security_key", String::new()),
        (FactorKind::Sms, "", String::new()),
        (FactorKind::BiometricKey, "/mfa/key?kind=biometric_key", String::new()),
    ];
    body.push_str("<ul class=\"methods\">");
    for (kind, href, extra) in rows {
        let mine: Vec<_> = factors
            .iter()
            .filter(|f| {
                f.method.kind == kind
                    || (kind == FactorKind::SecurityKey && f.method.kind == FactorKind::Passkey)
            })
            .collect();
        let retired = app.auth.config().policy.retirement.retired(kind, now());
        body.push_str("<li>");
        match retired {
            Some(r) => body.push_str(&format!(
                "<s>{}</s> <span class=\"note\">{}</span>{}",
                t(l, kind_key(kind)),
                t(l, retired_key(r.reason)),
                if kind == FactorKind::Sms {
                    format!(
                        "<button class=\"link\" data-action=\"sms\" aria-label=\"{}\">+</button>",
                        esc(&add_label(l, kind))
                    )
                } else {
                    String::new()
                }
            )),
            None => body.push_str(&format!(
                "<strong>{}</strong> {extra} <a class=\"add\" href=\"{href}\" aria-label=\"{}\">{}</a>",
                t(l, kind_key(kind)),
                esc(&add_label(l, kind)),
                t(l, "add")
            )),
        }
        if kind == FactorKind::BiometricKey && mine.is_empty() {
            body.push_str(&format!("<p class=\"note\">{}</p>", t(l, "no_biometric")));
        }
        for f in mine {
            let suspended = if f.suspended.is_some() {
                format!(
                    " <span class=\"note\">{}</span> <form data-api=\"/api/mfa/reinstate\" class=\"inline\"><input type=\"hidden\" name=\"factor\" value=\"{}\"><button class=\"link\">{}</button></form>",
                    t(l, "suspended_clone"),
                    f.method.factor,
                    t(l, "reinstate")
                )
            } else {
                String::new()
            };
            let name = display_name(l, &f.method);
            body.push_str(&format!(
                "<div class=\"factor\">{}{suspended} <button class=\"link\" data-remove=\"{}\" aria-label=\"{}\">{}</button></div>",
                esc(&name),
                f.method.factor,
                esc(&format!("{} {name}", t(l, "remove"))),
                t(l, "remove")
            ));
        }
        body.push_str("</li>");
    }
    body.push_str("</ul>");
    if !s.enrollment_only {
        body.push_str(&format!("<form data-api=\"/api/mfa/recovery\"><button>{} — {}</button></form><p><a href=\"/settings\">{}</a></p>", t(l, "recovery_codes"), t(l, "regenerate"), t(l, "settings")));
    }
    page(&ctx, "mfa", &body, &json!({}))
}

async fn page_totp(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    if let Some(r) = require_login(&ctx) {
        return r;
    }
    let l = ctx.lang;
    let body = format!(
        "<p>{}</p><div id=\"qr\" data-begin=\"/api/mfa/totp/begin\"></div><p>{} <code id=\"secret\"></code></p>\
         <form data-api=\"/api/mfa/totp/confirm\"><input type=\"hidden\" name=\"flow\">\
         <label>{}<input name=\"name\" maxlength=\"64\" required value=\"{}\"></label>\
         <label>{}<input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required></label><button>{}</button></form>",
        t(l, "totp_help"),
        t(l, "secret_manual"),
        t(l, "factor_name"),
        t(l, "totp"),
        t(l, "enter_code"),
        t(l, "save")
    );
    page(&ctx, "totp_title", &body, &json!({}))
}

#[derive(Deserialize)]
struct KindQuery {
    kind: Option<String>,
}

async fn page_key(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    Query(q): Query<KindQuery>,
) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    if let Some(r) = require_login(&ctx) {
        return r;
    }
    let l = ctx.lang;
    let kind = match q.kind.as_deref() {
        Some("passkey") => "passkey",
        Some("biometric_key") => "biometric_key",
        _ => "security_key",
    };
    let body = format!(
        "<p>{}</p><form data-webauthn-register=\"{kind}\"><label>{}<input name=\"name\" maxlength=\"64\" required value=\"{}\"></label><button>{}</button></form>",
        t(l, "key_insert"),
        t(l, "key_name"),
        t(l, kind),
        t(l, "register")
    );
    page(&ctx, kind, &body, &json!({}))
}

async fn page_push(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    if let Some(r) = require_login(&ctx) {
        return r;
    }
    let l = ctx.lang;
    let body = format!(
        "<p>{}</p><div id=\"qr\" data-push-begin=\"/api/mfa/push/begin\"></div><p><code id=\"uri\"></code></p><p class=\"number\" id=\"push-number\" hidden></p><p id=\"push-confirm\" hidden>{}</p>",
        t(l, "push_scan"),
        t(l, "push_confirm_number")
    );
    page(&ctx, "push", &body, &json!({}))
}

async fn page_email_factor(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    if let Some(r) = require_login(&ctx) {
        return r;
    }
    let l = ctx.lang;
    let sent_to = match ctx.session() {
        Some(s) => {
            app.auth.store().account(s.account).await.ok().flatten().map(|a| a.email.masked())
        }
        None => None,
    }
    .unwrap_or_default();
    let body = format!(
        "<p>{} <strong>{}</strong></p><div data-begin-email=\"/api/mfa/email/begin\"></div><form data-api=\"/api/mfa/email/confirm\"><input type=\"hidden\" name=\"flow\"><label>{}<input name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required></label><button>{}</button></form>",
        t(l, "email_code_sent_to"),
        esc(&sent_to),
        t(l, "enter_code"),
        t(l, "save")
    );
    page(&ctx, "email_code", &body, &json!({}))
}

/// Shows the recovery codes the last answer carried: the page's script takes them from the
/// tab's storage, shows them and forgets them; the server never kept them.
async fn page_recovery(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    if let Some(r) = require_login(&ctx) {
        return r;
    }
    let l = ctx.lang;
    let body = format!(
        "<p>{}</p><ol class=\"codes\" data-recovery-codes></ol>\
         <p><button data-action=\"copy-codes\" data-done=\"{copied}\">{copy}</button> <button data-action=\"download-codes\">{download}</button></p>\
         <p><a href=\"/settings\">{}</a></p>",
        t(l, "recovery_help"),
        t(l, "continue"),
        copied = t(l, "copied"),
        copy = t(l, "copy"),
        download = t(l, "download"),
    );
    page(&ctx, "recovery_title", &body, &json!({}))
}

async fn page_settings(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    if let Some(r) = require_login(&ctx) {
        return r;
    }
    let l = ctx.lang;
    let Some(s) = ctx.session() else { return ctx.error(&LoginError::Internal) };
    if s.enrollment_only {
        return (ctx.cookie_headers(None), Redirect::to("/mfa")).into_response();
    }
    let Ok(Some(a)) = app.auth.store().account(s.account).await else {
        return ctx.error(&LoginError::Internal);
    };
    let factors = app.auth.factor_list(a.id, now()).await.unwrap_or_default();
    let mfa_on =
        factors.iter().any(|f| f.retired.is_none() && f.method.kind != FactorKind::RecoveryCodes);
    let username = a.username.as_ref().map_or(String::new(), |u| {
        format!(
            "<label>{}<input value=\"{}\" readonly></label><p class=\"note\">{}</p>",
            t(l, "username"),
            esc(u.as_typed()),
            t(l, "username_legacy_note")
        )
    });
    let p = &a.profile;
    let checked = if p.analytics_consent { " checked" } else { "" };
    let language = if p.language.is_empty() { l.tag() } else { p.language.as_str() };
    let (ja_sel, en_sel) = if language == "ja" { (" selected", "") } else { ("", " selected") };
    let tz = if p.time_zone.is_empty() { "Etc/UTC" } else { &p.time_zone };
    let sessions = sessions_section(l, &app.auth.sessions(&s, now()).await.unwrap_or_default());
    let rows = app.auth.store().audit_events(s.account, &ACTIVITY_KINDS, 20).await;
    let activity = activity_section(l, &rows.unwrap_or_default());
    let sessions = format!("{sessions}{activity}");
    let body = format!(
        "<section class=\"dialog\">{username}\
         <form data-api=\"/api/settings/email\"><label>{email_l}<input name=\"email\" type=\"email\" value=\"{email}\" required></label><label>{cur_l}<input name=\"current_password\" type=\"password\" autocomplete=\"current-password\" required></label><button>{change_email}</button></form>\
         <form data-api=\"/api/settings/profile\"><label>{first_l}<input name=\"first_name\" autocomplete=\"given-name\" value=\"{first}\"></label><label>{last_l}<input name=\"last_name\" autocomplete=\"family-name\" value=\"{last}\"></label>\
         <label>{lang_l}<select name=\"language\"><option value=\"ja\"{ja_sel}>日本語</option><option value=\"en\"{en_sel}>English</option></select></label>\
         <label>{tz_l}<input name=\"time_zone\" value=\"{tz}\"></label><label class=\"check\"><input type=\"checkbox\" name=\"analytics_consent\"{checked}> {analytics}</label><button>{save}</button></form>\
         <p>{mfa_status} <a href=\"/mfa\">{mfa_link}</a></p>\
         <form data-api=\"/api/settings/password\"><label>{cur_l}<input name=\"current_password\" type=\"password\" autocomplete=\"current-password\" required></label><label>{pw_l}<input name=\"password\" type=\"password\" autocomplete=\"new-password\" required></label><button>{change_pw}</button></form>{sessions}</section>",
        cur_l = t(l, "current_password"),
        email_l = t(l, "email"),
        email = esc(a.email.as_typed()),
        change_email = t(l, "change_email"),
        first_l = t(l, "first_name"),
        first = esc(&p.first_name),
        last_l = t(l, "last_name"),
        last = esc(&p.last_name),
        lang_l = t(l, "language"),
        tz_l = t(l, "time_zone"),
        tz = esc(tz),
        analytics = t(l, "analytics"),
        save = t(l, "save"),
        mfa_status = t(l, if mfa_on { "mfa_enabled" } else { "mfa_disabled" }),
        mfa_link = t(l, if mfa_on { "methods" } else { "enable" }),
        pw_l = t(l, "new_password"),
        change_pw = t(l, "change_password"),
    );
    page(&ctx, "settings", &body, &json!({}))
}

/// The settings dialog's "recent security activity": what, when, from which browser and
/// address (the audit events a person recognizes; the rest stay in the log).
fn activity_section(l: Lang, rows: &[mfa_store_sql::AuditRow]) -> String {
    let mut out = format!("<h2>{}</h2><ul class=\"activity\">", t(l, "activity"));
    let mut shown = 0;
    for r in rows {
        let Some(key) = activity_key(&r.kind) else { continue };
        shown += 1;
        let from = match (&r.browser, &r.ip) {
            (Some(b), Some(ip)) => format!(" · {} {}", esc(b), esc(ip)),
            _ => String::new(),
        };
        out.push_str(&format!(
            "<li>{} <span class=\"note\"><time data-unix=\"{}\">{}</time>{from}</span></li>",
            t(l, key),
            r.at,
            r.at
        ));
    }
    if shown == 0 {
        out.push_str(&format!("<li class=\"note\">{}</li>", t(l, "activity_none")));
    }
    out.push_str("</ul>");
    out
}

/// The audit events a person recognizes (the rest stay in the log).
const ACTIVITY_KINDS: [&str; 14] = [
    "login_succeeded",
    "login_failed",
    "password_changed",
    "email_change_started",
    "email_changed",
    "email_change_reverted",
    "factor_enrolled",
    "factor_removed",
    "recovery_code_used",
    "recovery_codes_issued",
    "sessions_revoked",
    "push_fraud_reported",
    "factor_suspended",
    "factor_reinstated",
];

/// The label of an audit event a person recognizes (`None` for internal ones).
fn activity_key(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "login_succeeded" => "act_login",
        "login_failed" => "act_login_failed",
        "password_changed" => "act_password",
        "email_change_started" => "act_email_started",
        "email_changed" => "act_email",
        "email_change_reverted" => "act_email_reverted",
        "factor_enrolled" => "act_factor_added",
        "factor_removed" => "act_factor_removed",
        "recovery_code_used" => "act_recovery_used",
        "recovery_codes_issued" => "act_recovery_issued",
        "sessions_revoked" => "act_sessions_revoked",
        "push_fraud_reported" => "act_push_fraud",
        "factor_suspended" => "act_factor_suspended",
        "factor_reinstated" => "act_factor_reinstated",
        _ => return None,
    })
}

/// "Add <kind>" for a button's accessible name.
fn add_label(l: Lang, kind: FactorKind) -> String {
    match l {
        Lang::Ja => format!("{}を追加", t(l, kind_key(kind))),
        Lang::En => format!("Add {}", t(l, kind_key(kind)).to_lowercase()),
    }
}

/// A factor's name as a page shows it: the names the library gives by default (in English)
/// become the kind's name in the page's language.
fn display_name(l: Lang, m: &mfa_flow::MethodView) -> String {
    const DEFAULTS: [&str; 2] = ["Authenticator app", "Recovery codes"];
    if m.name.is_empty() || DEFAULTS.contains(&m.name.as_str()) {
        t(l, kind_key(m.kind)).to_owned()
    } else {
        m.name.clone()
    }
}

/// The settings dialog's list of signed-in browsers, each with a button that ends it.
fn sessions_section(l: Lang, sessions: &[mfa_flow::SessionView]) -> String {
    let mut out = format!(
        "<h2>{}</h2><p class=\"note\">{}</p><ul class=\"sessions\">",
        t(l, "sessions"),
        t(l, "sessions_help")
    );
    for s in sessions {
        let when = |secs: u64| {
            i64::try_from(secs)
                .map_or_else(|_| String::new(), |v| format!("<time data-unix=\"{v}\">{v}</time>"))
        };
        let end = if s.current {
            format!("<strong>{}</strong>", t(l, "this_browser"))
        } else {
            format!(
                "<form data-api=\"/api/sessions/end\" class=\"inline\"><input type=\"hidden\" name=\"id\" value=\"{}\"><button class=\"link\">{}</button></form>",
                esc(s.id.as_str()),
                t(l, "end_session")
            )
        };
        out.push_str(&format!(
            "<li><span class=\"browser\">{}</span> <span class=\"ip\">{}</span> <span class=\"note\">{} {} · {} {}</span> {end}</li>",
            esc(if s.browser.is_empty() { "?" } else { &s.browser }),
            esc(&s.ip),
            t(l, "signed_in_at"),
            when(s.created),
            t(l, "last_seen"),
            when(s.last_seen),
        ));
    }
    out.push_str(&format!(
        "</ul><form data-api=\"/api/sessions/end-others\"><button>{}</button></form>",
        t(l, "end_other_sessions")
    ));
    out
}

async fn page_offer(State(app): State<Shared>, headers: HeaderMap, client: ClientAddr) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    if let Some(r) = require_login(&ctx) {
        return r;
    }
    let l = ctx.lang;
    let body = format!(
        "<div data-offer-biometric hidden><p>{}</p><p><a class=\"button\" href=\"/mfa/key?kind=biometric_key\">{}</a> <a href=\"/settings\">{}</a></p></div>",
        t(l, "offer_biometric"),
        t(l, "register"),
        t(l, "not_now")
    );
    page(&ctx, "biometric_key", &body, &json!({}))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn page_email_link(
    State(app): State<Shared>,
    headers: HeaderMap,
    client: ClientAddr,
    uri: axum::http::Uri,
    Query(q): Query<TokenQuery>,
) -> Response {
    let ctx = page_ctx(&app, &headers, client).await;
    let l = ctx.lang;
    let revert = uri.path().ends_with("revert");
    let api = if revert { "/api/email/revert" } else { "/api/email/confirm" };
    let token = esc(q.token.as_deref().unwrap_or_default());
    // The token is applied by a POST (a link preview must not change anything).
    let body = format!(
        "<form data-api=\"{api}\"><input type=\"hidden\" name=\"token\" value=\"{token}\"><button>{}</button></form>",
        t(l, "continue")
    );
    page(&ctx, if revert { "email_reverted" } else { "change_email" }, &body, &json!({}))
}

async fn app_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../static/app.js"))
        .into_response()
}

async fn style_css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../static/style.css"))
        .into_response()
}
