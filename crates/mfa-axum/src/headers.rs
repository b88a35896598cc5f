//! Security headers on every answer and a limit on request bodies, as tower-http layers.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// What [`harden`] adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    /// The Content-Security-Policy (default: same-origin scripts, styles and forms only, no
    /// framing, no inline script).
    pub content_security_policy: String,
    /// Send `Strict-Transport-Security` (set it when the public URL is https).
    pub hsts: bool,
    /// The largest request body accepted, in bytes (default 64 KiB; WebAuthn responses are
    /// 1–4 KiB). A larger one is refused with 413 before it is read.
    pub body_limit: usize,
    /// The longest a request may take before it is answered 408 (default 30 s: long polls
    /// must stay below it).
    pub timeout: std::time::Duration,
}

impl Default for Hardening {
    fn default() -> Self {
        Self {
            content_security_policy: "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                                      script-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                                      form-action 'self'"
                .to_owned(),
            hsts: false,
            body_limit: 64 * 1024,
            timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// `router` with the security headers on every answer (unless a handler set them), the body
/// limit and the time limit on every request.
pub fn harden<S: Clone + Send + Sync + 'static>(router: Router<S>, h: &Hardening) -> Router<S> {
    let csp = HeaderValue::from_str(&h.content_security_policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    // Innermost the limits, then their answers in the JSON shape, outermost the headers: so
    // a 413 or a 408 carries the headers too.
    let mut router = router
        .layer(RequestBodyLimitLayer::new(h.body_limit))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, h.timeout))
        .layer(axum::middleware::map_response(limits_in_json))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, csp));
    for (name, value) in fixed {
        router = router
            .layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    if h.hsts {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    router
}

/// The body and time limits answer in the JSON shape of [`crate::ApiError`], not with a bare
/// status.
async fn limits_in_json(r: axum::response::Response) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse as _;
    let json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE if !json => crate::ApiError::too_large().into_response(),
        StatusCode::REQUEST_TIMEOUT if !json => crate::ApiError::timeout().into_response(),
        _ => r,
    }
}

/// `router` with a `tracing` span per request: the method and the path, never the query
/// (links carry tokens there), no header, no body; the status and the time taken when the
/// answer leaves.
pub fn traced<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            })
            .on_response(DefaultOnResponse::new().level(Level::INFO))
            // A 5xx the server chose (503 at capacity) is a warning; an internal fault is
            // logged at error level where it happens, with what failed.
            .on_failure(DefaultOnFailure::new().level(Level::WARN)),
    )
}
