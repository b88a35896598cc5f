//! Errors in one JSON shape: `{"ok": false, "error": "<code>", "message": "<text>"}` (and a
//! `detail` where there is one), with the status that fits and `Retry-After` when throttled.
//! Codes are stable; the message is English unless the API router translates it
//! ([`ApiOptions::localize`](crate::ApiOptions::localize)); messages never carry a secret or
//! an internal detail.

use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mfa_flow::{LinkProblem, LoginError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// The stable code (`err_…`).
    pub code: &'static str,
    /// An English message for people (front ends translate the code instead).
    pub message: &'static str,
    /// Seconds to wait, when throttled.
    pub retry_after: Option<u64>,
    /// What exactly was refused, when the code alone does not say (a password policy's
    /// reason, a retirement's reason): a short English phrase or a stable code.
    pub detail: Option<String>,
}

impl ApiError {
    const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self { status, code, message, retry_after: None, detail: None }
    }

    /// Something in the request is malformed or not acceptable.
    #[must_use]
    pub const fn invalid() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "err_invalid", "Please check what you entered.")
    }

    /// A security key's answer was refused (not "the code": there is none).
    #[must_use]
    pub const fn key_refused() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "err_key_refused",
            "This security key was not accepted. Try another key or method.",
        )
    }

    /// A kind of factor that can no longer be added, with the retirement's reason in
    /// `detail`.
    #[must_use]
    pub fn retired(reason: mfa_flow::RetirementReason) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "err_retired",
            "This method can no longer be added.",
        );
        e.detail = serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned));
        e
    }

    /// The JSON body of this error with `message`.
    #[must_use]
    pub fn body(&self, message: &str) -> serde_json::Value {
        let mut v = serde_json::json!({"ok": false, "error": self.code, "message": message});
        if let Some(d) = &self.detail {
            v["detail"] = serde_json::Value::String(d.clone());
        }
        v
    }

    /// The server lacks a layer it needs (the `Sessions` extension): a deployment error.
    #[must_use]
    pub const fn misconfigured() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "err_internal", "Something went wrong.")
    }

    /// An enrollment-only session tried something else.
    #[must_use]
    pub const fn enroll_first() -> Self {
        Self::new(StatusCode::FORBIDDEN, "err_enroll_first", "Add a second factor first.")
    }

    /// A missing or wrong CSRF token.
    #[must_use]
    pub const fn csrf() -> Self {
        Self::new(StatusCode::FORBIDDEN, "err_csrf", "This page has expired. Please reload it.")
    }

    /// A body that is not declared as JSON.
    #[must_use]
    pub const fn content_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "err_content_type",
            "Send JSON (Content-Type: application/json).",
        )
    }

    /// A body over the limit.
    #[must_use]
    pub const fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "err_too_large", "The request is too large.")
    }

    /// A request that took too long.
    #[must_use]
    pub const fn timeout() -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "err_timeout", "The request took too long.")
    }

    /// A confirmation for an address that has an account meanwhile: sign in.
    #[must_use]
    pub const fn account_exists() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "err_account_exists",
            "This address already has an account. Please sign in.",
        )
    }

    /// No route here.
    #[must_use]
    pub const fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "err_not_found", "There is nothing here.")
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        use StatusCode as S;
        let (status, code, message) = match &e {
            LoginError::InvalidCredentials => (
                S::UNAUTHORIZED,
                "err_credentials",
                "The email address or password is not correct.",
            ),
            LoginError::UsernameRefused => {
                (S::BAD_REQUEST, "err_username_refused", "Log in with your email address.")
            }
            LoginError::Throttled { retry_after } => {
                let mut a = Self::new(
                    S::TOO_MANY_REQUESTS,
                    "err_throttled",
                    "Too many attempts. Try again later.",
                );
                a.retry_after = Some(*retry_after);
                return a;
            }
            LoginError::Overloaded { retry_after } => {
                let mut a = Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "err_busy",
                    "The service is busy. Try again in a moment.",
                );
                a.retry_after = Some(*retry_after);
                return a;
            }
            LoginError::FlowExpired => {
                (S::BAD_REQUEST, "err_expired", "This has expired. Please start again.")
            }
            LoginError::WrongSecondFactor => {
                (S::BAD_REQUEST, "err_code", "The code is not correct.")
            }
            LoginError::PushDenied => {
                (S::BAD_REQUEST, "err_push_denied", "The sign-in was denied on the phone.")
            }
            LoginError::PushNumberMismatch => (
                S::BAD_REQUEST,
                "err_push_mismatch",
                "The number chosen on the phone was not the one on this page. Nothing was approved.",
            ),
            LoginError::PushReported => (
                S::BAD_REQUEST,
                "err_push_reported",
                "You reported this sign-in on your phone: it was refused and push approvals are paused. Sign in with another method, then change your password.",
            ),
            LoginError::LoginFinished => {
                (S::CONFLICT, "err_login_finished", "This sign-in has already finished.")
            }
            LoginError::MethodUnavailable => {
                (S::BAD_REQUEST, "err_method", "This method is not available.")
            }
            LoginError::Malformed => {
                (S::BAD_REQUEST, "err_invalid", "Please check what you entered.")
            }
            LoginError::Refused(reason) => {
                let mut a = Self::invalid();
                a.detail = Some(reason.chars().take(200).collect());
                return a;
            }
            LoginError::StepUpRequired => {
                (S::FORBIDDEN, "err_step_up", "Confirm with a second factor first.")
            }
            LoginError::LastFactor => {
                (S::BAD_REQUEST, "err_last_factor", "You cannot remove your last second factor.")
            }
            LoginError::AccountExists => (S::OK, "ok", "Check your mail."),
            LoginError::Link(problem) => {
                let (code, message) = match problem {
                    LinkProblem::Used => ("err_link_used", "This link has already been used."),
                    LinkProblem::Expired => ("err_link_expired", "This link has expired."),
                    LinkProblem::Superseded => {
                        ("err_link_superseded", "A later change has replaced this link.")
                    }
                    _ => ("err_link_unknown", "This link is not valid."),
                };
                (S::BAD_REQUEST, code, message)
            }
            LoginError::AccountDisabled => {
                (S::FORBIDDEN, "err_account_disabled", "This account is disabled.")
            }
            LoginError::AddressUnconfirmed => (
                S::FORBIDDEN,
                "err_address_unconfirmed",
                "We sent a link to confirm your email address. Open it, then sign in again.",
            ),
            LoginError::RecoveryNeedsSupport => (
                S::FORBIDDEN,
                "err_recovery_support",
                "This account cannot be recovered by email alone. Please contact support.",
            ),
            LoginError::NotSignedIn => (S::UNAUTHORIZED, "err_login_required", "Please log in."),
            LoginError::ProofRequired => (
                S::FORBIDDEN,
                "err_proof_required",
                "Confirm your email address or use a recovery code first.",
            ),
            _ => {
                tracing::error!(error = %e, "request failed");
                (S::INTERNAL_SERVER_ERROR, "err_internal", "Something went wrong.")
            }
        };
        Self::new(status, code, message)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "err_content_type",
                "Send JSON (Content-Type: application/json).",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "err_too_large",
                "The request is too large.",
            ),
            _ => {
                Self::new(StatusCode::BAD_REQUEST, "err_invalid", "Please check what you entered.")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = axum::Json(self.body(self.message));
        let mut r = (self.status, body).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.max(1).to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        // For the translating layer of the API router.
        r.extensions_mut().insert(self);
        r
    }
}
