//! The JSON API an embedder nests into their app: sign-up, sign-in with every second factor,
//! step-up, enrollment of every kind, the methods and recovery codes, settings, email change,
//! sessions, and the phone's endpoints. Answers set and clear the cookies (session, login in
//! progress, known device); errors come in the one JSON shape of [`ApiError`], translated by
//! the embedder's [`ApiOptions::localize`].
//!
//! Every route and its body are listed in [`openapi`](crate::openapi()), which a test checks
//! against this router.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use mfa_flow::{
    Auth, ClientInfo, EnrollmentProof, FactorId, FactorKind, LoginError, LoginStep, Mailer,
    PushEnrollmentStatus, PushSender, SessionId, Store, Unavailable,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::openapi::{Access, RouteDoc};
use crate::session::{CsrfChecked, Enrolling, MaybeSession, Sessions, SignedIn, single_cookie};
use crate::{ApiError, ClientAddr};

/// A JSON body whose refusal (not JSON, wrong content type, too large) answers in the JSON
/// shape of [`ApiError`] instead of axum's plain text. The body must be declared as JSON,
/// even when empty of fields (`{}`): a request without that header is one another site's
/// page can send without asking (a CORS "simple" request), which this API never accepts.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state).await.map(|j| Self(j.0)).map_err(ApiError::from)
    }
}

/// Translates an error code (`err_…`) for the request's reader (from its headers: a language
/// cookie, `Accept-Language`); `None` keeps the English message.
pub type Localizer = Arc<dyn Fn(&HeaderMap, &str) -> Option<String> + Send + Sync>;

/// Options of [`api_with`].
#[derive(Clone, Default)]
pub struct ApiOptions {
    localize: Option<Localizer>,
}

impl core::fmt::Debug for ApiOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ApiOptions").field("localize", &self.localize.is_some()).finish()
    }
}

impl ApiOptions {
    /// Error messages translated by `f` (given the request's headers and the error's code).
    #[must_use]
    pub fn localize(
        mut self,
        f: impl Fn(&HeaderMap, &str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.localize = Some(Arc::new(f));
        self
    }
}

/// The name of the long-lived known-device cookie (a known good path past per-account
/// throttling).
const DEVICE_COOKIE: &str = "known_device";
/// The name of the cookie that names the login in progress (between the password and the
/// second factor).
const LOGIN_COOKIE: &str = "login";
/// The longest flow id read from a body or a cookie.
const MAX_FLOW_LEN: usize = 128;

struct Api<S, M, P> {
    auth: Arc<Auth<S, M, P>>,
    sessions: Sessions,
}

impl<S, M, P> Clone for Api<S, M, P> {
    fn clone(&self) -> Self {
        Self { auth: Arc::clone(&self.auth), sessions: self.sessions.clone() }
    }
}

impl<S: Store, M: Mailer, P: PushSender> Api<S, M, P> {
    fn cookie(
        &self,
        name: &str,
        value: &str,
        max_age: Option<std::time::Duration>,
    ) -> Cookie<'static> {
        let mut c = Cookie::build((self.sessions.cookie_name_for(name), value.to_owned()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.sessions.is_secure())
            .build();
        if let Some(age) = max_age.and_then(|a| i64::try_from(a.as_secs()).ok()) {
            c.set_max_age(time::Duration::seconds(age));
        }
        c
    }

    fn removal(&self, name: &str) -> Cookie<'static> {
        let mut c = self.cookie(name, "", None);
        c.make_removal();
        c
    }

    /// The login in progress: the body's `flow`, else the login cookie's.
    fn login_flow(&self, headers: &HeaderMap, body: Option<&str>) -> Result<String, ApiError> {
        body.filter(|f| !f.is_empty())
            .map(str::to_owned)
            .or_else(|| single_cookie(headers, &self.sessions.cookie_name_for(LOGIN_COOKIE)))
            .filter(|f| f.len() <= MAX_FLOW_LEN)
            .ok_or_else(|| ApiError::from(LoginError::FlowExpired))
    }

    fn client(&self, ip: ClientAddr, headers: &HeaderMap) -> ClientInfo {
        let mut c = crate::client::client_info(ip.0, headers);
        c.known_device = single_cookie(headers, &self.sessions.cookie_name_for(DEVICE_COOKIE))
            .filter(|v| v.len() <= MAX_FLOW_LEN);
        c
    }

