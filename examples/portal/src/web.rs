//! HTTP: the pages (askama templates, escaped by default) around `mfa-axum`'s JSON API,
//! which is mounted under `/api/` with the portal's translations. Sessions, cookies, CSRF,
//! the client address, security headers and error shapes all come from `mfa-axum`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use mfa_axum::{MaybeSession, Sessions, TrustedProxies};
use mfa_flow::{Auth, ChallengeView, EnrollmentProof, FactorKind, Prompt, Session, Store};
use mfa_store_sql::SqlStore;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::i18n::{Lang, kind_key, lookup, retired_key, t, unavailable_key};
use crate::mail::PortalMailer;
use crate::push_hub::PushHub;

/// The portal's flows.
pub type PortalAuth = Auth<SqlStore, PortalMailer, crate::push_hub::PortalPush>;

/// The application state.
pub struct App {
    /// The flows.
    pub auth: Arc<PortalAuth>,
    /// Push hints waiting for devices.
    pub hub: PushHub,
    /// The sessions (cookie names, `Secure` behind https).
    pub sessions: Sessions,
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

/// The page language chosen with the switch (kept by the browser, not the server).
const LANG_COOKIE: &str = "portal_lang";

impl App {
    fn secure(&self) -> bool {
        self.sessions.is_secure()
    }
}

/// The page language: the switch's cookie, else the browser's `Accept-Language`.
fn lang_of(headers: &HeaderMap, sessions: &Sessions) -> Lang {
    match mfa_axum::single_cookie(headers, &sessions.cookie_name_for(LANG_COOKIE)).as_deref() {
        Some("ja") => Lang::Ja,
        Some("en") => Lang::En,
        _ => Lang::from_accept(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())),
    }
}

/// The router: the pages, `mfa-axum`'s API under `/api/` (with its OpenAPI description at
/// `/api/openapi.json`) and the phone's long poll.
pub fn router(app: Shared) -> Router {
    let sessions = app.sessions.clone();
    let for_lang = sessions.clone();
    let translate: mfa_axum::Localizer = Arc::new(move |headers: &HeaderMap, code: &str| {
        lookup(lang_of(headers, &for_lang), code).map(str::to_owned)
    });
    let hub = app.hub.clone();
    // Translated once, outermost (below): the limits' answers too.
    let api = mfa_axum::api(Arc::clone(&app.auth), sessions.clone())
        .route("/openapi.json", get(|| async { axum::Json(mfa_axum::openapi("/api")) }))
        .route("/push/poll", post(move |body: String| push_poll(hub.clone(), body)));
    let pages = Router::new()
        .route("/", get(root))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/lang", get(set_lang))
        .route("/login", get(page_login))
        .route("/signup", get(page_signup))
        .route("/signup/confirm", get(page_signup_confirm))
        .route("/password/forgot", get(page_forgot))
        .route("/password/reset", get(page_reset))
        .route("/address/confirm", get(page_address_confirm))
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
        .with_state(Arc::clone(&app));
    let router =
        pages.nest("/api", api).layer(Extension(sessions)).layer(Extension(app.proxies.clone()));
    let hardening = mfa_axum::Hardening { hsts: app.secure(), ..mfa_axum::Hardening::default() };
    mfa_axum::traced(mfa_axum::localized(mfa_axum::harden(router, &hardening), translate))
}

/// The device's long poll for hints (a stand-in for APNs / FCM).
async fn push_poll(hub: PushHub, body: String) -> Response {
    let token = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    if token.is_empty() || token.len() > 256 {
        return mfa_axum::ApiError::invalid().into_response();
    }
    let hints = hub.poll(&token, Duration::from_secs(20)).await;
    axum::Json(json!({"hints": hints})).into_response()
}

// ----- pages -----

/// What every page shows around its body.
struct Layout {
    lang: Lang,
    title: &'static str,
    product: String,
    csrf: String,
    /// JSON for the page's script.
    data: String,
    signed_in: bool,
}

impl Layout {
    fn t(&self, key: &str) -> &'static str {
        t(self.lang, key)
    }

    /// The other language's tag and name, for the switch.
    fn other(&self) -> (&'static str, &'static str) {
        if self.lang == Lang::Ja { ("en", "English") } else { ("ja", "日本語") }
    }
}

