//! The session extractors and the API router through `tower::ServiceExt::oneshot`, with the
//! real `Auth` on the memory store: sign-in sets the cookie, the extractors hand handlers the
//! session (or refuse in the JSON shape), stale sessions meet the step-up answer, CSRF guards
//! sign-out, and malformed, mistyped, oversized and misrouted requests answer in JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http_body_util::BodyExt as _;
use mfa_axum::{CsrfChecked, Enrolling, Fresh, Hardening, SessionSource, Sessions, SignedIn};
use mfa_email_identity::ChangeMode;
use mfa_flow::{AuthConfig, ClientInfo, LoginStep};
use mfa_testkit::{TestAuth, TotpApp, sign_up_confirmed, test_auth};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const PW: &str = "correct horse battery staple";

fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(11 * 60)
}

/// An app with a protected page, a step-up-protected action and an enrollment page.
fn app(auth: &Arc<TestAuth>, clock: fn() -> SystemTime) -> Router {
    let source: Arc<dyn SessionSource> = auth.clone();
    let sessions = Sessions::new(source, false).with_clock(clock);
    let r = Router::new()
        .route("/me", get(|SignedIn(s): SignedIn| async move { format!("{:?}", s.assurance) }))
        .route("/actor", get(|SignedIn(s): SignedIn| async move { s.actor().ip.clone() }))
        .route("/danger", post(|_: CsrfChecked, Fresh(_): Fresh| async { "done" }))
        .route(
            "/enroll",
            get(|Enrolling(s): Enrolling| async move { s.enrollment_only.to_string() }),
        )
        .nest("/auth", mfa_axum::api(Arc::clone(auth), sessions.clone()))
        .layer(Extension(sessions));
    mfa_axum::harden(r, &Hardening { body_limit: 4096, ..Hardening::default() })
        .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 1], 4000))))
}

struct Client {
    app: Router,
    cookies: Vec<String>,
}

impl Client {
    async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> (StatusCode, Value) {
        let req = if self.cookies.is_empty() {
            req
        } else {
            req.header(header::COOKIE, self.cookies.join("; "))
        };
        let res = self.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        for c in res.headers().get_all(header::SET_COOKIE) {
            let pair = c.to_str().unwrap().split(';').next().unwrap().to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            self.cookies.retain(|x| !x.starts_with(&format!("{name}=")));
            if !pair.ends_with('=') {
                self.cookies.push(pair);
            }
        }
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, v)
    }

    async fn post(&mut self, path: &str, body: Value) -> (StatusCode, Value) {
        let req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        self.send(req, Body::from(body.to_string())).await
    }

    async fn get(&mut self, path: &str) -> (StatusCode, Value) {
        self.send(Request::get(path), Body::empty()).await
    }
}

/// An account with an authenticator app, made through `Auth` itself.
async fn account(auth: &TestAuth, email: &str) -> TotpApp {
    let now = SystemTime::now();
    sign_up_confirmed(auth, email, PW, &ClientInfo::default(), now).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        auth.login(email, PW, &ClientInfo::default(), now).await.unwrap()
    else {
        panic!()
    };
    let en = auth.begin_totp(&session, now).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    auth.confirm_totp(&session, &en.flow, &app.code(now), "Phone", now).await.unwrap();
    app
}