    /// The answer to a login step, with the cookies it sets.
    fn answer(&self, step: LoginStep) -> Response {
        let jar = CookieJar::new();
        let ttl = self.auth.config().login_ttl;
        match step {
            LoginStep::Challenge(view) => {
                let jar = jar.add(self.cookie(LOGIN_COOKIE, &view.flow, Some(ttl)));
                let body = json!({
                    "ok": true,
                    // With the username warning: from when this account's username is refused.
                    "username_refused_from": view.username_refused_from,
                    "challenge": view,
                });
                (jar, axum::Json(body)).into_response()
            }
            LoginStep::MustEnroll {
                session,
                session_token,
                unavailable,
                enrollable,
                warnings,
                username_refused_from: refused_from,
            } => {
                let jar = jar
                    .add(self.sessions.cookie(session_token.expose_secret()))
                    .add(self.removal(LOGIN_COOKIE));
                let body = json!({
                    "ok": true, "must_enroll": true,
                    "proof_required": session.proof == EnrollmentProof::Required,
                    "unavailable": unavailable, "enrollable": enrollable, "warnings": warnings,
                    "username_refused_from": refused_from,
                });
                (jar, axum::Json(body)).into_response()
            }
            LoginStep::Authenticated(done) => {
                let device_ttl = self.auth.config().known_device_ttl;
                let jar = jar
                    .add(self.sessions.cookie(done.session_token.expose_secret()))
                    .add(self.cookie(DEVICE_COOKIE, &done.known_device, Some(device_ttl)))
                    .add(self.removal(LOGIN_COOKIE));
                let body = json!({
                    "ok": true, "authenticated": true, "assurance": done.assurance,
                    "factor": done.factor, "required_actions": done.required_actions,
                });
                (jar, axum::Json(body)).into_response()
            }
            LoginStep::SteppedUp(s) => {
                let jar = jar.add(self.removal(LOGIN_COOKIE));
                let body = json!({"ok": true, "stepped_up": true, "assurance": s.assurance});
                (jar, axum::Json(body)).into_response()
            }
            LoginStep::Waiting => axum::Json(json!({"ok": true, "waiting": true})).into_response(),
            LoginStep::ResetPassword(grant) => {
                let jar = jar.add(self.removal(LOGIN_COOKIE));
                let body = json!({"ok": true, "reset_password": grant.expose_secret()});
                (jar, axum::Json(body)).into_response()
            }
            _ => ApiError::from(LoginError::Internal).into_response(),
        }
    }
}

/// The API router with English messages; see [`api_with`].
pub fn api<S, M, P>(auth: Arc<Auth<S, M, P>>, sessions: Sessions) -> Router
where
    S: Store + 'static,
    M: Mailer + 'static,
    P: PushSender + 'static,
{
    api_with(auth, sessions, ApiOptions::default())
}

/// The API router. Nest it (`Router::new().nest("/auth", mfa_axum::api(auth, sessions))`)
/// and serve with connect info. The routes and bodies are described by
/// [`openapi`](crate::openapi()); unknown routes under it answer 404 in the JSON shape.
///
/// State-changing requests of a signed-in browser carry the CSRF header
/// ([`CsrfChecked`]); the others (sign-up, sign-in, the email links, the phone) must be
/// JSON, which a page of another site cannot send without CORS.
pub fn api_with<S, M, P>(
    auth: Arc<Auth<S, M, P>>,
    sessions: Sessions,
    options: ApiOptions,
) -> Router
where
    S: Store + 'static,
    M: Mailer + 'static,
    P: PushSender + 'static,
{
    let state = Api { auth, sessions: sessions.clone() };
    let router = routes::<S, M, P>()
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(axum::Extension(sessions));
    match options.localize {
        Some(l) => localized(router, l),
        None => router,
    }
}

/// `router` with every error answer in the JSON shape (an [`ApiError`]) translated by `l`:
/// put it outside [`harden`](crate::harden()) so that the body and time limits' answers,
/// which never reach the API router, are translated too.
pub fn localized<S: Clone + Send + Sync + 'static>(router: Router<S>, l: Localizer) -> Router<S> {
    router.layer(axum::middleware::from_fn_with_state(l, localize))
}

macro_rules! routes {
    ($($m:ident $path:literal $h:ident $access:ident [$($body:ty)?] $summary:literal;)*) => {
        /// Every route of the API, from the one table that also writes its OpenAPI
        /// description (so the two cannot drift).
        fn routes<S, M, P>() -> Router<Api<S, M, P>>
        where
            S: Store + 'static,
            M: Mailer + 'static,
            P: PushSender + 'static,
        {
            let r = Router::new();
            $(let r = r.route($path, $m($h::<S, M, P>));)*
            r
        }

        /// The routes as the OpenAPI description lists them.
        pub(crate) static ROUTES: &[RouteDoc] = &[$(RouteDoc {
            method: stringify!($m),
            path: $path,
            access: Access::$access,
            body: routes!(@body $($body)?),
            summary: $summary,
        }),*];
    };
    (@body) => { None };
    (@body $body:ty) => { Some(crate::openapi::schema_of::<$body>) };
}

