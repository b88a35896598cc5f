//! An existing axum app that adds `mfa-axum`: its own pages stay as they were; a signed-in
//! page takes [`SignedIn`], a sensitive action takes [`Fresh`] and [`CsrfChecked`], and the
//! sign-in API is nested under `/auth`.
#![forbid(unsafe_code)]

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Router};
use mfa_axum::{CsrfChecked, Fresh, Hardening, Sessions, SignedIn};
use mfa_flow::{Auth, Mailer, PushSender, Store};

/// The app: `/` for everyone, `/account` when signed in, `POST /account/export` with a fresh
/// second factor, and `/auth/…` from `mfa-axum`. `secure`: served over https.
pub fn app<S, M, P>(auth: Arc<Auth<S, M, P>>, secure: bool) -> Router
where
    S: Store + 'static,
    M: Mailer + 'static,
    P: PushSender + 'static,
{
    let sessions = Sessions::new(auth.clone(), secure);
    let app = Router::new()
        .route("/", get(|| async { "Hello. Sign in with POST /auth/login." }))
        .route("/account", get(account))
        .route("/account/export", post(export))
        .nest("/auth", mfa_axum::api(auth, sessions.clone()))
        .layer(Extension(sessions));
    mfa_axum::harden(app, &Hardening { hsts: secure, ..Hardening::default() })
}

async fn account(SignedIn(s): SignedIn) -> String {
    format!("Your account {} (signed in at {:?}).", s.account, s.assurance)
}

/// A stale session gets 403 `err_step_up`: the front end runs a step-up and retries.
async fn export(_: CsrfChecked, Fresh(s): Fresh) -> String {
    format!("Here is everything about account {}.", s.account)
}
