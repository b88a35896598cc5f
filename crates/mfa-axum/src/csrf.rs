//! CSRF tokens bound to the session cookie: the token is a hash of the cookie's value, which
//! a page of another site can neither read nor guess, so it needs no storage and changes
//! whenever the cookie does (at sign-in and sign-out). State-changing requests send it back
//! in a header; a form another site posts cannot set headers.

use axum::http::HeaderMap;
use mfa_email_identity::TokenHash;

/// The request header that carries the token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token for the session cookie `cookie_token` (for the page to send back).
#[must_use]
pub fn csrf_token(cookie_token: &str) -> String {
    TokenHash::of(&format!("mfa-csrf\u{0}{cookie_token}")).to_base64url()
}

/// Whether `headers` carry the CSRF token of `cookie_token`. The comparison is of hashes of
/// both sides, so its time says nothing about the token.
#[must_use]
pub fn verify_csrf(headers: &HeaderMap, cookie_token: &str) -> bool {
    let Some(sent) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    !sent.is_empty()
        && !cookie_token.is_empty()
        && TokenHash::of(sent) == TokenHash::of(&csrf_token(cookie_token))
}
