//! The whole journey through the JSON API, in process, on a fresh SQLite file: sign up →
//! login forced to enroll → TOTP enrolled → logout → login with TOTP → the same code again
//! refused → push device enrolled and approved with the right number, a wrong number refused
//! → email changed (both notices in the outbox, the old address no longer logs in, the new
//! one does) → SMS enrollment refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use mfa_credentials::HashParams;
use mfa_push::device::{DeviceKey, EnrolledDevice, registration_request};
use mfa_testkit::TotpApp;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const PW: &str = "correct horse battery staple";

struct Browser {
    app: axum::Router,
    cookies: Vec<String>,
    csrf: String,
    /// Extra headers sent with every request.
    extra: Vec<(String, String)>,
}

impl Browser {
    async fn new(app: axum::Router) -> Self {
        let mut b = Self { app, cookies: Vec::new(), csrf: String::new(), extra: Vec::new() };
        let (_, body) = b.call("GET", "/api/session", None).await;
        b.csrf = body["csrf"].as_str().unwrap_or_default().to_owned();
        b
    }

    /// A request; when the answer replaced the session cookie (a login, a logout), the page's
    /// CSRF token is read anew, as a browser loading the next page would.
    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let before = self.session_cookie();
        let out = self.call_once(method, path, body).await;
        if self.session_cookie() != before && path != "/api/session" {
            let (_, s) = self.call_once("GET", "/api/session", None).await;
            self.csrf = s["csrf"].as_str().unwrap_or_default().to_owned();
        }
        out
    }

    fn session_cookie(&self) -> Option<String> {
        self.cookies
            .iter()
            .find(|c| c.starts_with("session=") || c.starts_with("__Host-session="))
            .cloned()
    }

    async fn call_once(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req =
            Request::builder().method(method).uri(path).header("x-csrf-token", &self.csrf);
        for (k, v) in &self.extra {
            req = req.header(k.as_str(), v.as_str());
        }
        if !self.cookies.is_empty() {
            req = req.header(header::COOKIE, self.cookies.join("; "));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let res = self.app.clone().oneshot(req).await.unwrap();
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
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn post(&mut self, path: &str, body: Value) -> Value {
        self.call("POST", path, Some(body)).await.1
    }

    /// A page's HTML.
    async fn page(&mut self, path: &str) -> String {
        let mut req = Request::builder().uri(path);
        if !self.cookies.is_empty() {
            req = req.header(header::COOKIE, self.cookies.join("; "));
        }
        let res = self.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// A device endpoint: raw JSON, no cookies.
    async fn device(&self, path: &str, body: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }
}

/// The portal's router as a server runs it: with the connection's peer address.
fn router(app: Arc<portal::web::App>) -> axum::Router {
    use axum::extract::connect_info::MockConnectInfo;
    portal::web::router(app)
        .layer(MockConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 10], 50_000))))
}