async fn signed_in(auth: &Arc<TestAuth>, email: &str) -> (Client, TotpApp) {
    let app = account(auth, email).await;
    let mut c = Client { app: app_router(auth), cookies: Vec::new() };
    let (status, r) = c.post("/auth/login", json!({"identifier": email, "password": PW})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let flow = r["challenge"]["flow"].as_str().unwrap().to_owned();
    let code = app.code(SystemTime::now() + Duration::from_secs(30));
    let (status, r) = c.post("/auth/login/code", json!({"flow": flow, "code": code})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["assurance"], "Aal2");
    (c, app)
}

fn app_router(auth: &Arc<TestAuth>) -> Router {
    app(auth, SystemTime::now)
}

fn env() -> Arc<TestAuth> {
    Arc::new(test_auth(AuthConfig::new("Embed"), ChangeMode::Immediate, 3).auth)
}

#[tokio::test]
async fn sign_in_sets_the_cookie_and_the_extractors_see_the_session() {
    let auth = env();
    let mut anon = Client { app: app_router(&auth), cookies: Vec::new() };
    let (status, r) = anon.get("/me").await;
    assert_eq!(
        (status, r["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("err_login_required"))
    );
    let (c, _) = signed_in(&auth, "a@example.com").await;
    let mut c = c;
    assert!(c.cookies.iter().any(|x| x.starts_with("session=")), "{:?}", c.cookies);
    assert!(c.cookies.iter().any(|x| x.starts_with("known_device=")));
    let (status, me) = c.get("/me").await;
    assert_eq!((status, me), (StatusCode::OK, Value::String("Aal2".into())));
    // The session acts from the request's address (the audit log's "who").
    assert_eq!(c.get("/actor").await.1, Value::String("192.0.2.1".into()));
    let (status, s) = c.get("/auth/session").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["signed_in"], true);
    let csrf = s["csrf"].as_str().unwrap().to_owned();
    // The sensitive action: CSRF and a fresh factor.
    let (status, r) = c.send(Request::post("/danger"), Body::empty()).await;
    assert_eq!((status, r["error"].as_str()), (StatusCode::FORBIDDEN, Some("err_csrf")));
    let (status, r) =
        c.send(Request::post("/danger").header("x-csrf-token", &csrf), Body::empty()).await;
    assert_eq!((status, r), (StatusCode::OK, Value::String("done".into())));
    // Eleven minutes on, the same session is signed in but stale: the step-up answer.
    let mut stale = Client { app: app(&auth, later), cookies: c.cookies.clone() };
    assert_eq!(stale.get("/me").await.0, StatusCode::OK);
    let (status, r) =
        stale.send(Request::post("/danger").header("x-csrf-token", &csrf), Body::empty()).await;
    assert_eq!((status, r["error"].as_str()), (StatusCode::FORBIDDEN, Some("err_step_up")));
    // Sign-out needs the CSRF header; then the cookie is gone and the session ended.
    let saved = c.cookies.clone();
    let (status, r) = c.post("/auth/logout", json!({})).await;
    assert_eq!((status, r["error"].as_str()), (StatusCode::FORBIDDEN, Some("err_csrf")));
    let req = Request::post("/auth/logout").header("x-csrf-token", &csrf);
    let (status, _) = c.send(req, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!c.cookies.iter().any(|x| x.starts_with("session=")));
    let mut replay = Client { app: app_router(&auth), cookies: saved };
    assert_eq!(replay.get("/me").await.0, StatusCode::UNAUTHORIZED, "the old cookie is dead");
}

#[tokio::test]
async fn an_enrollment_only_session_may_enroll_and_nothing_else() {
    let auth = env();
    sign_up_confirmed(&auth, "new@example.com", PW, &ClientInfo::default(), SystemTime::now())
        .await
        .unwrap();
    let mut c = Client { app: app_router(&auth), cookies: Vec::new() };
    let (status, r) =
        c.post("/auth/login", json!({"identifier": "new@example.com", "password": PW})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["must_enroll"], true, "{r}");
    assert_eq!(c.get("/enroll").await, (StatusCode::OK, Value::Bool(true)));
    let (status, r) = c.get("/me").await;
    assert_eq!((status, r["error"].as_str()), (StatusCode::FORBIDDEN, Some("err_enroll_first")));
}

#[tokio::test]
async fn refusals_come_in_the_json_shape() {
    let auth = env();
    account(&auth, "b@example.com").await;
    let mut c = Client { app: app_router(&auth), cookies: Vec::new() };
    // Wrong password.
    let (status, r) = c
        .post("/auth/login", json!({"identifier": "b@example.com", "password": "nope nope nope"}))
        .await;
    assert_eq!(
        (status, r["ok"].as_bool(), r["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some(false), Some("err_credentials"))
    );
    // Not JSON; a field missing; not declared as JSON; too large; no such route.
    let req = Request::post("/auth/login").header(header::CONTENT_TYPE, "application/json");
    let (status, r) = c.send(req, Body::from("{not json")).await;
    assert_eq!((status, r["error"].as_str()), (StatusCode::BAD_REQUEST, Some("err_invalid")));
    assert!(!r["message"].as_str().unwrap().contains("line"), "no parser internals: {r}");
    let (status, r) = c.post("/auth/login", json!({"identifier": "b@example.com"})).await;
    assert_eq!((status, r["error"].as_str()), (StatusCode::BAD_REQUEST, Some("err_invalid")));
    let req = Request::post("/auth/login").header(header::CONTENT_TYPE, "text/plain");
    let (status, r) = c.send(req, Body::from("{}")).await;
    assert_eq!(
        (status, r["error"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("err_content_type"))
    );
    let big = json!({"identifier": "x".repeat(8000), "password": "y"});
    let (status, _) = c.post("/auth/login", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, r) = c.get("/auth/nothing-here").await;
    assert_eq!((status, r["error"].as_str()), (StatusCode::NOT_FOUND, Some("err_not_found")));
    // A wrong code.
    let (_, r) =
        c.post("/auth/login", json!({"identifier": "b@example.com", "password": PW})).await;
    let flow = r["challenge"]["flow"].as_str().unwrap().to_owned();
    let (status, r) = c.post("/auth/login/code", json!({"flow": flow, "code": "000000"})).await;
    assert_eq!((status, r["error"].as_str()), (StatusCode::BAD_REQUEST, Some("err_code")));
}

#[tokio::test]
async fn without_the_sessions_extension_the_extractors_answer_500_in_json() {
    let r = Router::new().route("/me", get(|SignedIn(_): SignedIn| async { "x" }));
    let res = r.oneshot(Request::get("/me").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let v: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["error"], "err_internal");
}

/// The OpenAPI description and the router come from one table; this checks it from the
/// outside: every documented route is served (neither 404 nor 405), with the method it is
/// documented with, and a route that is not documented is not served.
#[tokio::test]
async fn every_documented_route_is_served_and_only_those() {
    let auth = env();
    let doc = serde_json::to_value(mfa_axum::openapi("/auth")).unwrap();
    assert_eq!(doc["servers"][0]["url"], "/auth");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 35, "{}", paths.len());
    let mut c = Client { app: app_router(&auth), cookies: Vec::new() };
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(format!("/auth{path}"))
                .header(header::CONTENT_TYPE, "application/json");
            let (status, v) = c.send(req, Body::from("{}")).await;
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {status} {v}"
            );
            let op = &item[method];
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{path}");
            // A documented body has its schema in the components.
            if let Some(r) =
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                let name = r.rsplit('/').next().unwrap();
                assert!(doc["components"]["schemas"][name].is_object(), "{path}: {name}");
            }
        }
    }
    let (status, v) = c.post("/auth/not-documented", json!({})).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("err_not_found")));
    // The login body's fields are described.
    let login = &doc["components"]["schemas"]["Login"];
    assert!(login["properties"]["identifier"].is_object(), "{login}");
}

