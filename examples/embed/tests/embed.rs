//! The embedded app through `oneshot`: a visitor sees the public page and is refused the
//! account; after a sign-in through `/auth` the account page answers, and the export needs
//! the CSRF header (a fresh factor it has, just signed in).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use mfa_email_identity::ChangeMode;
use mfa_flow::{AuthConfig, ClientInfo, LoginStep};
use mfa_testkit::{TotpApp, sign_up_confirmed, test_auth};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const PW: &str = "correct horse battery staple";

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Vec<String>, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, cookies, String::from_utf8_lossy(&body).into_owned())
}

fn json_post(path: &str, body: &Value, cookies: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, cookies)
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn the_embedded_app_protects_its_pages() {
    let auth = Arc::new(test_auth(AuthConfig::new("Embed"), ChangeMode::Immediate, 4).auth);
    // An account with an authenticator app.
    let now = SystemTime::now();
    sign_up_confirmed(&auth, "e@example.com", PW, &ClientInfo::default(), now).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        auth.login("e@example.com", PW, &ClientInfo::default(), now).await.unwrap()
    else {
        panic!()
    };
    let en = auth.begin_totp(&session, now).await.unwrap();
    let totp = TotpApp::scan(&en.uri).unwrap();
    auth.confirm_totp(&session, &en.flow, &totp.code(now), "Phone", now).await.unwrap();

    let app = embed::app(auth, false).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    let get = |path: &str, cookies: &str| {
        Request::get(path).header(header::COOKIE, cookies).body(Body::empty()).unwrap()
    };
    assert_eq!(call(&app, get("/", "")).await.0, StatusCode::OK);
    assert_eq!(call(&app, get("/account", "")).await.0, StatusCode::UNAUTHORIZED);

    let login = json!({"identifier": "e@example.com", "password": PW});
    let (_, _, body) = call(&app, json_post("/auth/login", &login, "")).await;
    let flow = serde_json::from_str::<Value>(&body).unwrap()["challenge"]["flow"].clone();
    let code = totp.code(now + Duration::from_secs(30));
    let (status, cookies, _) =
        call(&app, json_post("/auth/login/code", &json!({"flow": flow, "code": code}), "")).await;
    assert_eq!(status, StatusCode::OK);
    let cookies = cookies.join("; ");
    let (status, _, body) = call(&app, get("/account", &cookies)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Aal2"), "{body}");

    let export = |csrf: Option<&str>| {
        let mut r = Request::post("/account/export").header(header::COOKIE, &cookies);
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.body(Body::empty()).unwrap()
    };
    assert_eq!(call(&app, export(None)).await.0, StatusCode::FORBIDDEN);
    let (_, _, s) = call(&app, get("/auth/session", &cookies)).await;
    let csrf = serde_json::from_str::<Value>(&s).unwrap()["csrf"].as_str().unwrap().to_owned();
    let (status, _, body) = call(&app, export(Some(&csrf))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
