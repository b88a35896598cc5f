//! The HTTP layer an axum server puts around `mfa-flow`, as a library with its own tests, so
//! an embedder does not copy it out of an example:
//!
//! - [`api`]: the whole JSON API as a router to nest (sign-up, sign-in with every second
//!   factor, step-up, enrollment, settings, email change, sessions, the phone's endpoints),
//!   and [`openapi()`], its OpenAPI description, built from the same route table;
//! - the session extractors for the embedder's own handlers: [`SignedIn`], [`Fresh`] (a
//!   recent second factor, else the step-up answer), [`Enrolling`], [`CsrfChecked`];
//! - the client's address ([`ClientAddr`]: the socket, and `X-Forwarded-For` only through
//!   proxies the operator trusts), CSRF tokens bound to the session cookie, and the security
//!   headers, body and time limits and tracing spans every answer needs ([`harden`],
//!   [`traced`]).
//!
//! ```
//! use std::net::SocketAddr;
//! use axum::{Router, routing::get};
//! use mfa_axum::{ClientAddr, TrustedProxies};
//!
//! // Behind one load balancer at 10.0.0.5: its X-Forwarded-For hop is believed, no other.
//! let proxies = TrustedProxies::parse("10.0.0.5/32")?;
//! let app: Router = Router::new()
//!     .route("/whoami", get(|ClientAddr(ip): ClientAddr| async move { ip.to_string() }))
//!     .layer(axum::Extension(proxies));
//! let app = mfa_axum::harden(app, &mfa_axum::Hardening::default());
//! // Serve with `app.into_make_service_with_connect_info::<SocketAddr>()`.
//! # let _ = app.into_make_service_with_connect_info::<SocketAddr>();
//! # Ok::<(), mfa_axum::ProxyError>(())
//! ```

#![forbid(unsafe_code)]

mod api;
mod client;
mod csrf;
mod error;
mod headers;
mod openapi;
mod session;

pub use api::{ApiJson, ApiOptions, Localizer, api, api_with, localized};
pub use client::{
    ClientAddr, ClientAddrRejection, ProxyError, TrustedProxies, browser_label, throttle_key,
};
pub use csrf::{CSRF_HEADER, csrf_token, verify_csrf};
pub use error::ApiError;
pub use headers::{Hardening, harden, traced};
pub use openapi::openapi;
pub use session::{
    BoxFuture, CsrfChecked, Enrolling, Fresh, MaybeSession, SessionSource, Sessions, SignedIn,
    single_cookie,
};