/// An embedder translates every refusal, the extractors' and the body parser's included, by
/// the request's headers; the code and status stay.
#[tokio::test]
async fn refusals_are_translated_by_the_embedders_localizer() {
    let auth = env();
    let source: Arc<dyn SessionSource> = auth.clone();
    let sessions = Sessions::new(source, false);
    let options = mfa_axum::ApiOptions::default().localize(|h, code| {
        let ja = h
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.starts_with("ja"));
        ja.then(|| format!("日本語: {code}"))
    });
    let app = Router::new()
        .nest("/auth", mfa_axum::api_with(Arc::clone(&auth), sessions, options))
        .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 1], 4000))));
    let mut c = Client { app, cookies: Vec::new() };
    for (req, body, status, code) in [
        (Request::post("/auth/login"), "{not json", StatusCode::BAD_REQUEST, "err_invalid"),
        (Request::get("/auth/me"), "", StatusCode::UNAUTHORIZED, "err_login_required"),
        (Request::post("/auth/logout"), "", StatusCode::FORBIDDEN, "err_csrf"),
        (Request::post("/auth/nowhere"), "", StatusCode::NOT_FOUND, "err_not_found"),
    ] {
        let req = req
            .header(header::ACCEPT_LANGUAGE, "ja-JP")
            .header(header::CONTENT_TYPE, "application/json");
        let (s, v) = c.send(req, Body::from(body)).await;
        assert_eq!((s, v["error"].as_str()), (status, Some(code)), "{v}");
        assert_eq!(v["message"], format!("日本語: {code}"), "{v}");
    }
    // Without the header: English.
    let (_, v) = c.get("/auth/me").await;
    assert_eq!(v["message"], "Please log in.");
    // A password refused by the policy says why, in `detail`.
    let (s, v) =
        c.post("/auth/signup", json!({"email": "a@example.com", "password": "short"})).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("err_invalid")), "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
}