routes! {
    get "/session" session Public [] "The session as a page needs it: signed in or not, its assurance, and the CSRF token to send back.";
    post "/signup" signup Public [body::SignUp] "Starts a sign-up: mails the address a code and a link that create the account (the same answer whether or not the address already has one; its owner is mailed instead).";
    post "/signup/confirm" signup_confirm Public [body::Code] "Confirms a sign-up with the mailed code (the sign-up's flow and the code): the account is created.";
    post "/signup/confirm-link" signup_confirm_link Public [body::LinkPassword] "Confirms a sign-up with its mailed link's token and the password chosen at sign-up: the account is created.";
    post "/password/forgot" password_forgot Public [body::ForgotPassword] "Mails a password-reset link to the account with this address, if any (the same answer either way).";
    post "/password/reset/redeem" password_reset_redeem Public [body::Token] "Opens a password-reset link: answers a second-factor challenge like a sign-in (its success is reset_password, never a session), or reset_password at once for an account without factors.";
    post "/password/reset" password_reset Public [body::ResetPassword] "Sets the new password with the grant of reset_password; every session and known device ends. Sign in afterwards.";
    post "/login" login Public [body::Login] "Step one of a sign-in: identifier and password. Answers a challenge (a second factor to give: its prompt is an object tagged by kind — totp_code, recovery_code, email_code {sent_to}, web_authn {options}, push {number, device}; unavailable methods carry why and until when), must_enroll, or authenticated.";
    get "/login" pending_login Public [] "The sign-in in progress (named by the login cookie): what to ask for, the alternatives, what cannot be used and why.";
    post "/login/code" login_code Public [body::Code] "A code for the sign-in in progress (authenticator app, email code, recovery code).";
    post "/login/select" login_select Public [body::Factor] "Try another method: switches the sign-in in progress to another usable factor.";
    post "/login/poll" login_poll Public [body::Flow] "Whether the phone approved the push sign-in in progress (waiting, authenticated, or why not).";
    post "/login/webauthn" login_webauthn Public [body::WebAuthn] "A security key's or passkey's answer for the sign-in in progress.";
    post "/login/link" send_link Public [body::Identifier] "Mails a sign-in link to the account the identifier names, if any (the same answer either way): the way in when the throttle holds the identifier.";
    post "/login/link/redeem" redeem_link Public [body::Token] "Opens a sign-in link: this browser gets a known-device cookie that passes the identifier-wide throttle (the password and a second factor are still needed).";
    post "/logout" logout Csrf [] "Signs out: ends the session and clears its cookie.";
    post "/stepup" step_up Csrf [] "Starts a step-up (a second factor again) before a sensitive action; answered like a sign-in.";
    get "/me" me Session [] "The account: address, legacy username, profile, factors.";
    get "/methods" methods Session [] "Every method of the account with whether it can be used and why not, and the kinds that can be added.";
    post "/mfa/totp/begin" totp_begin Csrf [] "Starts an authenticator-app enrollment: the otpauth URI, its QR code and the secret.";
    post "/mfa/totp/confirm" totp_confirm Csrf [body::Code] "Finishes it with a first code (and a name). New recovery codes come in this answer only.";
    post "/mfa/webauthn/begin" webauthn_begin Csrf [body::Kind] "Starts a security key, passkey or biometric key registration: the creation options.";
    post "/mfa/webauthn/finish" webauthn_finish Csrf [body::WebAuthn] "Finishes it with the browser's answer (and a name).";
    post "/mfa/push/begin" push_begin Csrf [] "Starts a phone enrollment: the enrollment URI and its QR code.";
    post "/mfa/push/status" push_status Csrf [body::Flow] "The phone enrollment's state: waiting, confirm (the number to compare), or enrolled.";
    post "/mfa/email/begin" email_code_begin Csrf [] "Starts an email-code enrollment: a code to the account's address.";
    post "/mfa/email/confirm" email_code_confirm Csrf [body::Code] "Finishes it with the code.";
    post "/mfa/sms" sms Csrf [] "SMS cannot be added: refused with the policy's reason (err_retired).";
    post "/mfa/remove" remove Csrf [body::Factor] "Removes a factor (needs a fresh second factor; never the last one).";
    post "/mfa/rename" rename Csrf [body::Factor] "Renames a factor.";
    post "/mfa/reinstate" reinstate Csrf [body::Factor] "Re-enables a factor suspended as a possible clone (needs a fresh step-up with another factor).";
    post "/mfa/recovery" recovery Csrf [] "New recovery codes (the old ones stop working); shown in this answer only.";
    post "/mfa/proof/begin" proof_begin Csrf [] "An enrollment-only session of an account that had a factor: mails a code to prove the mailbox.";
    post "/mfa/proof/confirm" proof_confirm Csrf [body::Code] "Proves the mailbox with that code.";
    post "/mfa/proof/recovery" proof_recovery Csrf [body::Code] "Proves the account with a recovery code instead (ends every other session).";
    get "/sessions" list_sessions Session [] "The account's signed-in browsers.";
    post "/sessions/end" end_session Csrf [body::Id] "Ends one of them (this one too: its cookie is cleared).";
    post "/sessions/end-others" end_others Csrf [] "Ends every other session (needs a fresh second factor).";
    post "/settings/profile" profile Csrf [body::Profile] "Saves the profile.";
    post "/settings/email" change_email Csrf [body::Email] "Changes the login address (the current password, a fresh second factor; the new address confirms unless configured otherwise).";
    post "/settings/password" change_password Csrf [body::Password] "Changes the password (the current one, a fresh second factor); every other session ends.";
    post "/settings/username/remove" remove_username Csrf [] "\"Use my email address as the user name\": removes the legacy username (a fresh second factor); sign-in by it stops at once.";
    post "/address/confirm" address_confirm Public [body::Token] "Confirms an imported account's address with the link mailed at its first sign-in: the mailbox takes the account (the imported password and factors are dropped) and gets reset_password, a grant to choose a password.";
    post "/email/confirm" email_confirm Public [body::Token] "Applies the link mailed to a new address.";
    post "/email/revert" email_revert Public [body::Token] "Applies the link mailed to the old address: turns the change back.";
    post "/push/register" device_register Device [] "The phone registers (a signed message of the push protocol).";
    post "/push/fetch" device_fetch Device [] "The phone fetches its pending challenges (signed).";
    post "/push/respond" device_respond Device [] "The phone answers a challenge (signed); the reply's `state` says what the answer did (approved, number_mismatch, denied, fraud_reported).";
}