/// A portal on a fresh data directory with `args` (test hashing parameters).
async fn portal_with(args: &[&str]) -> (Arc<portal::web::App>, std::path::PathBuf) {
    let dir = temp_dir();
    let mut all = vec!["--data-dir".to_owned(), dir.display().to_string()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let config = portal::Config::from_args(&all).unwrap();
    (portal::build(&config, HashParams::DANGER_TEST_MINIMUM).await.unwrap(), dir)
}

fn temp_dir() -> std::path::PathBuf {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("portal-journey-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn outbox(dir: &std::path::Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("outbox"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

/// The kinds of the mails in the outbox (`…-<kind>.eml`), oldest first.
fn mailed_kinds(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("outbox"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|n| n.strip_suffix(".eml")?.splitn(3, '-').nth(2).map(str::to_owned))
        .collect()
}

/// The last mail in the outbox, its quoted-printable soft line breaks joined.
fn last_mail(dir: &std::path::Path) -> String {
    outbox(dir).pop().expect("a mail").replace("=\r\n", "").replace("=\n", "")
}

/// Signs up as a person would: the form, then the code from the mail typed in the page.
async fn sign_up(b: &mut Browser, dir: &std::path::Path, email: &str) -> Value {
    let r = b.post("/api/signup", json!({"email": email, "password": PW})).await;
    assert_eq!(r["ok"], true, "{r}");
    let code = mailed_code(&last_mail(dir));
    b.post("/api/signup/confirm", json!({"flow": r["flow"], "code": code})).await
}

/// The code of a mail (its HTML part shows it in bold).
fn mailed_code(mail: &str) -> String {
    let at = mail.find("<strong>").expect("a code in the mail") + "<strong>".len();
    mail[at..].chars().take_while(char::is_ascii_digit).collect()
}

/// The token of a mail's `#token=` link (in its quoted-printable HTML part).
fn mailed_token(mail: &str) -> String {
    token_after(mail, &["#token=3D"])
}

/// The token that follows the first of `markers` found in a mail.
fn token_after(mail: &str, markers: &[&str]) -> String {
    let at = markers
        .iter()
        .find_map(|m| mail.find(m).map(|i| i + m.len()))
        .unwrap_or_else(|| panic!("a link after one of {markers:?} in the mail"));
    mail[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// Adds an authenticator app named `name` for the signed-in (or enrolling) browser `b`,
/// with its first code: the app, the time of that code, and the server's answer.
async fn enroll_app(b: &mut Browser, name: &str) -> (TotpApp, SystemTime, Value) {
    let en = b.post("/api/mfa/totp/begin", json!({})).await;
    let totp = TotpApp::scan(en["uri"].as_str().unwrap()).unwrap();
    let t0 = SystemTime::now();
    let r = b
        .post(
            "/api/mfa/totp/confirm",
            json!({"flow": en["flow"], "code": totp.code(t0), "name": name}),
        )
        .await;
    (totp, t0, r)
}

/// The phone approves the last push with `number`: fetch, verify, answer; the server's reply.
async fn phone_answers(
    b: &Browser,
    phone: &EnrolledDevice,
    hub: &portal::push_hub::PushHub,
    token: &str,
    number: u8,
) -> (StatusCode, String) {
    phone_decides(b, phone, hub, token, mfa_push::Decision::Approve, number).await
}

/// The phone answers the last push with `decision` (and `number`).
async fn phone_decides(
    b: &Browser,
    phone: &EnrolledDevice,
    hub: &portal::push_hub::PushHub,
    token: &str,
    decision: mfa_push::Decision,
    number: u8,
) -> (StatusCode, String) {
    let sys = ring::rand::SystemRandom::new();
    let hints = hub.poll(token, Duration::from_secs(2)).await;
    let hint = hints.last().expect("a push hint");
    let fetch = phone.fetch_request(&hint.challenge_id, SystemTime::now(), &sys).unwrap();
    let (status, msg) = b.device("/api/push/fetch", &fetch).await;
    assert_eq!(status, StatusCode::OK, "{msg}");
    let verified = phone.verify_challenge(&msg, SystemTime::now(), 30).unwrap();
    assert_eq!(verified.context().application, "Example Portal");
    let answer = phone.answer(&verified, decision, number, &sys).unwrap();
    b.device("/api/push/respond", &answer).await
}

/// Enrolls a phone for the signed-in browser `b` (its second factor fresh), with push token
/// `token`, approving the activation with the enrollment page's number.
async fn enroll_phone(
    b: &mut Browser,
    hub: &portal::push_hub::PushHub,
    token: &str,
) -> EnrolledDevice {
    let sys = ring::rand::SystemRandom::new();
    let begin = b.post("/api/mfa/push/begin", json!({})).await;
    let offer = mfa_push::EnrollmentOffer::parse(begin["uri"].as_str().unwrap()).unwrap();
    let key = DeviceKey::generate(mfa_push::KeyAlgorithm::P256, &sys).unwrap();
    let request =
        registration_request(&offer, &key, "iPhone", token, SystemTime::now(), &sys).unwrap();
    let (status, response) = b.device("/api/push/register", &request).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    let phone = EnrolledDevice::new(&offer, key, &response).unwrap();
    let s = b.post("/api/mfa/push/status", json!({"flow": begin["flow"]})).await;
    assert_eq!(s["status"], "confirm", "{s}");
    let number = u8::try_from(s["number"].as_u64().unwrap()).unwrap();
    let (status, reply) = phone_answers(b, &phone, hub, token, number).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let s = b.post("/api/mfa/push/status", json!({"flow": begin["flow"]})).await;
    assert_eq!(s["ok"], true, "{s}");
    assert_eq!(s["factor"]["kind"], "push");
    phone
}

/// The push challenge of the sign-in `r` answered (the one shown, or push selected).
async fn push_challenge(b: &mut Browser, r: &Value) -> Value {
    if r["challenge"]["method"]["kind"] == "push" {
        return r["challenge"].clone();
    }
    let id = r["challenge"]["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "push")
        .expect("push offered")["factor"]
        .clone();
    b.post("/api/login/select", json!({"factor": id})).await["challenge"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey() {
    let dir = temp_dir();
    let mut config = portal::Config::from_args(&[
        "--data-dir".into(),
        dir.display().to_string(),
        "--email-change".into(),
        "immediate".into(),
    ])
    .unwrap();
    config.username_warn_from = None;
    let app = portal::build(&config, HashParams::DANGER_TEST_MINIMUM).await.unwrap();
    let hub = app.hub.clone();
    let router = router(Arc::clone(&app));
    let mut b = Browser::new(router.clone()).await;

    // Sign up; the first login must enroll.
    assert_eq!(sign_up(&mut b, &dir, "ryu@example.com").await["ok"], true);
    let r = b.post("/api/login", json!({"identifier": "ryu@example.com", "password": PW})).await;
    assert_eq!(r["must_enroll"], true, "{r}");
    // A CSRF-less request is refused.
    let saved = std::mem::take(&mut b.csrf);
    assert_eq!(
        b.call("POST", "/api/mfa/totp/begin", Some(json!({}))).await.0,
        StatusCode::FORBIDDEN
    );
    b.csrf = saved;

    // TOTP enrolled with the first code; recovery codes issued.
    let (totp, t0, r) = enroll_app(&mut b, "Phone").await;
    assert_eq!(r["recovery_codes"].as_array().map(Vec::len), Some(10), "{r}");
    let recovery_codes: Vec<String> = r["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();

    // Log out; log in with TOTP (the next step's code: this one was used at enrollment).
    b.post("/api/logout", json!({})).await;
    let r = b.post("/api/login", json!({"identifier": "ryu@example.com", "password": PW})).await;
    assert!(r["challenge"].is_object(), "{r}");
    assert_eq!(r["challenge"]["method"]["kind"], "totp");
    assert_eq!(r["challenge"]["prompt"], json!({"kind": "totp_code"}), "a tagged object");
    let code = totp.code(t0 + Duration::from_secs(30));
    let r = b.post("/api/login/code", json!({"code": code})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["assurance"], "Aal2");
    // The same code again, in a new login: refused.
    let mut other = Browser::new(router.clone()).await;
    other.post("/api/login", json!({"identifier": "ryu@example.com", "password": PW})).await;
    let r = other.post("/api/login/code", json!({"code": code})).await;
    assert_eq!(r["error"], "err_code", "{r}");

    // Enroll a push device (the session's second factor is fresh).
    let phone = enroll_phone(&mut b, &hub, "token-1").await;

    // Log in with push: a wrong number is refused, the right one lets in.
    b.post("/api/logout", json!({})).await;
    let r = b.post("/api/login", json!({"identifier": "ryu@example.com", "password": PW})).await;
    let view = push_challenge(&mut b, &r).await;
    let number = u8::try_from(view["prompt"]["number"].as_u64().expect("a push prompt")).unwrap();
    let wrong = if number == 99 { 10 } else { number + 1 };
    // The phone hears that its approval approved nothing; the browser, that the numbers
    // did not match.
    let (status, reply) = phone_answers(&b, &phone, &hub, "token-1", wrong).await;
    assert_eq!(
        (status, reply.as_str()),
        (StatusCode::OK, r#"{"ok":true,"state":"number_mismatch"}"#)
    );
    let r = b.post("/api/login/poll", json!({})).await;
    assert_eq!(r["error"], "err_push_mismatch", "a wrong number is named as such: {r}");
    let r = b.post("/api/login", json!({"identifier": "ryu@example.com", "password": PW})).await;
    let view = push_challenge(&mut b, &r).await;
    let number = u8::try_from(view["prompt"]["number"].as_u64().unwrap()).unwrap();
    let (status, reply) = phone_answers(&b, &phone, &hub, "token-1", number).await;
    assert_eq!((status, reply.as_str()), (StatusCode::OK, r#"{"ok":true,"state":"approved"}"#));
    let r = b.post("/api/login/poll", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");

    // Change the email address (immediate mode): both notices, old address out, new in.
    let before = outbox(&dir).len();
    let to = "ryuko.konaka+20231201@example.com";
    let r = b.post("/api/settings/email", json!({"email": to, "current_password": "wrong"})).await;
    assert_eq!(r["error"], "err_credentials", "the current password is required: {r}");
    let r = b.post("/api/settings/email", json!({"email": to, "current_password": PW})).await;
    assert_eq!(r["ok"], true, "{r}");
    let mails = outbox(&dir);
    assert_eq!(mails.len(), before + 2, "a notice to each address");
    let new_mails = &mails[before..];
    assert!(new_mails.iter().any(|m| m.contains("To: ryu@example.com")), "the old address is told");
    assert!(
        new_mails.iter().any(|m| m.contains("To: ryuko.konaka+20231201@example.com")),
        "the new address gets its login message"
    );
    b.post("/api/logout", json!({})).await;
    let r = b.post("/api/login", json!({"identifier": "ryu@example.com", "password": PW})).await;
    assert_eq!(r["error"], "err_credentials", "{r}");
    let r = b
        .post(
            "/api/login",
            json!({"identifier": "ryuko.konaka+20231201@example.com", "password": PW}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");

    // Finish that login with a recovery code; then SMS cannot be added.
    // Push has reached its limit of three in five minutes: the login offers the next
    // method instead.
    assert_ne!(r["challenge"]["method"]["kind"], "push", "{r}");
    // It says why push is out, and until when; the page says it too.
    let paused = r["challenge"]["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "push")
        .cloned()
        .expect("push listed as unavailable");
    assert_eq!(
        (paused["reason"]["why"].as_str(), paused["reason"]["pause"].as_str()),
        (Some("push_paused"), Some("too_many_recent")),
        "{paused}"
    );
    let until = paused["reason"]["until"].as_u64().expect("until when");
    let page = b.page("/factor").await;
    assert!(page.contains("Too many pushes in a short time"), "{page}");
    assert!(page.contains(&format!("data-unix=\"{until}\"")), "{page}");
    let finished_flow = r["challenge"]["flow"].clone();
    let recovery = r["challenge"]["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "recovery_codes")
        .unwrap()["factor"]
        .clone();
    assert_eq!(b.post("/api/login/select", json!({"factor": recovery})).await["ok"], true);
    let r = b.post("/api/login/code", json!({"code": recovery_codes[0]})).await;
    assert_eq!(r["ok"], true, "{r}");
    // Another tab still polling that sign-in hears that it finished.
    let r = b.post("/api/login/poll", json!({"flow": finished_flow})).await;
    assert_eq!(r["error"], "err_login_finished", "{r}");
    let r = b.post("/api/mfa/sms", json!({})).await;
    assert_eq!(
        (r["error"].as_str(), r["detail"].as_str()),
        (Some("err_retired"), Some("specification_change")),
        "{r}"
    );
    assert!(r["message"].as_str().unwrap().contains("specification change"), "{r}");
    // The methods as JSON: each with whether it can be used, and what can be added.
    let (status, m) = b.call("GET", "/api/methods", None).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    let kinds: Vec<&str> =
        m["methods"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"totp") && kinds.contains(&"push"), "{m}");
    let sms = m["enrollable"].as_array().unwrap().iter().find(|k| k["kind"] == "sms").unwrap();
    assert_eq!(sms["available"], false);
    assert_eq!(sms["retired"], "specification_change", "{m}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A session token from before the login is not the one after it (no session fixation).
#[tokio::test]
async fn the_session_token_changes_at_login() {
    let (app, dir) = portal_with(&["--mfa-grace-days", "7"]).await;
    let mut b = Browser::new(router(app)).await;
    assert_eq!(b.session_cookie(), None, "no cookie before a sign-in");
    // A token planted in the browser before the sign-in (fixation) is not adopted.
    b.cookies.push("session=planted-by-someone".into());
    sign_up(&mut b, &dir, "fix@example.com").await;
    let r = b.post("/api/login", json!({"identifier": "fix@example.com", "password": PW})).await;
    assert_eq!(r["ok"], true, "{r}");
    let after = b.session_cookie().unwrap();
    assert_ne!(after, "session=planted-by-someone");
    let mut planted = Browser {
        app: b.app.clone(),
        cookies: vec!["session=planted-by-someone".into()],
        csrf: b.csrf.clone(),
        extra: Vec::new(),
    };
    let (status, _) = planted.call("GET", "/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = b.call("GET", "/api/me", None).await;
    assert_eq!(status, StatusCode::OK);
    // A second cookie of the same name planted beside it (another path or a sibling domain):
    // which one the browser meant cannot be known, so neither counts.
    let mut doubled = Browser {
        app: b.app.clone(),
        cookies: vec![b.session_cookie().unwrap(), "session=planted".into()],
        csrf: b.csrf.clone(),
        extra: Vec::new(),
    };
    assert_eq!(doubled.call("GET", "/api/me", None).await.0, StatusCode::UNAUTHORIZED);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sessions as the user sees them: a second browser listed, ended from the first; a password
/// change (current password required) signs out every other browser; the settings page
/// lists them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_revoked() {
    let (app, dir) = portal_with(&[]).await;
    let router = router(Arc::clone(&app));
    let mut a = Browser::new(router.clone()).await;
    sign_up(&mut a, &dir, "s@example.com").await;
    let r = a.post("/api/login", json!({"identifier": "s@example.com", "password": PW})).await;
    assert_eq!(r["must_enroll"], true, "{r}");
    assert_eq!(r["proof_required"], false, "a new account owes no proof");
    // Two authenticator apps (the enrollment may add a backup), so that two more browsers
    // can sign in within the same half minute.
    let t0 = SystemTime::now();
    let mut apps = Vec::new();
    for name in ["Phone", "Tablet"] {
        let en = a.post("/api/mfa/totp/begin", json!({})).await;
        let app = TotpApp::scan(en["uri"].as_str().unwrap()).unwrap();
        let r = a
            .post(
                "/api/mfa/totp/confirm",
                json!({"flow": en["flow"], "code": app.code(t0), "name": name}),
            )
            .await;
        assert_eq!(r["ok"], true, "{r}");
        apps.push(app);
    }
    let later = t0 + Duration::from_secs(30);
    let mut b = Browser::new(router.clone()).await;
    let r = b.post("/api/login", json!({"identifier": "s@example.com", "password": PW})).await;
    assert!(r["challenge"].is_object(), "{r}");
    // B uses whichever app is offered first; C picks the other one.
    let first = usize::from(r["challenge"]["method"]["name"] == "Tablet");
    let r = b.post("/api/login/code", json!({"code": apps[first].code(later)})).await;
    assert_eq!(r["ok"], true, "{r}");
    let other_name = ["Phone", "Tablet"][1 - first];
    let mut c = Browser::new(router.clone()).await;
    let r = c.post("/api/login", json!({"identifier": "s@example.com", "password": PW})).await;
    if r["challenge"]["method"]["name"] != other_name {
        let other = r["challenge"]["alternatives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == other_name)
            .unwrap()["factor"]
            .clone();
        assert_eq!(c.post("/api/login/select", json!({"factor": other})).await["ok"], true);
    }
    let r = c.post("/api/login/code", json!({"code": apps[1 - first].code(later)})).await;
    assert_eq!(r["ok"], true, "{r}");
    let (status, list) = b.call("GET", "/api/sessions", None).await;
    assert_eq!(status, StatusCode::OK);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{list}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    // B ends A's session (A is the enrollment browser, signed in the longest).
    let a_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].clone();
    let r = b.post("/api/sessions/end", json!({"id": a_id})).await;
    assert_eq!(r["ok"], true, "{r}");
    let malformed = b.post("/api/sessions/end", json!({"id": "../../etc"})).await;
    assert_eq!(malformed["error"], "err_invalid", "{malformed}");
    let left = b.call("GET", "/api/sessions", None).await.1;
    assert_eq!(left["sessions"].as_array().unwrap().len(), 2, "{left}");
    // B changes the password: the current one is required; C is signed out, B is not.
    let r = b
        .post(
            "/api/settings/password",
            json!({"current_password": "nope", "password": "another long passphrase"}),
        )
        .await;
    assert_eq!(r["error"], "err_credentials", "{r}");
    let r = b
        .post(
            "/api/settings/password",
            json!({"current_password": PW, "password": "another long passphrase"}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(c.call("GET", "/api/me", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(b.call("GET", "/api/me", None).await.0, StatusCode::OK);
    assert_eq!(a.call("GET", "/api/me", None).await.0, StatusCode::UNAUTHORIZED);
    // C's old session cannot write either.
    let r = c.post("/api/settings/profile", json!({"first_name": "Mallory"})).await;
    assert_eq!(r["error"], "err_login_required", "{r}");
    // The settings page lists this browser; end-all-others works.
    let page = b.page("/settings").await;
    assert!(page.contains("class=\"sessions\"") && page.contains("This browser"), "{page}");
    // The recent security activity (written by the audit log's own task: wait for it).
    let mut page = String::new();
    for _ in 0..200 {
        page = b.page("/settings").await;
        if page.contains("Password changed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(page.contains("Recent security activity"), "{page}");
    assert!(page.contains("Password changed") && page.contains("Signed in"), "{page}");
    assert!(page.contains("192.0.2.10"), "the browser's address is shown: {page}");
    let r = b.post("/api/sessions/end-others", json!({})).await;
    assert_eq!(r["ok"], true, "{r}");
    // Notices went out: factor added, new-device sign-ins, password changed.
    let kinds: Vec<String> = std::fs::read_dir(dir.join("outbox"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for kind in ["factor-added", "new-device-sign-in", "password-changed"] {
        assert!(kinds.iter().any(|k| k.ends_with(&format!("-{kind}.eml"))), "{kind}: {kinds:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pages and API calls without a cookie store nothing and set nothing (a crawler's 300
/// requests make no rows); behind https the cookies that are set are `__Host-` and
/// `Secure`, and HSTS is sent.
#[tokio::test]
async fn cookieless_requests_store_nothing_and_https_hardens_cookies() {
    let (app, dir) = portal_with(&["--public-url", "https://portal.example.com"]).await;
    let router = router(Arc::clone(&app));
    for path in [
        "/login",
        "/signup",
        "/",
        "/api/session",
        "/settings",
        "/factor",
        "/lang?to=ja&back=/login",
    ]
    .iter()
    .cycle()
    .take(300)
    {
        let req = Request::builder().uri(*path).body(Body::empty()).unwrap();
        let res = router.clone().oneshot(req).await.unwrap();
        assert!(res.status().is_success() || res.status().is_redirection(), "{path}");
        let cookies: Vec<_> = res.headers().get_all(header::SET_COOKIE).iter().collect();
        if path.starts_with("/lang") {
            let cookie = cookies[0].to_str().unwrap();
            assert!(cookie.starts_with("__Host-portal_lang=ja"), "{cookie}");
            assert!(
                cookie.contains("; Secure")
                    && cookie.contains("HttpOnly")
                    && cookie.contains("Path=/")
            );
            assert!(!cookie.contains("Domain"));
        } else {
            assert!(cookies.is_empty(), "{path}: {cookies:?}");
        }
        let hsts = res.headers().get(header::STRICT_TRANSPORT_SECURITY).unwrap();
        assert!(hsts.to_str().unwrap().starts_with("max-age="));
    }
    let mfa_store_sql::SqlStore::Sqlite(pool) = app.auth.store().clone() else { panic!() };
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM flows").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 0, "no row for a request without a cookie");
    // A sign-in behind https sets the session, login and device cookies as `__Host-`.
    let mut b = Browser::new(router.clone()).await;
    sign_up(&mut b, &dir, "tls@example.com").await;
    b.post("/api/login", json!({"identifier": "tls@example.com", "password": PW})).await;
    assert!(b.session_cookie().unwrap().starts_with("__Host-session="), "{:?}", b.cookies);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client cannot choose the address the portal sees (throttles, the sessions list, the
/// new-device notice): `X-Forwarded-For` counts only from a configured proxy.
#[tokio::test]
async fn a_spoofed_forwarded_for_header_is_ignored() {
    let (app, dir) = portal_with(&["--mfa-grace-days", "7"]).await;
    let mut b = Browser::new(router(Arc::clone(&app))).await;
    sign_up(&mut b, &dir, "ip@example.com").await;
    b.extra = vec![("x-forwarded-for".into(), "1.2.3.4".into())];
    let r = b.post("/api/login", json!({"identifier": "ip@example.com", "password": PW})).await;
    assert_eq!(r["ok"], true, "{r}");
    let sessions = b.call("GET", "/api/sessions", None).await.1;
    assert_eq!(sessions["sessions"][0]["ip"], "192.0.2.10", "{sessions}");
    // Behind a configured proxy, its hop is believed.
    let (app, dir2) =
        portal_with(&["--mfa-grace-days", "7", "--trusted-proxies", "192.0.2.0/24"]).await;
    let mut b = Browser::new(router(Arc::clone(&app))).await;
    sign_up(&mut b, &dir2, "ip@example.com").await;
    b.extra = vec![("x-forwarded-for".into(), "6.6.6.6, 203.0.113.9".into())];
    b.post("/api/login", json!({"identifier": "ip@example.com", "password": PW})).await;
    let sessions = b.call("GET", "/api/sessions", None).await.1;
    assert_eq!(sessions["sessions"][0]["ip"], "203.0.113.9", "{sessions}");
    assert!(portal::Config::from_args(&["--trusted-proxies".into(), "everyone".into()]).is_err());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}

/// Every refusal of the JSON API answers in its JSON shape, translated: a body that is not
/// JSON, one not declared as JSON, one too large, and a route that does not exist.
#[tokio::test]
async fn malformed_requests_answer_in_the_json_shape() {
    let (app, dir) = portal_with(&[]).await;
    let mut b = Browser::new(router(Arc::clone(&app))).await;
    let raw = |b: &Browser, path: &str, ctype: Option<&str>, body: String, lang: &str| {
        let mut req = Request::post(path)
            .header("x-csrf-token", &b.csrf)
            .header(header::COOKIE, b.cookies.join("; "))
            .header(header::ACCEPT_LANGUAGE, lang);
        if let Some(c) = ctype {
            req = req.header(header::CONTENT_TYPE, c);
        }
        req.body(Body::from(body)).unwrap()
    };
    let cases = [
        (
            "/api/login",
            Some("application/json"),
            "{not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "err_invalid",
        ),
        (
            "/api/login",
            Some("text/plain"),
            "{}".to_owned(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "err_content_type",
        ),
        (
            "/api/login",
            None,
            "identifier=x".to_owned(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "err_content_type",
        ),
        (
            "/api/login",
            Some("application/json"),
            format!("{{\"x\":\"{}\"}}", "y".repeat(100_000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "err_too_large",
        ),
        (
            "/api/no-such-thing",
            Some("application/json"),
            "{}".to_owned(),
            StatusCode::NOT_FOUND,
            "err_not_found",
        ),
    ];
    for (i, (path, ctype, body, status, code)) in cases.into_iter().enumerate() {
        let mut req = raw(&b, path, ctype, body, "ja");
        if i == 3 {
            // Declared too large: refused by the limit before anything reads it.
            let len = req.body().size_hint().exact().unwrap();
            req.headers_mut().insert(header::CONTENT_LENGTH, len.into());
        }
        let res = b.app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), status, "{path} {ctype:?}");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {bytes:?}"));
        assert_eq!((v["ok"].as_bool(), v["error"].as_str()), (Some(false), Some(code)), "{v}");
        assert!(!v["message"].as_str().unwrap().is_ascii(), "translated: {v}");
    }
    // An empty body is no body: the call goes through to the flows (here, a sign-out of
    // the enrollment-only session a first sign-in gives).
    sign_up(&mut b, &dir, "empty@example.com").await;
    let r = b.post("/api/login", json!({"identifier": "empty@example.com", "password": PW})).await;
    assert_eq!(r["must_enroll"], true, "{r}");
    let (status, r) = b.call("POST", "/api/logout", None).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(b.session_cookie(), None);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The language switch goes back to a page of this site only: not another host, however the
/// path is dressed (a tab that browsers drop, a backslash, a double slash).
#[tokio::test]
async fn the_language_switch_is_no_open_redirect() {
    let (app, dir) = portal_with(&[]).await;
    let r = router(app);
    for (back, want) in [
        ("/mfa", "/mfa"),
        ("/%09/evil.example/login", "/"),
        ("/%0a/evil.example", "/"),
        ("//evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("https://evil.example/", "/"),
    ] {
        let req = Request::get(format!("/lang?to=en&back={back}")).body(Body::empty()).unwrap();
        let res = r.clone().oneshot(req).await.unwrap();
        assert!(res.status().is_redirection(), "{back}");
        assert_eq!(res.headers()[header::LOCATION], want, "{back}");
        let cookies: Vec<_> = res.headers().get_all(header::SET_COOKIE).iter().collect();
        assert!(
            cookies.iter().any(|c| c.to_str().unwrap().starts_with("portal_lang=en")),
            "{back}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The API's description is served at `/api/openapi.json`, and the portal answers every route
/// it lists (none is 404 or 405): the document cannot promise what the server does not do.
#[tokio::test]
async fn the_openapi_description_matches_the_served_routes() {
    let (app, dir) = portal_with(&[]).await;
    let mut b = Browser::new(router(app)).await;
    let (status, doc) = b.call("GET", "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["servers"][0]["url"], "/api");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/login/code") && paths.contains_key("/push/respond"), "{doc}");
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let (status, v) =
                b.call(&method.to_uppercase(), &format!("/api{path}"), Some(json!({}))).await;
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} /api{path}: {status} {v}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a user typed is shown escaped by the templates, never as markup.
#[tokio::test]
async fn pages_escape_what_users_typed() {
    let (app, dir) = portal_with(&["--mfa-grace-days", "7"]).await;
    let mut b = Browser::new(router(app)).await;
    sign_up(&mut b, &dir, "esc@example.com").await;
    let r = b.post("/api/login", json!({"identifier": "esc@example.com", "password": PW})).await;
    assert_eq!(r["ok"], true, "{r}");
    let evil = "<script>alert(1)</script>\"'&";
    let r = b
        .post(
            "/api/settings/profile",
            json!({"first_name": evil, "last_name": "x", "language": "en", "time_zone": evil}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let html = b.page("/settings").await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;"),
        "{html}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The way in through a sign-in link, as the login page runs it: asked for by identifier (the
/// same answer for an address without an account), mailed, redeemed once for a known-device
/// cookie.
#[tokio::test]
async fn a_sign_in_link_is_mailed_and_redeemed_once() {
    let (app, dir) = portal_with(&["--mfa-grace-days", "7"]).await;
    let mut b = Browser::new(router(app)).await;
    sign_up(&mut b, &dir, "link@example.com").await;
    let before = outbox(&dir).len();
    let r = b.post("/api/login/link", json!({"identifier": "nobody@example.com"})).await;
    assert_eq!(r, json!({"ok": true}));
    assert_eq!(outbox(&dir).len(), before, "no mail for an address without an account");
    let r = b.post("/api/login/link", json!({"identifier": "link@example.com"})).await;
    assert_eq!(r, json!({"ok": true}));
    let token = token_after(&last_mail(&dir), &["sign-in-link=3D", "sign-in-link="]);
    assert!(token.len() >= 20, "{token}");
    assert!(!b.cookies.iter().any(|c| c.starts_with("known_device=")));
    let r = b.post("/api/login/link/redeem", json!({"token": token})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(b.cookies.iter().any(|c| c.starts_with("known_device=")), "{:?}", b.cookies);
    let r = b.post("/api/login/link/redeem", json!({"token": token})).await;
    assert_eq!(r["error"], "err_expired", "single use: {r}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A browser of an earlier sign-in keeps its known-device cookie when a sign-in link is used
/// in it (perhaps someone else's link, for their own account): a link never trades a full
/// cookie for a lesser one.
#[tokio::test]
async fn a_signed_in_browser_keeps_its_cookie_when_a_link_is_used() {
    let (app, dir) = portal_with(&["--mfa-grace-days", "7"]).await;
    let mut b = Browser::new(router(app)).await;
    sign_up(&mut b, &dir, "keep@example.com").await;
    let r = b.post("/api/login", json!({"identifier": "keep@example.com", "password": PW})).await;
    assert_eq!(r["authenticated"], true, "{r}");
    let device = b.cookies.iter().find(|c| c.starts_with("known_device=")).cloned().unwrap();
    sign_up(&mut b, &dir, "other@example.com").await;
    b.post("/api/login/link", json!({"identifier": "other@example.com"})).await;
    let token = token_after(&last_mail(&dir), &["sign-in-link=3D"]);
    let r = b.post("/api/login/link/redeem", json!({"token": token})).await;
    assert_eq!((r["ok"].as_bool(), r["kept"].as_bool()), (Some(true), Some(true)), "{r}");
    assert_eq!(b.cookies.iter().find(|c| c.starts_with("known_device=")), Some(&device));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Forgot password through the portal as a person lives it: the link from the mail, the
/// authenticator app, a new password; the old session ends, the activity list shows it. Then
/// the support path: the operator's reset, a reset by mail alone, and a sign-in that must
/// prove the mailbox before enrolling again. The sign-up link page asks for the password,
/// and an email link's page claims nothing before it is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_and_a_lost_phone_are_recovered() {
    let (app, dir) = portal_with(&[]).await;
    let router = router(Arc::clone(&app));
    let mut b = Browser::new(router.clone()).await;
    let r = sign_up(&mut b, &dir, "lost@example.com").await;
    assert_eq!(r["ok"], true, "{r}");
    let r = b.post("/api/login", json!({"identifier": "lost@example.com", "password": PW})).await;
    assert_eq!(r["must_enroll"], true, "{r}");
    let (totp, t0, r) = enroll_app(&mut b, "P").await;
    let recovery = r["recovery_codes"][0].as_str().unwrap().to_owned();
    let old_session = b.session_cookie().unwrap();

    // Another browser: "forgot password" answers alike for any address.
    let mut c = Browser::new(router.clone()).await;
    let page = c.page("/login").await;
    assert!(page.contains("/password/forgot"), "the login page links to it");
    let r = c.post("/api/password/forgot", json!({"email": "nobody@example.com"})).await;
    assert_eq!(r, json!({"ok": true}));
    let r = c.post("/api/password/forgot", json!({"email": "lost@example.com"})).await;
    assert_eq!(r, json!({"ok": true}));
    let token = mailed_token(&last_mail(&dir));
    assert!(c.page("/password/reset").await.contains("data-reset-start"));
    assert!(mailed_kinds(&dir).contains(&"password-reset-link".to_owned()));
    // The link leads to the second factor, not to a new password.
    let r = c.post("/api/password/reset/redeem", json!({"token": token})).await;
    assert_eq!(r["challenge"]["method"]["kind"], "totp", "{r}");
    let r = c.post("/api/password/reset/redeem", json!({"token": token})).await;
    assert_eq!(r["error"], "err_link_used", "{r}");
    let r =
        c.post("/api/login/code", json!({"code": totp.code(t0 + Duration::from_secs(30))})).await;
    let grant = r["reset_password"].as_str().expect("a grant after the second factor").to_owned();
    assert!(c.session_cookie().is_none(), "a reset signs no one in");
    let r = c.post("/api/password/reset", json!({"grant": grant, "password": "short"})).await;
    assert_eq!(r["error"], "err_invalid", "{r}");
    let new_pw = "a brand new long passphrase";
    let r = c.post("/api/password/reset", json!({"grant": grant, "password": new_pw})).await;
    assert_eq!(r, json!({"ok": true}));
    assert!(mailed_kinds(&dir).contains(&"password-reset".to_owned()), "the owner is told");
    // The first browser's session ended.
    assert_eq!(b.session_cookie(), Some(old_session));
    assert_eq!(b.call("GET", "/api/me", None).await.0, StatusCode::UNAUTHORIZED);
    // The new password signs in; the activity list shows the reset.
    let r =
        c.post("/api/login", json!({"identifier": "lost@example.com", "password": new_pw})).await;
    // (The app's next code is a step away: sign in with a recovery code this time.)
    let codes = r["challenge"]["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "recovery_codes")
        .map(|m| m["factor"].clone())
        .expect("recovery codes offered");
    c.post("/api/login/select", json!({"factor": codes})).await;
    let r = c.post("/api/login/code", json!({"code": recovery})).await;
    assert_eq!(r["authenticated"], true, "{r}");
    let settings = c.page("/settings").await;
    assert!(settings.contains("Password reset"), "the activity shows the reset");

    // Lost everything: the operator resets the factors.
    assert_eq!(portal::reset_factors(&app, "lost@example.com").await, Ok(2));
    assert!(portal::reset_factors(&app, "nobody@example.com").await.is_err());
    assert!(mailed_kinds(&dir).contains(&"factors-reset-by-support".to_owned()));
    assert_eq!(c.call("GET", "/api/me", None).await.0, StatusCode::UNAUTHORIZED);
    let mut d = Browser::new(router.clone()).await;
    d.post("/api/password/forgot", json!({"email": "lost@example.com"})).await;
    let token = mailed_token(&last_mail(&dir));
    let r = d.post("/api/password/reset/redeem", json!({"token": token})).await;
    let grant = r["reset_password"].as_str().expect("no factor left: the mailbox suffices");
    let last_pw = "the third long passphrase";
    d.post("/api/password/reset", json!({"grant": grant, "password": last_pw})).await;
    let r =
        d.post("/api/login", json!({"identifier": "lost@example.com", "password": last_pw})).await;
    assert_eq!(
        (r["must_enroll"].as_bool(), r["proof_required"].as_bool()),
        (Some(true), Some(true)),
        "{r}"
    );

    // The sign-up link page asks for the password; an email link's page claims nothing yet.
    let page = d.page("/signup/confirm").await;
    assert!(page.contains("data-token-hash") && page.contains("name=\"password\""), "{page}");
    let page = d.page("/email/revert?token=abc").await;
    assert!(page.contains("<h1>Restore your email address</h1>"), "{page}");
    let shown = page.split("data-done=").next().unwrap_or_default();
    assert!(!shown.contains("was restored"), "nothing is claimed before the button: {page}");
    let r = d.post("/api/email/revert", json!({"token": "abc"})).await;
    assert_eq!(r["error"], "err_link_unknown", "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--breached-passwords FILE`: a password of the corpus is refused at sign-up (besides the
/// built-in common ones); a file that is no corpus stops the portal at start.
#[tokio::test]
async fn a_breach_corpus_refuses_its_passwords() {
    let dir = temp_dir();
    let sha1 = |s: &str| -> String {
        let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, s.as_bytes());
        d.as_ref().iter().map(|b| format!("{b:02X}")).collect()
    };
    let mut lines = [sha1("tangerine velvet 1987"), sha1("another breached one")];
    lines.sort();
    let corpus = dir.join("pwned.txt");
    std::fs::write(&corpus, lines.iter().map(|h| format!("{h}:42\r\n")).collect::<String>())
        .unwrap();
    let (app, data) = portal_with(&["--breached-passwords", corpus.to_str().unwrap()]).await;
    let mut b = Browser::new(router(app)).await;
    let r = b
        .post("/api/signup", json!({"email": "b@example.com", "password": "tangerine velvet 1987"}))
        .await;
    assert_eq!(r["error"], "err_invalid", "{r}");
    let r = b.post("/api/signup", json!({"email": "b@example.com", "password": "password1"})).await;
    assert_eq!(r["error"], "err_invalid", "the built-in list still holds: {r}");
    let r = b.post("/api/signup", json!({"email": "b@example.com", "password": PW})).await;
    assert_eq!(r["ok"], true, "{r}");
    std::fs::write(&corpus, "not a corpus\n").unwrap();
    let config = portal::Config::from_args(&[
        "--data-dir".into(),
        data.display().to_string(),
        "--breached-passwords".into(),
        corpus.display().to_string(),
    ])
    .unwrap();
    let refused = portal::build(&config, HashParams::DANGER_TEST_MINIMUM).await;
    assert!(refused.is_err_and(|e| e.contains("not a breach corpus")));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&data);
}

/// A legacy user brought in from Auth0, as they live the move: the username signs in with a
/// warning that names the refusal date, the bcrypt hash is upgraded, SMS is refused, the
/// mailbox proves them across the bridge, a new factor is set up, the username is retired
/// from the settings, and it no longer signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_legacy_user_moves_to_the_email_address() {
    let refuse_at = SystemTime::now() + Duration::from_secs(90 * 24 * 3600);
    let refuse_secs = refuse_at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let (app, dir) = portal_with(&["--username-refuse-from", &refuse_secs.to_string()]).await;
    let fixture = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/mfa-import/tests/fixtures/auth0-users.json"
    ));
    let report = portal::import_file(&app, fixture, false, None, |_| {}).await.unwrap();
    assert_eq!(report.imported, 6, "{report}");
    let router = router(Arc::clone(&app));
    let mut b = Browser::new(router.clone()).await;
    // The username signs in, with the warning and the date.
    let r = b
        .post("/api/login", json!({"identifier": "Ryu20231130", "password": "Auth0 imported"}))
        .await;
    assert_eq!(
        (r["must_enroll"].as_bool(), r["proof_required"].as_bool()),
        (Some(true), Some(true)),
        "{r}"
    );
    assert!(r["warnings"].as_array().unwrap().iter().any(|w| w == "UsernameDeprecated"), "{r}");
    assert_eq!(r["username_refused_from"], refuse_secs, "{r}");
    // SMS is listed as retired, and cannot be added back.
    assert!(r["unavailable"].as_array().unwrap().iter().any(|u| u["kind"] == "sms"), "{r}");
    assert_eq!(b.post("/api/mfa/sms", json!({})).await["error"], "err_retired");
    // The bcrypt hash was upgraded at this first sign-in.
    let canonical = app
        .auth
        .config()
        .canonicalizer
        .canonical(&mfa_email_identity::EmailAddress::parse("ryu@example.com").unwrap());
    let stored =
        mfa_flow::Store::account_by_email(app.auth.store(), &canonical).await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"), "bcrypt upgraded");
    // The bridge: the mailbox first, then a new factor.
    assert_eq!(b.post("/api/mfa/totp/begin", json!({})).await["error"], "err_proof_required");
    let begun = b.post("/api/mfa/proof/begin", json!({})).await;
    assert_eq!(begun["ok"], true, "{begun}");
    let code = mailed_code(&last_mail(&dir));
    let r = b.post("/api/mfa/proof/confirm", json!({"flow": begun["flow"], "code": code})).await;
    assert_eq!(r["ok"], true, "{r}");
    let (totp, t0, r) = enroll_app(&mut b, "P").await;
    assert_eq!(r["ok"], true, "{r}");
    // A fresh sign-in (by the address now), then "use my email address as the user name".
    b.post("/api/logout", json!({})).await;
    let r = b
        .post("/api/login", json!({"identifier": "ryu@example.com", "password": "Auth0 imported"}))
        .await;
    assert_eq!(r["challenge"]["method"]["kind"], "totp", "{r}");
    let r =
        b.post("/api/login/code", json!({"code": totp.code(t0 + Duration::from_secs(30))})).await;
    assert_eq!(r["authenticated"], true, "{r}");
    let page = b.page("/settings").await;
    assert!(
        page.contains("/api/settings/username/remove")
            && page.contains(&format!("data-unix=\"{refuse_secs}\"")),
        "{page}"
    );
    let r = b.post("/api/settings/username/remove", json!({})).await;
    assert_eq!(r, json!({"ok": true}));
    assert!(mailed_kinds(&dir).contains(&"username-removed".to_owned()));
    // The username no longer signs in; the address does.
    let mut c = Browser::new(router).await;
    let r = c
        .post("/api/login", json!({"identifier": "Ryu20231130", "password": "Auth0 imported"}))
        .await;
    assert_eq!(r["error"], "err_credentials", "{r}");
    let r = c
        .post("/api/login", json!({"identifier": "ryu@example.com", "password": "Auth0 imported"}))
        .await;
    assert!(r["challenge"].is_object(), "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The documented group table loads and decides per group (acme's usernames stop on
/// 2027-04-01, the pilot loses authenticator apps on 2027-09-01); an account labelled by
/// the operator gets its group's dates on its pages; a broken table stops the portal with
/// the reason.
#[tokio::test]
async fn the_example_group_table_decides_per_group() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/policy-groups.example.json");
    let (app, dir) = portal_with(&["--policy-groups", example]).await;
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut acme = mfa_testkit::conformance::account(1, "ryu@acme.example", Some("Ryu20231130"));
    mfa_flow::Store::create_account(app.auth.store(), &acme).await.unwrap();
    portal::label(&app, "ryu@acme.example", Some("acme"), Some("admin")).await.unwrap();
    acme = mfa_flow::Store::account(app.auth.store(), acme.id).await.unwrap().unwrap();
    let rules = app.auth.rules_for(&acme, t);
    assert_eq!(rules.username_refused_from, Some(1_806_537_600), "2027-04-01");
    assert_eq!(rules.step_up_max_age, 120, "an administrator");
    let report = portal::group_report(&app).await.unwrap();
    assert!(report.iter().any(|l| l.starts_with("acme: 1 account(s), 1 with a username")));
    assert!(portal::label(&app, "ryu@acme.example", Some("Not a label"), None).await.is_err());
    let _ = std::fs::remove_dir_all(dir);

    let dir = temp_dir();
    let bad = dir.join("groups.json");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&bad, r#"{"groups": {"acme": {"usernames_refuse_from": "2027-04-01"}}}"#)
        .unwrap();
    let config = portal::Config::from_args(&[
        "--data-dir".into(),
        dir.display().to_string(),
        "--policy-groups".into(),
        bad.display().to_string(),
    ])
    .unwrap();
    let refused = portal::build(&config, HashParams::DANGER_TEST_MINIMUM).await.err().unwrap();
    assert!(refused.contains("unknown field"), "{refused}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A push the person did not start, reported from the phone: the phone hears it was
/// reported, the browser that it was refused and what to do, the owner gets mail, and the
/// next sign-in lists push as paused after the report (why and until when, in the API and on
/// the page) and goes on with the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fraud_report_is_named_everywhere_and_pauses_push() {
    let (app, dir) = portal_with(&[]).await;
    let hub = app.hub.clone();
    let mut b = Browser::new(router(Arc::clone(&app))).await;
    let email = "mika@example.com";
    assert_eq!(sign_up(&mut b, &dir, email).await["ok"], true);
    let r = b.post("/api/login", json!({"identifier": email, "password": PW})).await;
    assert_eq!(r["must_enroll"], true, "{r}");
    let (totp, t0, r) = enroll_app(&mut b, "Phone").await;
    let recovery = r["recovery_codes"][0].as_str().expect("recovery codes").to_owned();
    b.post("/api/logout", json!({})).await;
    b.post("/api/login", json!({"identifier": email, "password": PW})).await;
    let r =
        b.post("/api/login/code", json!({"code": totp.code(t0 + Duration::from_secs(30))})).await;
    assert_eq!(r["ok"], true, "{r}");
    let phone = enroll_phone(&mut b, &hub, "token-9").await;
    b.post("/api/logout", json!({})).await;

    // Someone with the password signs in; the owner's phone reports it.
    let r = b.post("/api/login", json!({"identifier": email, "password": PW})).await;
    push_challenge(&mut b, &r).await;
    let (status, reply) =
        phone_decides(&b, &phone, &hub, "token-9", mfa_push::Decision::ReportFraud, 0).await;
    assert_eq!(
        (status, reply.as_str()),
        (StatusCode::OK, r#"{"ok":true,"state":"fraud_reported"}"#)
    );
    let r = b.post("/api/login/poll", json!({})).await;
    assert_eq!(r["error"], "err_push_reported", "{r}");
    assert!(r["message"].as_str().unwrap().contains("change your password"), "{r}");
    assert!(mailed_kinds(&dir).iter().any(|k| k == "push-fraud-reported"), "the owner is told");

    // The next sign-in: push paused after the report, with until when; the app works.
    let r = b.post("/api/login", json!({"identifier": email, "password": PW})).await;
    assert_ne!(r["challenge"]["method"]["kind"], "push", "{r}");
    let paused = r["challenge"]["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "push")
        .cloned()
        .expect("push listed as unavailable");
    assert_eq!(paused["reason"]["pause"], "after_fraud_report", "{paused}");
    let until = paused["reason"]["until"].as_u64().expect("until when");
    let now = SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(until >= now + 29 * 24 * 3600, "paused for the suspension: {until}");
    let page = b.page("/factor").await;
    assert!(page.contains("Paused after a fraud report"), "{page}");
    assert!(page.contains(&format!("data-unix=\"{until}\"")), "{page}");
    // It goes on with another method (the app's next code is a step away: a recovery code).
    let codes = r["challenge"]["alternatives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "recovery_codes")
        .unwrap()["factor"]
        .clone();
    assert_eq!(b.post("/api/login/select", json!({"factor": codes})).await["ok"], true);
    let r = b.post("/api/login/code", json!({"code": recovery})).await;
    assert_eq!(r["ok"], true, "the login goes on: {r}");
    let _ = std::fs::remove_dir_all(dir);
}