/// The login in progress lives in an HttpOnly cookie: a browser's script never handles the
/// flow id; the page reads the challenge back; the cookie goes when the sign-in is done.
#[tokio::test]
async fn the_login_in_progress_is_named_by_its_cookie() {
    let auth = env();
    let totp = account(&auth, "cookie@example.com").await;
    let mut c = Client { app: app_router(&auth), cookies: Vec::new() };
    let (status, _) = c.get("/auth/login").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no login in progress");
    let (_, r) =
        c.post("/auth/login", json!({"identifier": "cookie@example.com", "password": PW})).await;
    assert!(c.cookies.iter().any(|x| x.starts_with("login=")), "{:?}", c.cookies);
    let (status, v) = c.get("/auth/login").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["challenge"], r["challenge"]);
    let (_, s) = c.get("/auth/session").await;
    assert_eq!((s["login_pending"].as_bool(), s["signed_in"].as_bool()), (Some(true), Some(false)));
    assert!(s["csrf"].is_null(), "no CSRF token before a session: {s}");
    // A wrong code, then the right one, without naming the flow.
    let (status, v) = c.post("/auth/login/code", json!({"code": "000000"})).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("err_code")), "{v}");
    let code = totp.code(SystemTime::now() + Duration::from_secs(30));
    let (status, v) = c.post("/auth/login/code", json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["authenticated"], true);
    assert!(!c.cookies.iter().any(|x| x.starts_with("login=")), "{:?}", c.cookies);
    assert!(c.cookies.iter().any(|x| x.starts_with("known_device=")), "{:?}", c.cookies);
    let (_, s) = c.get("/auth/session").await;
    assert_eq!(s["signed_in"], true);
    // A session cookie planted twice beside the real one: neither counts.
    let real = c.cookies.iter().find(|x| x.starts_with("session=")).unwrap().clone();
    c.cookies.push("session=planted".into());
    assert_eq!(c.get("/auth/me").await.0, StatusCode::UNAUTHORIZED);
    c.cookies.retain(|x| x != "session=planted");
    assert_eq!(c.cookies.iter().find(|x| x.starts_with("session=")), Some(&real));
    assert_eq!(c.get("/auth/me").await.0, StatusCode::OK);
}

/// Sign-in attempts for an address that has an account and for one that has none answer the
/// same, status for status and byte for byte, throttling included.
#[tokio::test]
async fn known_and_unknown_addresses_answer_alike_byte_for_byte() {
    let auth = env();
    account(&auth, "real@example.com").await;
    let mut runs = Vec::new();
    for (email, ip) in [("real@example.com", [192, 0, 2, 7]), ("ghost@example.com", [192, 0, 2, 8])]
    {
        let source: Arc<dyn SessionSource> = auth.clone();
        let app = Router::new()
            .nest("/auth", mfa_axum::api(Arc::clone(&auth), Sessions::new(source, false)))
            .layer(MockConnectInfo(SocketAddr::from((ip, 4000))));
        let mut seq = Vec::new();
        for _ in 0..9 {
            let req = Request::post("/auth/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"identifier": email, "password": "wrong password!"}).to_string(),
                ))
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            let status = res.status();
            let retry =
                res.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            seq.push((status, retry, bytes));
        }
        runs.push(seq);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().any(|(s, r, _)| *s == StatusCode::TOO_MANY_REQUESTS && r.is_some()));
}

/// At capacity the answer is 503 with `Retry-After`, never a 500.
#[test]
fn overload_is_503_with_retry_after() {
    use axum::response::IntoResponse as _;
    let r = mfa_axum::ApiError::from(mfa_flow::LoginError::Overloaded { retry_after: 2 })
        .into_response();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()[header::RETRY_AFTER], "2");
}

/// A body not declared as JSON is refused even when empty: such a request is one another
/// site's page may send without asking (a CORS "simple" request).
#[tokio::test]
async fn an_undeclared_body_is_refused_even_when_empty() {
    let auth = env();
    let mut c = Client { app: app_router(&auth), cookies: Vec::new() };
    for path in ["/auth/login/code", "/auth/login/poll", "/auth/login"] {
        let (status, v) = c.send(Request::post(path), Body::empty()).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("err_content_type")),
            "{path}: {v}"
        );
    }
}