/// Rewrites the message of an error answer in the reader's language.
async fn localize(State(l): State<Localizer>, req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let res = next.run(req).await;
    let Some(e) = res.extensions().get::<ApiError>().cloned() else { return res };
    let Some(message) = l(&headers, e.code) else { return res };
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(e.body(&message).to_string()))
}

#[allow(clippy::disallowed_methods)] // The HTTP layer is where the time of a request is read.
fn now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

/// From when the policy refuses username sign-ins (Unix seconds), if it has a date.
fn unix_seconds(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn ok(body: Value) -> Response {
    axum::Json(body).into_response()
}

fn factor_id(s: &str) -> Result<FactorId, ApiError> {
    uuid::Uuid::parse_str(s).map(FactorId).map_err(|_| ApiError::invalid())
}

/// Request bodies (also the OpenAPI schemas).
pub(crate) mod body {
    use serde::Deserialize;
    use utoipa::ToSchema;

    /// `POST /signup`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct SignUp {
        pub(crate) email: String,
        pub(crate) password: String,
    }

    /// `POST /login`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Login {
        pub(crate) identifier: String,
        pub(crate) password: String,
    }

    /// A code, for the login in progress (`flow`, else the login cookie's) or a ceremony.
    #[derive(Deserialize, ToSchema, Default)]
    pub(crate) struct Code {
        #[serde(default)]
        pub(crate) flow: String,
        #[serde(default)]
        pub(crate) code: String,
        #[serde(default)]
        pub(crate) name: String,
    }

    /// A factor of the account.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Factor {
        pub(crate) factor: String,
        #[serde(default)]
        pub(crate) name: String,
        #[serde(default)]
        pub(crate) flow: String,
    }

    /// A flow only.
    #[derive(Deserialize, ToSchema, Default)]
    pub(crate) struct Flow {
        #[serde(default)]
        pub(crate) flow: String,
    }

    /// A WebAuthn answer of the browser (`navigator.credentials` as JSON).
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct WebAuthn {
        #[serde(default)]
        pub(crate) flow: String,
        #[schema(value_type = Object)]
        pub(crate) response: serde_json::Value,
        #[serde(default)]
        pub(crate) name: String,
    }

    /// `POST /mfa/webauthn/begin`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Kind {
        #[serde(default)]
        pub(crate) kind: String,
    }

    /// `POST /sessions/end`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Id {
        pub(crate) id: String,
    }

    /// `POST /settings/profile`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Profile {
        #[serde(default)]
        pub(crate) first_name: String,
        #[serde(default)]
        pub(crate) last_name: String,
        #[serde(default)]
        pub(crate) language: String,
        #[serde(default)]
        pub(crate) time_zone: String,
        #[serde(default)]
        pub(crate) analytics_consent: bool,
    }

    /// `POST /settings/email`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Email {
        pub(crate) email: String,
        pub(crate) current_password: String,
    }

    /// `POST /settings/password`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Password {
        pub(crate) current_password: String,
        pub(crate) password: String,
    }

    /// `POST /login/link`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Identifier {
        pub(crate) identifier: String,
    }

    /// A link's token.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct Token {
        pub(crate) token: String,
    }

    /// `POST /signup/confirm-link`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct LinkPassword {
        pub(crate) token: String,
        pub(crate) password: String,
    }

    /// `POST /password/forgot`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct ForgotPassword {
        pub(crate) email: String,
    }

    /// `POST /password/reset`.
    #[derive(Deserialize, ToSchema)]
    pub(crate) struct ResetPassword {
        pub(crate) grant: String,
        pub(crate) password: String,
    }
}

