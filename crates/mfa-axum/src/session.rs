//! Sessions for an axum app: the `mfa-flow` session named by the session cookie, found once
//! per request and handed to handlers by extractors — signed in, freshly signed in (for
//! sensitive actions), or any session (enrollment pages) — and the CSRF check that goes with
//! the cookie.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, SameSite};
use mfa_flow::{Auth, LoginError, Mailer, PushSender, Session, Store};

use crate::error::ApiError;

/// A boxed future, for the object-safe [`SessionSource`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the extractors need of `mfa-flow`'s [`Auth`], object-safe so that they are not
/// generic over its store, mailer and push sender. [`Auth`] implements it.
pub trait SessionSource: Send + Sync + 'static {
    /// The live session `token` names (see [`Auth::session`]).
    fn session<'a>(
        &'a self,
        token: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Session, LoginError>>;

    /// Whether `session`'s second factor is fresh enough for a sensitive action.
    fn is_fresh(&self, session: &Session, now: SystemTime) -> bool;
}

impl<S, M, P> SessionSource for Auth<S, M, P>
where
    S: Store + 'static,
    M: Mailer + 'static,
    P: PushSender + 'static,
{
    fn session<'a>(
        &'a self,
        token: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Session, LoginError>> {
        Box::pin(Auth::session(self, token, now))
    }

    fn is_fresh(&self, session: &Session, now: SystemTime) -> bool {
        Auth::is_fresh(self, session, now)
    }
}

/// Where sessions come from and which cookie carries their token. Add it to the router as an
/// `Extension`.
#[derive(Clone)]
pub struct Sessions {
    source: Arc<dyn SessionSource>,
    cookie: String,
    secure: bool,
    clock: fn() -> SystemTime,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions").field("cookie", &self.cookie).finish_non_exhaustive()
    }
}

#[allow(clippy::disallowed_methods)] // The HTTP layer is where the time of a request is read.
fn system_now() -> SystemTime {
    SystemTime::now()
}

impl Sessions {
    /// Sessions from `source`, in a cookie named `session` (`__Host-session` and `Secure`
    /// when `secure`: serve over https).
    #[must_use]
    pub fn new(source: Arc<dyn SessionSource>, secure: bool) -> Self {
        let cookie = if secure { "__Host-session".to_owned() } else { "session".to_owned() };
        Self { source, cookie, secure, clock: system_now }
    }

    /// Reads time from `clock` instead of the system clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// The cookie's name.
    #[must_use]
    pub fn cookie_name(&self) -> &str {
        &self.cookie
    }

    /// Whether cookies are `Secure` (the server is behind https).
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The cookie that stores `token` (after a sign-in): `HttpOnly`, `SameSite=Lax`,
    /// `Path=/`, and `Secure` behind https.
    #[must_use]
    pub fn cookie(&self, token: &str) -> Cookie<'static> {
        Cookie::build((self.cookie.clone(), token.to_owned()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .build()
    }

    /// The cookie that removes the session cookie (after a sign-out).
    #[must_use]
    pub fn removal(&self) -> Cookie<'static> {
        let mut c = self.cookie("");
        c.make_removal();
        c
    }

    /// The name of another cookie of this server (`name`, or `__Host-name` behind https),
    /// as the API names its login-in-progress and known-device cookies.
    #[must_use]
    pub fn cookie_name_for(&self, name: &str) -> String {
        if self.secure { format!("__Host-{name}") } else { name.to_owned() }
    }

    /// The session cookie's value in `headers`, if any (at most 128 bytes). A cookie of that
    /// name sent twice counts as none (see [`single_cookie`]).
    #[must_use]
    pub fn token(&self, headers: &HeaderMap) -> Option<String> {
        single_cookie(headers, &self.cookie).filter(|v| !v.is_empty() && v.len() <= 128)
    }

    /// The session of a request (`None` without a cookie, or for an ended, revoked or
    /// timed-out session).
    ///
    /// # Errors
    /// [`ApiError`] when the store fails.
    pub async fn of(&self, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
        let Some(token) = self.token(headers) else { return Ok(None) };
        match self.source.session(&token, (self.clock)()).await {
            Ok(s) => Ok(Some(s)),
            Err(LoginError::NotSignedIn) => Ok(None),
            Err(e) => Err(ApiError::from(e)),
        }
    }

    fn is_fresh(&self, session: &Session) -> bool {
        self.source.is_fresh(session, (self.clock)())
    }
}

/// The value of cookie `name` in `headers`. A name sent twice — a cookie planted beside ours
/// by a sibling site, with another `Path` or `Domain` — counts as absent: which one the
/// browser meant cannot be known.
#[must_use]
pub fn single_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == name)
        .map(|c| c.value().to_owned());
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

fn sessions(parts: &Parts) -> Result<Sessions, ApiError> {
    parts.extensions.get::<Sessions>().cloned().ok_or_else(ApiError::misconfigured)
}

/// The request's session, acting from the request's client when its address is known (the
/// audit log then names who acted, not who signed in).
async fn current<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<Option<Session>, ApiError> {
    let Some(session) = sessions(parts)?.of(&parts.headers).await? else { return Ok(None) };
    let Ok(crate::ClientAddr(ip)) = crate::ClientAddr::from_request_parts(parts, state).await
    else {
        return Ok(Some(session));
    };
    Ok(Some(session.acting_from(&crate::client::client_info(ip, &parts.headers))))
}

/// The request's session, if any: never refuses.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<Session>);

/// A signed-in session (not one that may only enroll). Refuses with 401 `err_login_required`
/// without one, and 403 `err_enroll_first` for an enrollment-only session.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Session);

/// A signed-in session whose second factor is fresh, for sensitive actions. Refuses as
/// [`SignedIn`] does, and with 403 `err_step_up` (the documented step-up challenge: start one
/// with `Auth::begin_step_up`) when the factor is stale.
#[derive(Debug, Clone)]
pub struct Fresh(pub Session);

/// Any session, enrollment-only ones included: for the pages that enroll a factor.
#[derive(Debug, Clone)]
pub struct Enrolling(pub Session);

/// A state-changing request whose `X-CSRF-Token` header matches its session cookie. Refuses
/// with 403 `err_csrf`.
#[derive(Debug, Clone, Copy)]
pub struct CsrfChecked;

impl<S: Send + Sync> FromRequestParts<S> for MaybeSession {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Self(current(parts, state).await?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Enrolling {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let s = current(parts, state).await?;
        s.map(Self).ok_or_else(|| ApiError::from(LoginError::NotSignedIn))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Enrolling(s) = Enrolling::from_request_parts(parts, state).await?;
        if s.enrollment_only {
            return Err(ApiError::enroll_first());
        }
        Ok(Self(s))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Fresh {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let SignedIn(s) = SignedIn::from_request_parts(parts, state).await?;
        if !sessions(parts)?.is_fresh(&s) {
            return Err(ApiError::from(LoginError::StepUpRequired));
        }
        Ok(Self(s))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfChecked {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let token = sessions(parts)?.token(&parts.headers).unwrap_or_default();
        if crate::verify_csrf(&parts.headers, &token) { Ok(Self) } else { Err(ApiError::csrf()) }
    }
}
