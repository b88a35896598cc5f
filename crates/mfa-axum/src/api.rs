//! The JSON API an embedder nests into their app: sign-in (password, then a code), the
//! session, sign-out. Answers set and clear the session cookie; errors come in the one JSON
//! shape of [`ApiError`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use mfa_flow::{Auth, ClientInfo, LoginError, LoginStep, Mailer, PushSender, Store};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::session::{CsrfChecked, MaybeSession, Sessions};
use crate::{ApiError, ClientAddr};

/// A JSON body whose refusal (not JSON, wrong content type, too large) answers in the JSON
/// shape of [`ApiError`] instead of axum's plain text.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state).await.map(|j| Self(j.0)).map_err(ApiError::from)
    }
}

/// The name of the long-lived known-device cookie (a known good path past per-account
/// throttling).
const DEVICE_COOKIE: &str = "known_device";

struct Api<S, M, P> {
    auth: Arc<Auth<S, M, P>>,
    sessions: Sessions,
}

impl<S, M, P> Clone for Api<S, M, P> {
    fn clone(&self) -> Self {
        Self { auth: Arc::clone(&self.auth), sessions: self.sessions.clone() }
    }
}

/// The API router: `POST /login` (`{"identifier", "password"}`), `POST /login/code`
/// (`{"flow", "code"}`), `GET /session`, `POST /logout` (CSRF header). Nest it:
/// `Router::new().nest("/auth", mfa_axum::api(auth, sessions))`, and serve with connect info.
/// Unknown routes under it answer 404 in the JSON shape.
pub fn api<S, M, P>(auth: Arc<Auth<S, M, P>>, sessions: Sessions) -> Router
where
    S: Store + 'static,
    M: Mailer + 'static,
    P: PushSender + 'static,
{
    let state = Api { auth, sessions: sessions.clone() };
    Router::new()
        .route("/login", post(login::<S, M, P>))
        .route("/login/code", post(login_code::<S, M, P>))
        .route("/session", get(session::<S, M, P>))
        .route("/logout", post(logout::<S, M, P>))
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(axum::Extension(sessions))
}

#[allow(clippy::disallowed_methods)] // The HTTP layer is where the time of a request is read.
fn now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

fn client_info(ip: ClientAddr, headers: &HeaderMap) -> ClientInfo {
    let jar = CookieJar::from_headers(headers);
    let browser = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(128).collect())
        .unwrap_or_default();
    ClientInfo {
        ip: ip.0.to_string(),
        browser,
        location: String::new(),
        known_device: jar
            .get(DEVICE_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() <= 128),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    identifier: String,
    password: String,
}

#[derive(Deserialize)]
struct CodeBody {
    flow: String,
    code: String,
}

/// The answer to a login step, with the cookies it sets.
fn answer(sessions: &Sessions, step: LoginStep) -> Response {
    let jar = CookieJar::new();
    match step {
        LoginStep::Challenge(view) => {
            axum::Json(json!({"ok": true, "challenge": view})).into_response()
        }
        LoginStep::MustEnroll { session, session_token, unavailable, enrollable, .. } => {
            let jar = jar.add(sessions.cookie(session_token.expose_secret()));
            let body = json!({
                "ok": true, "must_enroll": true,
                "proof_required": session.proof == mfa_flow::EnrollmentProof::Required,
                "unavailable": unavailable, "enrollable": enrollable,
            });
            (jar, axum::Json(body)).into_response()
        }
        LoginStep::Authenticated(done) => {
            let device = Cookie::build((DEVICE_COOKIE, done.known_device.clone()))
                .path("/")
                .http_only(true)
                .same_site(axum_extra::extract::cookie::SameSite::Lax)
                .secure(sessions.is_secure())
                .build();
            let jar = jar.add(sessions.cookie(done.session_token.expose_secret())).add(device);
            let body = json!({
                "ok": true, "assurance": done.assurance, "factor": done.factor,
                "required_actions": done.required_actions,
            });
            (jar, axum::Json(body)).into_response()
        }
        LoginStep::SteppedUp(_) => {
            axum::Json(json!({"ok": true, "stepped_up": true})).into_response()
        }
        LoginStep::Waiting => axum::Json(json!({"ok": true, "waiting": true})).into_response(),
        _ => ApiError::from(LoginError::Internal).into_response(),
    }
}

async fn login<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ip: ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let client = client_info(ip, &headers);
    let step = api.auth.login(&body.identifier, &body.password, &client, now()).await?;
    Ok(answer(&api.sessions, step))
}

async fn login_code<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    let step = api.auth.submit_code(&body.flow, &body.code, now()).await?;
    Ok(answer(&api.sessions, step))
}

/// The session as a page needs it, with the CSRF token its state-changing requests send.
async fn session<S, M, P>(
    State(api): State<Api<S, M, P>>,
    MaybeSession(s): MaybeSession,
    headers: HeaderMap,
) -> Response {
    let csrf = api.sessions.token(&headers).map(|t| crate::csrf_token(&t));
    axum::Json(json!({
        "ok": true,
        "signed_in": s.as_ref().is_some_and(|s| !s.enrollment_only),
        "enrollment_only": s.as_ref().is_some_and(|s| s.enrollment_only),
        "assurance": s.as_ref().map(|s| s.assurance),
        "csrf": csrf,
    }))
    .into_response()
}

async fn logout<S: Store, M: Mailer, P: PushSender>(
    State(api): State<Api<S, M, P>>,
    _: CsrfChecked,
    MaybeSession(s): MaybeSession,
) -> Result<Response, ApiError> {
    if let Some(s) = s {
        api.auth.sign_out(&s, now()).await?;
    }
    let jar = CookieJar::new().add(api.sessions.removal());
    Ok((jar, axum::Json(json!({"ok": true}))).into_response())
}