type R = Result<Response, ApiError>;

/// The session as a page needs it, with the CSRF token its state-changing requests send.
async fn session<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    MaybeSession(s): MaybeSession,
    headers: HeaderMap,
) -> Response {
    let csrf = s.as_ref().and(api.sessions.token(&headers)).map(|t| crate::csrf_token(&t));
    let pending = single_cookie(&headers, &api.sessions.cookie_name_for(LOGIN_COOKIE)).is_some();
    ok(json!({
        "ok": true,
        "signed_in": s.as_ref().is_some_and(|s| !s.enrollment_only),
        "enrollment_only": s.as_ref().is_some_and(|s| s.enrollment_only),
        "proof_required": s.as_ref().is_some_and(|s| s.proof == EnrollmentProof::Required),
        "assurance": s.as_ref().map(|s| s.assurance),
        "login_pending": pending,
        "csrf": csrf,
    }))
}

async fn signup<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::SignUp>,
) -> R {
    let client = api.client(ip, &headers);
    // An address that has an account gets the same answer (its owner was told by mail), so
    // sign-up reveals no one.
    let started = api.auth.sign_up(&b.email, &b.password, &client, now()).await?;
    Ok(ok(json!({
        "ok": true, "flow": started.flow,
        "code_expires": unix_seconds(started.code_expires),
        "expires": unix_seconds(started.expires),
    })))
}

/// The answer to a confirmed sign-up.
fn confirmed(r: Result<mfa_flow::Account, LoginError>) -> R {
    match r {
        Ok(a) => Ok(ok(json!({"ok": true, "email": a.email.as_typed()}))),
        // Whoever confirms holds the mailbox (or its code): they may know it has an account.
        Err(LoginError::AccountExists) => Err(ApiError::account_exists()),
        Err(e) => Err(e.into()),
    }
}

async fn signup_confirm<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ApiJson(b): ApiJson<body::Code>,
) -> R {
    confirmed(api.auth.confirm_sign_up_code(&b.flow, &b.code, now()).await)
}

async fn signup_confirm_link<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ApiJson(b): ApiJson<body::LinkPassword>,
) -> R {
    confirmed(api.auth.confirm_sign_up_link(&b.token, &b.password, now()).await)
}

async fn password_forgot<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::ForgotPassword>,
) -> R {
    let client = api.client(ip, &headers);
    api.auth.begin_password_reset(&b.email, &client, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn password_reset_redeem<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::Token>,
) -> R {
    let client = api.client(ip, &headers);
    let step = api.auth.redeem_password_reset(&b.token, &client, now()).await?;
    Ok(api.answer(step))
}

async fn password_reset<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::ResetPassword>,
) -> R {
    let client = api.client(ip, &headers);
    api.auth.complete_password_reset(&b.grant, &b.password, &client, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn login<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::Login>,
) -> R {
    let client = api.client(ip, &headers);
    let step = api.auth.login(&b.identifier, &b.password, &client, now()).await?;
    Ok(api.answer(step))
}

/// The login in progress (what to ask for, the alternatives, what cannot be used and why).
async fn pending_login<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    headers: HeaderMap,
) -> R {
    let flow = api.login_flow(&headers, None)?;
    let view = api.auth.pending_login(&flow, now()).await?;
    Ok(ok(json!({"ok": true, "challenge": view})))
}