/// A request's page context.
struct Ctx {
    app: Shared,
    lang: Lang,
    session: Option<Session>,
    csrf: String,
}

impl Ctx {
    fn new(app: &Shared, headers: &HeaderMap, session: Option<Session>) -> Self {
        let csrf = session
            .as_ref()
            .and(app.sessions.token(headers))
            .map(|t| mfa_axum::csrf_token(&t))
            .unwrap_or_default();
        Self { app: Arc::clone(app), lang: lang_of(headers, &app.sessions), session, csrf }
    }

    fn layout(&self, title_key: &str, data: &Value) -> Layout {
        Layout {
            lang: self.lang,
            title: t(self.lang, title_key),
            product: self.app.product.clone(),
            csrf: self.csrf.clone(),
            data: data.to_string(),
            signed_in: self.session.is_some(),
        }
    }

    /// The session, or a redirect to the login page.
    fn require(&self) -> Result<&Session, Response> {
        self.session.as_ref().ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// Renders a template (a failure is logged and answered 500, never shown).
fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A page that needs a session and shows only its template.
fn signed_in_page<T: Template>(
    app: &Shared,
    headers: &HeaderMap,
    session: Option<Session>,
    title_key: &str,
    page: impl FnOnce(Layout) -> T,
) -> Response {
    let ctx = Ctx::new(app, headers, session);
    if let Err(r) = ctx.require() {
        return r;
    }
    render(&page(ctx.layout(title_key, &json!({}))))
}

async fn root(MaybeSession(s): MaybeSession) -> Response {
    Redirect::to(if s.is_some() { "/settings" } else { "/login" }).into_response()
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
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = if q.to == "ja" { Lang::Ja } else { Lang::En };
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
    let cookie = Cookie::build((app.sessions.cookie_name_for(LANG_COOKIE), lang.tag()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.secure())
        .max_age(time::Duration::days(365))
        .build();
    (CookieJar::new().add(cookie), Redirect::to(&back)).into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
}

async fn page_login(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    let ctx = Ctx::new(&app, &headers, s);
    render(&LoginPage { layout: ctx.layout("login", &json!({})) })
}

/// Pages that are a layout and a template: the forms post to the API; the script does the
/// rest.
macro_rules! plain_pages {
    ($($page:ident $handler:ident $template:literal $title:literal;)*) => {$(
        #[derive(Template)]
        #[template(path = $template)]
        struct $page {
            layout: Layout,
        }

        async fn $handler(
            State(app): State<Shared>,
            headers: HeaderMap,
            MaybeSession(s): MaybeSession,
        ) -> Response {
            let ctx = Ctx::new(&app, &headers, s);
            render(&$page { layout: ctx.layout($title, &json!({})) })
        }
    )*};
}

plain_pages! {
    SignupPage page_signup "signup.html" "signup";
    SignupConfirmPage page_signup_confirm "signup_confirm.html" "signup_confirm";
    ForgotPage page_forgot "forgot.html" "forgot_password";
    ResetPage page_reset "reset.html" "reset_title";
    AddressConfirmPage page_address_confirm "address_confirm.html" "address_confirm_title";
}

/// What the second-factor page asks for.
enum Ask {
    /// A code: the prompt, and whether it is a recovery code (letters, not digits).
    Code {
        prompt: String,
        recovery: bool,
    },
    WebAuthn,
    Push {
        number: u8,
        device: String,
    },
    Nothing,
}

#[derive(Template)]
#[template(path = "factor.html")]
struct FactorPage {
    layout: Layout,
    warn_username: bool,
    /// From when usernames are refused (Unix seconds), with the warning.
    username_refused_from: Option<u64>,
    ask: Ask,
    /// Other usable methods: factor id, label.
    alternatives: Vec<(String, String)>,
    /// Methods that cannot be used: kind, why.
    unavailable: Vec<(&'static str, &'static str, Option<u64>)>,
}

fn factor_page(ctx: &Ctx, view: &ChallengeView) -> FactorPage {
    let l = ctx.lang;
    let ask = match &view.prompt {
        Prompt::TotpCode => Ask::Code { prompt: t(l, "totp_prompt").into(), recovery: false },
        Prompt::RecoveryCode => {
            Ask::Code { prompt: t(l, "recovery_prompt").into(), recovery: true }
        }
        Prompt::EmailCode { sent_to } => Ask::Code {
            prompt: format!("{} {sent_to}", t(l, "email_code_prompt")),
            recovery: false,
        },
        Prompt::WebAuthn { .. } => Ask::WebAuthn,
        Prompt::Push { number, device } => Ask::Push { number: *number, device: device.clone() },
        _ => Ask::Nothing,
    };
    let data = match &view.prompt {
        Prompt::WebAuthn { options } => {
            json!({"options": serde_json::from_str::<Value>(options).unwrap_or(Value::Null)})
        }
        _ => json!({}),
    };
    FactorPage {
        layout: ctx.layout("second_factor", &data),
        warn_username: view
            .warnings
            .iter()
            .any(|w| matches!(w, mfa_flow::Warning::UsernameDeprecated)),
        username_refused_from: view.username_refused_from,
        ask,
        alternatives: view
            .alternatives
            .iter()
            .map(|m| {
                (
                    m.factor.to_string(),
                    format!("{} — {}", t(l, kind_key(m.kind)), display_name(l, m)),
                )
            })
            .collect(),
        unavailable: view
            .unavailable
            .iter()
            .map(|u| {
                let until = match u.reason {
                    mfa_flow::Unavailable::PushPaused { until, .. } => until,
                    _ => None,
                };
                (t(l, kind_key(u.kind)), t(l, unavailable_key(u.reason)), until)
            })
            .collect(),
    }
}

/// The second-factor page of the login (or step-up) in progress, named by its cookie.
async fn page_factor(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    let ctx = Ctx::new(&app, &headers, s);
    let flow = mfa_axum::single_cookie(&headers, &app.sessions.cookie_name_for("login"));
    let view = match flow {
        Some(f) => app.auth.pending_login(&f, now()).await.ok(),
        None => None,
    };
    let Some(view) = view else { return Redirect::to("/login").into_response() };
    render(&factor_page(&ctx, &view))
}

#[derive(Template)]
#[template(path = "stepup.html")]
struct StepUpPage {
    layout: Layout,
}

async fn page_stepup(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    signed_in_page(&app, &headers, s, "second_factor", |layout| StepUpPage { layout })
}

/// One factor as the methods page lists it.
struct FactorRow {
    id: String,
    name: String,
    /// Why it is suspended, when it is (it can be re-enabled after a fresh step-up).
    suspended: Option<&'static str>,
    /// Why it is weak, when it is (a short imported secret).
    weak: Option<&'static str>,
    remove_label: String,
}

/// One kind of factor on the methods page.
struct KindRow {
    name: &'static str,
    href: &'static str,
    /// The account's address, beside the email-code row.
    extra: String,
    /// Why it cannot be added, when retired.
    retired: Option<&'static str>,
    /// From when it will be retired for this account (Unix seconds), while still usable.
    retires: Option<u64>,
    /// Why the kind is weaker than the others (codes by email, when offered).
    weak: Option<&'static str>,
    sms: bool,
    add_label: String,
    no_biometric: bool,
    factors: Vec<FactorRow>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    layout: Layout,
    enrollment_only: bool,
    proof_required: bool,
    rows: Vec<KindRow>,
}

async fn page_mfa(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    let ctx = Ctx::new(&app, &headers, s);
    let s = match ctx.require() {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let l = ctx.lang;
    let mut page = MfaPage {
        layout: ctx.layout("mfa", &json!({})),
        enrollment_only: s.enrollment_only,
        proof_required: s.proof == EnrollmentProof::Required,
        rows: Vec::new(),
    };
    if page.proof_required {
        // The account had a factor (a retired SMS number, used-up codes): the password alone
        // must not bind a new one, nor show the account. Prove the mailbox, or use a
        // recovery code.
        return render(&page);
    }
    let factors = app.auth.factor_list(s.account, now()).await.unwrap_or_default();
    let Ok(Some(account)) = app.auth.store().account(s.account).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let email = account.email.as_typed().to_owned();
    // The rules for this account: its group may retire a kind earlier or later.
    let rules = app.auth.rules_for(&account, now());
    let kinds: [(FactorKind, &str); 6] = [
        (FactorKind::EmailCode, "/mfa/email"),
        (FactorKind::Push, "/mfa/push"),
        (FactorKind::Totp, "/mfa/totp"),
        (FactorKind::SecurityKey, "/mfa/key?kind=security_key"),
        (FactorKind::Sms, ""),
        (FactorKind::BiometricKey, "/mfa/key?kind=biometric_key"),
    ];
    for (kind, href) in kinds {
        let rule = rules.kinds.iter().find(|r| r.kind == kind);
        let mine: Vec<FactorRow> = factors
            .iter()
            .filter(|f| {
                f.method.kind == kind
                    || (kind == FactorKind::SecurityKey && f.method.kind == FactorKind::Passkey)
            })
            .map(|f| {
                let name = display_name(l, &f.method);
                FactorRow {
                    id: f.method.factor.to_string(),
                    remove_label: format!("{} {name}", t(l, "remove")),
                    name,
                    suspended: f.suspended.map(|x| {
                        let why =
                            mfa_flow::Unavailable::Suspended { reason: x.reason, since: x.since };
                        t(l, unavailable_key(why))
                    }),
                    weak: f
                        .weak
                        .filter(|w| *w == mfa_flow::Weakness::ShortSecret)
                        .map(|_| t(l, "weak_secret")),
                }
            })
            .collect();
        page.rows.push(KindRow {
            name: t(l, kind_key(kind)),
            href,
            extra: if kind == FactorKind::EmailCode { email.clone() } else { String::new() },
            retired: rule.and_then(|r| r.retired).map(|r| t(l, retired_key(r))),
            retires: rule.filter(|r| r.available).and_then(|r| r.retires),
            weak: (kind == FactorKind::EmailCode).then(|| t(l, "weakest_method")),
            sms: kind == FactorKind::Sms,
            add_label: add_label(l, kind),
            no_biometric: kind == FactorKind::BiometricKey && mine.is_empty(),
            factors: mine,
        });
    }
    render(&page)
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    layout: Layout,
}

async fn page_totp(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    signed_in_page(&app, &headers, s, "totp_title", |layout| TotpPage { layout })
}

#[derive(Deserialize)]
struct KindQuery {
    kind: Option<String>,
}

#[derive(Template)]
#[template(path = "key.html")]
struct KeyPage {
    layout: Layout,
    kind: &'static str,
}

async fn page_key(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
    Query(q): Query<KindQuery>,
) -> Response {
    let ctx = Ctx::new(&app, &headers, s);
    if let Err(r) = ctx.require() {
        return r;
    }
    let kind = match q.kind.as_deref() {
        Some("passkey") => "passkey",
        Some("biometric_key") => "biometric_key",
        _ => "security_key",
    };
    render(&KeyPage { layout: ctx.layout(kind, &json!({})), kind })
}

#[derive(Template)]
#[template(path = "push.html")]
struct PushPage {
    layout: Layout,
}

async fn page_push(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    signed_in_page(&app, &headers, s, "push", |layout| PushPage { layout })
}

#[derive(Template)]
#[template(path = "email_factor.html")]
struct EmailFactorPage {
    layout: Layout,
    sent_to: String,
}

async fn page_email_factor(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    let ctx = Ctx::new(&app, &headers, s);
    let s = match ctx.require() {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let account = app.auth.store().account(s.account).await.ok().flatten();
    let sent_to = account.map(|a| a.email.masked()).unwrap_or_default();
    render(&EmailFactorPage { layout: ctx.layout("email_code", &json!({})), sent_to })
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct RecoveryPage {
    layout: Layout,
}

/// Shows the recovery codes the last answer carried: the page's script takes them from the
/// tab's storage, shows them and forgets them; the server never kept them.
async fn page_recovery(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    signed_in_page(&app, &headers, s, "recovery_title", |layout| RecoveryPage { layout })
}

/// A signed-in browser in the settings dialog.
struct SessionRow {
    id: String,
    browser: String,
    ip: String,
    created: u64,
    last_seen: u64,
    current: bool,
}

/// An event of the "recent security activity".
struct ActivityRow {
    label: &'static str,
    at: u64,
    from: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    username: Option<String>,
    /// From when usernames are refused (Unix seconds), if the policy has a date.
    username_refused_from: Option<u64>,
    email: String,
    first_name: String,
    last_name: String,
    language: String,
    time_zone: String,
    analytics: bool,
    mfa_on: bool,
    sessions: Vec<SessionRow>,
    activity: Vec<ActivityRow>,
}

async fn page_settings(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    let ctx = Ctx::new(&app, &headers, s);
    let s = match ctx.require() {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    if s.enrollment_only {
        return Redirect::to("/mfa").into_response();
    }
    let Ok(Some(a)) = app.auth.store().account(s.account).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let factors = app.auth.factor_list(a.id, now()).await.unwrap_or_default();
    let sessions = app.auth.sessions(&s, now()).await.unwrap_or_default();
    let rows = app.auth.store().audit_events(s.account, &ACTIVITY_KINDS, 20).await;
    let username_refused_from = app.auth.rules_for(&a, now()).username_refused_from;
    let p = a.profile;
    let page = SettingsPage {
        layout: ctx.layout("settings", &json!({})),
        username: a.username.as_ref().map(|u| u.as_typed().to_owned()),
        username_refused_from,
        email: a.email.as_typed().to_owned(),
        language: if p.language.is_empty() { ctx.lang.tag().to_owned() } else { p.language },
        time_zone: if p.time_zone.is_empty() { "Etc/UTC".to_owned() } else { p.time_zone },
        first_name: p.first_name,
        last_name: p.last_name,
        analytics: p.analytics_consent,
        mfa_on: factors
            .iter()
            .any(|f| f.retired.is_none() && f.method.kind != FactorKind::RecoveryCodes),
        sessions: sessions
            .into_iter()
            .map(|v| SessionRow {
                id: v.id.as_str().to_owned(),
                browser: if v.browser.is_empty() { "?".to_owned() } else { v.browser },
                ip: v.ip,
                created: v.created,
                last_seen: v.last_seen,
                current: v.current,
            })
            .collect(),
        activity: rows
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| {
                let label = t(ctx.lang, activity_key(&r.kind)?);
                let from = match (r.browser, r.ip) {
                    (Some(b), Some(ip)) => Some(format!("{b} {ip}")),
                    _ => None,
                };
                Some(ActivityRow { label, at: r.at, from })
            })
            .collect(),
    };
    render(&page)
}

/// The audit events a person recognizes (the rest stay in the log).
const ACTIVITY_KINDS: [&str; 18] = [
    "sign_up_confirmed",
    "password_reset_requested",
    "password_reset",
    "factors_reset_by_support",
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
        "sign_up_confirmed" => "act_sign_up",
        "password_reset_requested" => "act_reset_requested",
        "password_reset" => "act_password_reset",
        "factors_reset_by_support" => "act_factors_reset",
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

#[derive(Template)]
#[template(path = "offer.html")]
struct OfferPage {
    layout: Layout,
}

async fn page_offer(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
) -> Response {
    signed_in_page(&app, &headers, s, "biometric_key", |layout| OfferPage { layout })
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Template)]
#[template(path = "email_link.html")]
struct EmailLinkPage {
    layout: Layout,
    api: &'static str,
    token: String,
    help: &'static str,
    done: &'static str,
    revert: bool,
}

/// A link from an email-change mail: the token is applied by a POST from the page (a link
/// preview must not change anything).
async fn page_email_link(
    State(app): State<Shared>,
    headers: HeaderMap,
    MaybeSession(s): MaybeSession,
    uri: axum::http::Uri,
    Query(q): Query<TokenQuery>,
) -> Response {
    let ctx = Ctx::new(&app, &headers, s);
    let revert = uri.path().ends_with("revert");
    // Nothing has happened until the button is pressed: the page says what it will do.
    let (title, api, help, done) = if revert {
        ("email_revert_title", "/api/email/revert", "email_revert_help", "email_reverted")
    } else {
        ("change_email", "/api/email/confirm", "email_confirm_help", "email_changed")
    };
    let token: String = q.token.unwrap_or_default().chars().take(256).collect();
    render(&EmailLinkPage {
        layout: ctx.layout(title, &json!({})),
        api,
        token,
        help: t(ctx.lang, help),
        done: t(ctx.lang, done),
        revert,
    })
}

async fn app_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../static/app.js"))
        .into_response()
}

async fn style_css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../static/style.css"))
        .into_response()
}