async fn login_code<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::Code>,
) -> R {
    let flow = api.login_flow(&headers, Some(&b.flow))?;
    Ok(api.answer(api.auth.submit_code(&flow, &b.code, now()).await?))
}

async fn login_select<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::Factor>,
) -> R {
    let flow = api.login_flow(&headers, Some(&b.flow))?;
    let client = api.client(ip, &headers);
    Ok(api.answer(api.auth.select_method(&flow, factor_id(&b.factor)?, &client, now()).await?))
}

async fn login_poll<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::Flow>,
) -> R {
    let flow = api.login_flow(&headers, Some(&b.flow))?;
    Ok(api.answer(api.auth.poll_push(&flow, now()).await?))
}

async fn login_webauthn<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::WebAuthn>,
) -> R {
    let flow = api.login_flow(&headers, Some(&b.flow))?;
    match api.auth.submit_webauthn(&flow, &b.response.to_string(), now()).await {
        Ok(step) => Ok(api.answer(step)),
        // Say what happened to the key, not "the code".
        Err(LoginError::WrongSecondFactor) => Err(ApiError::key_refused()),
        Err(e) => Err(e.into()),
    }
}

async fn send_link<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::Identifier>,
) -> R {
    let client = api.client(ip, &headers);
    api.auth.send_sign_in_link(&b.identifier, &client, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn redeem_link<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::Token>,
) -> R {
    // A browser of an earlier sign-in keeps its cookie: a link (perhaps someone else's, for
    // their own account) never trades it for a lesser one.
    let current = single_cookie(&headers, &api.sessions.cookie_name_for(DEVICE_COOKIE));
    if let Some(c) = current
        && api.auth.is_signed_in_device(&c, now()).await
    {
        return Ok(ok(json!({"ok": true, "kept": true})));
    }
    let device = api.auth.redeem_sign_in_link(&b.token, now()).await?;
    let ttl = api.auth.config().known_device_ttl;
    let jar = CookieJar::new().add(api.cookie(DEVICE_COOKIE, &device, Some(ttl)));
    Ok((jar, axum::Json(json!({"ok": true}))).into_response())
}

async fn logout<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    MaybeSession(s): MaybeSession,
) -> R {
    if let Some(s) = s {
        api.auth.sign_out(&s, now()).await?;
    }
    let jar = CookieJar::new().add(api.sessions.removal()).add(api.removal(LOGIN_COOKIE));
    Ok((jar, axum::Json(json!({"ok": true}))).into_response())
}

/// Starts a step-up: a second factor again, for a sensitive action.
async fn step_up<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    SignedIn(s): SignedIn,
    ip: ClientAddr,
    headers: HeaderMap,
) -> R {
    let client = api.client(ip, &headers);
    Ok(api.answer(api.auth.begin_step_up(&s, &client, now()).await?))
}

/// The account: address, legacy username, profile, factors.
async fn me<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    Enrolling(s): Enrolling,
) -> R {
    if s.proof == EnrollmentProof::Required {
        // The password alone, on an account that had a factor: nothing about the account
        // until the mailbox or a recovery code is proven.
        return Ok(ok(json!({"ok": true, "enrollment_only": true, "proof_required": true})));
    }
    let a = api.auth.store().account(s.account).await.map_err(LoginError::from)?;
    let a = a.ok_or(LoginError::NotSignedIn)?;
    let factors = api.auth.factor_list(a.id, now()).await?;
    let list: Vec<Value> = factors
        .iter()
        .map(|f| json!({"id": f.method.factor.to_string(), "kind": f.method.kind, "name": f.method.name, "retired": f.retired, "retires": f.retires}))
        .collect();
    Ok(ok(json!({
        "ok": true, "email": a.email.as_typed(),
        "username": a.username.as_ref().map(|u| u.as_typed().to_owned()),
        "username_refused_from": api.auth.rules_for(&a, now()).username_refused_from,
        "profile": a.profile, "factors": list, "enrollment_only": s.enrollment_only,
        "proof_required": false, "assurance": s.assurance,
    })))
}

/// Every method of the account with whether it can be used and why not, and the kinds that
/// can be added.
async fn methods<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    Enrolling(s): Enrolling,
) -> R {
    if s.proof == EnrollmentProof::Required {
        return Err(LoginError::ProofRequired.into());
    }
    let t = now();
    let methods: Vec<Value> = api
        .auth
        .factor_list(s.account, t)
        .await?
        .iter()
        .map(|f| {
            let why = f.retired.map(|r| Unavailable::Retired { reason: r }).or(f
                .suspended
                .map(|x| Unavailable::Suspended { reason: x.reason, since: x.since }));
            json!({
                "id": f.method.factor.to_string(), "kind": f.method.kind, "name": f.method.name,
                "created": f.created, "last_used": f.last_used,
                "available": why.is_none(), "unavailable": why, "weak": f.weak,
                "retires": f.retires,
            })
        })
        .collect();
    let a = api.auth.store().account(s.account).await.map_err(LoginError::from)?;
    let a = a.ok_or(LoginError::NotSignedIn)?;
    // The rules for this account: a kind retired for it (or to be, with the date).
    let enrollable = api.auth.rules_for(&a, t).kinds;
    Ok(ok(json!({"ok": true, "methods": methods, "enrollable": enrollable})))
}

/// An enrollment finished. New recovery codes go to the client in this answer only.
fn enrolled(before: &mfa_flow::Session, e: mfa_flow::Enrolled) -> Value {
    json!({
        "ok": true, "factor": e.factor, "recovery_codes": e.recovery_codes,
        "completed_enrollment": before.enrollment_only && !e.session.enrollment_only,
    })
}

async fn totp_begin<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
) -> R {
    let en = api.auth.begin_totp(&s, now()).await?;
    Ok(ok(json!({
        "ok": true, "flow": en.flow, "uri": en.uri, "qr_svg": en.qr_svg, "secret": en.secret_base32,
    })))
}

async fn totp_confirm<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Code>,
) -> R {
    Ok(ok(enrolled(&s, api.auth.confirm_totp(&s, &b.flow, &b.code, &b.name, now()).await?)))
}

async fn webauthn_begin<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Kind>,
) -> R {
    let kind = match b.kind.as_str() {
        "passkey" => FactorKind::Passkey,
        "biometric_key" => FactorKind::BiometricKey,
        "security_key" | "" => FactorKind::SecurityKey,
        _ => return Err(ApiError::invalid()),
    };
    let (flow, options) = api.auth.begin_webauthn(&s, kind, now()).await?;
    let options: Value = serde_json::from_str(&options).map_err(|_| LoginError::Internal)?;
    Ok(ok(json!({"ok": true, "flow": flow, "options": options})))
}

async fn webauthn_finish<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::WebAuthn>,
) -> R {
    let response = b.response.to_string();
    Ok(ok(enrolled(&s, api.auth.finish_webauthn(&s, &b.flow, &response, &b.name, now()).await?)))
}

async fn push_begin<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
) -> R {
    let (flow, uri) = api.auth.begin_push(&s, now()).await?;
    let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(|_| LoginError::Internal)?;
    let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build();
    Ok(ok(json!({"ok": true, "flow": flow, "uri": uri, "qr_svg": svg})))
}

async fn push_status<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(b): ApiJson<body::Flow>,
) -> R {
    let client = api.client(ip, &headers);
    match api.auth.push_enrollment_status(&s, &b.flow, &client, now()).await? {
        PushEnrollmentStatus::WaitingForDevice => Ok(ok(json!({"ok": true, "status": "waiting"}))),
        PushEnrollmentStatus::ConfirmNumber { number } => {
            Ok(ok(json!({"ok": true, "status": "confirm", "number": number})))
        }
        PushEnrollmentStatus::Enrolled(e) => {
            let mut body = enrolled(&s, *e);
            body["status"] = json!("enrolled");
            Ok(ok(body))
        }
        _ => Err(LoginError::Internal.into()),
    }
}

async fn email_code_begin<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
) -> R {
    let flow = api.auth.begin_email_code(&s, now()).await?;
    Ok(ok(json!({"ok": true, "flow": flow})))
}

async fn email_code_confirm<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Code>,
) -> R {
    Ok(ok(enrolled(&s, api.auth.confirm_email_code(&s, &b.flow, &b.code, now()).await?)))
}

/// SMS cannot be added: refused with the policy's reason (`err_retired`, `detail` the
/// reason).
async fn sms<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
) -> R {
    let a = api.auth.store().account(s.account).await.map_err(LoginError::from)?;
    let a = a.ok_or(LoginError::NotSignedIn)?;
    let sms = api.auth.rules_for(&a, now()).kinds.into_iter().find(|k| k.kind == FactorKind::Sms);
    match sms.and_then(|k| k.retired) {
        Some(reason) => Err(ApiError::retired(reason)),
        None => Err(LoginError::MethodUnavailable.into()),
    }
}

async fn remove<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Factor>,
) -> R {
    api.auth.remove_factor(&s, factor_id(&b.factor)?, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn rename<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Factor>,
) -> R {
    api.auth.rename_factor(&s, factor_id(&b.factor)?, &b.name, now()).await?;
    Ok(ok(json!({"ok": true})))
}

/// Re-enables a factor suspended as a possible clone (a fresh step-up with another factor).
async fn reinstate<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Factor>,
) -> R {
    api.auth.reinstate_factor(&s, factor_id(&b.factor)?, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn recovery<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
) -> R {
    let codes = api.auth.regenerate_recovery_codes(&s, now()).await?;
    Ok(ok(json!({"ok": true, "recovery_codes": codes})))
}

/// An enrollment-only session of an account that had a factor: a code to its address.
async fn proof_begin<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
) -> R {
    let flow = api.auth.begin_enrollment_proof(&s, now()).await?;
    Ok(ok(json!({"ok": true, "flow": flow})))
}

async fn proof_confirm<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Code>,
) -> R {
    api.auth.confirm_enrollment_proof(&s, &b.flow, &b.code, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn proof_recovery<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Code>,
) -> R {
    api.auth.prove_with_recovery_code(&s, &b.code, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn list_sessions<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    Enrolling(s): Enrolling,
) -> R {
    let list = api.auth.sessions(&s, now()).await?;
    Ok(ok(json!({"ok": true, "sessions": list})))
}

async fn end_session<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Id>,
) -> R {
    let id = SessionId::parse(&b.id)?;
    let ended = api.auth.end_session(&s, &id, now()).await?;
    let current = id == s.id;
    let body = axum::Json(json!({"ok": true, "ended": ended, "current": current}));
    if current {
        let jar = CookieJar::new().add(api.sessions.removal());
        return Ok((jar, body).into_response());
    }
    Ok(body.into_response())
}

async fn end_others<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
) -> R {
    api.auth.end_other_sessions(&s, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn profile<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Profile>,
) -> R {
    // A language tag: letters and hyphens, bounded.
    let language = if b.language.len() <= 16
        && b.language.bytes().all(|c| c.is_ascii_alphabetic() || c == b'-')
    {
        b.language
    } else {
        return Err(ApiError::invalid());
    };
    let profile = mfa_flow::ProfileFields {
        first_name: b.first_name.chars().take(100).collect(),
        last_name: b.last_name.chars().take(100).collect(),
        language,
        time_zone: b.time_zone.chars().take(64).collect(),
        analytics_consent: b.analytics_consent,
    };
    api.auth.update_profile(&s, profile).await?;
    Ok(ok(json!({"ok": true})))
}

async fn change_email<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Email>,
) -> R {
    let started = api.auth.change_email(&s, &b.current_password, &b.email, now()).await?;
    Ok(ok(json!({
        "ok": true, "email": started.login_email.as_typed(),
        "awaiting_confirmation": started.awaiting_confirmation,
    })))
}

async fn change_password<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
    ApiJson(b): ApiJson<body::Password>,
) -> R {
    api.auth.change_password(&s, &b.current_password, &b.password, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn remove_username<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    Enrolling(s): Enrolling,
) -> R {
    api.auth.remove_username(&s, now()).await?;
    Ok(ok(json!({"ok": true})))
}

async fn address_confirm<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ApiJson(b): ApiJson<body::Token>,
) -> R {
    let grant = api.auth.confirm_address(&b.token, now()).await?;
    Ok(api.answer(LoginStep::ResetPassword(grant)))
}

async fn email_confirm<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ApiJson(b): ApiJson<body::Token>,
) -> R {
    let email = api.auth.confirm_email_change(&b.token, now()).await?;
    Ok(ok(json!({"ok": true, "email": email.as_typed()})))
}

async fn email_revert<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ApiJson(b): ApiJson<body::Token>,
) -> R {
    let email = api.auth.revert_email_change(&b.token, now()).await?;
    Ok(ok(json!({"ok": true, "email": email.as_typed()})))
}

// ----- the phone's endpoints (signed messages; no cookies, no CSRF) -----

fn device_reply(r: Result<String, LoginError>) -> R {
    let body = r?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn device_register<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    body: String,
) -> R {
    device_reply(api.auth.push_device_register(&body, now()).await)
}

async fn device_fetch<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    body: String,
) -> R {
    device_reply(api.auth.push_device_fetch(&body, now()).await)
}

async fn device_respond<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    body: String,
) -> R {
    // The phone learns what its answer did (an approval with the wrong number approved
    // nothing), to say so to the person holding it.
    let state = api.auth.push_device_respond(&body, now()).await;
    device_reply(state.map(|s| json!({"ok": true, "state": s}).to_string()))
}
