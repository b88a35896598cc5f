//! The layers and extractors as an attacker meets them, through `tower::ServiceExt::oneshot`
//! (no network): spoofed `X-Forwarded-For`, missing and wrong CSRF tokens, oversized bodies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;
use mfa_axum::{
    ClientAddr, Hardening, TrustedProxies, csrf_token, harden, throttle_key, verify_csrf,
};
use proptest::prelude::*;
use tower::ServiceExt as _;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn app(peer: &str, proxies: &str) -> Router {
    let peer: SocketAddr = SocketAddr::new(ip(peer), 40_000);
    Router::new()
        .route("/ip", get(|ClientAddr(a): ClientAddr| async move { a.to_string() }))
        .layer(axum::Extension(TrustedProxies::parse(proxies).unwrap()))
        .layer(MockConnectInfo(peer))
}

async fn client_of(peer: &str, proxies: &str, forwarded: &[&str]) -> String {
    let mut req = Request::builder().uri("/ip");
    for f in forwarded {
        req = req.header("x-forwarded-for", *f);
    }
    let res = app(peer, proxies).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn a_forwarded_header_from_a_client_is_not_believed() {
    // No proxy configured: whatever the header says, the socket's peer is the client.
    assert_eq!(client_of("198.51.100.7", "", &["1.2.3.4"]).await, "198.51.100.7");
    // A proxy configured, but this peer is not it.
    assert_eq!(client_of("198.51.100.7", "10.0.0.5", &["1.2.3.4"]).await, "198.51.100.7");
}

#[tokio::test]
async fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
    // The client wrote "1.1.1.1" itself; the proxy appended the address it saw.
    assert_eq!(client_of("10.0.0.5", "10.0.0.0/8", &["1.1.1.1, 203.0.113.9"]).await, "203.0.113.9");
    // Two trusted hops, across two header lines.
    assert_eq!(
        client_of("10.0.0.5", "10.0.0.0/8", &["6.6.6.6, 203.0.113.9", "10.1.2.3"]).await,
        "203.0.113.9"
    );
    // Ports and bracketed IPv6 are read.
    assert_eq!(client_of("10.0.0.5", "10.0.0.5", &["[2001:db8::7]:443"]).await, "2001:db8::7");
    assert_eq!(client_of("10.0.0.5", "10.0.0.5", &["203.0.113.9:5555"]).await, "203.0.113.9");
    // Only trusted hops: the leftmost of them.
    assert_eq!(client_of("10.0.0.5", "10.0.0.0/8", &["10.9.9.9"]).await, "10.9.9.9");
    // No header at all: the proxy.
    assert_eq!(client_of("10.0.0.5", "10.0.0.0/8", &[]).await, "10.0.0.5");
}

#[tokio::test]
async fn a_malformed_hop_stops_at_the_last_trusted_one() {
    assert_eq!(client_of("10.0.0.5", "10.0.0.0/8", &["203.0.113.9, garbage"]).await, "10.0.0.5");
    assert_eq!(
        client_of("10.0.0.5", "10.0.0.0/8", &["garbage, 10.1.1.1"]).await,
        "10.1.1.1",
        "the hop a trusted proxy wrote stands"
    );
    // A header far too long is read from its right end only.
    let long = format!("{}, 203.0.113.9", "9.9.9.9, ".repeat(2000));
    assert_eq!(client_of("10.0.0.5", "10.0.0.0/8", &[&long]).await, "203.0.113.9");
}

#[tokio::test]
async fn mapped_ipv6_peers_are_their_ipv4_address() {
    assert_eq!(client_of("::ffff:10.0.0.5", "10.0.0.5", &["203.0.113.9"]).await, "203.0.113.9");
    assert_eq!(client_of("::ffff:198.51.100.7", "", &[]).await, "198.51.100.7");
}

#[tokio::test]
async fn without_connection_info_the_answer_is_a_json_500() {
    let app =
        Router::new().route("/ip", get(|ClientAddr(a): ClientAddr| async move { a.to_string() }));
    let res =
        app.oneshot(Request::builder().uri("/ip").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["ok"], false);
}

#[test]
fn proxy_lists_are_checked() {
    assert!(TrustedProxies::parse("10.0.0.0/8, 192.0.2.1 , fd00::/8").is_ok());
    assert_eq!(TrustedProxies::parse("").unwrap(), TrustedProxies::none());
    assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    assert!(TrustedProxies::parse("localhost").is_err());
    let e = TrustedProxies::parse(&"x".repeat(1000)).unwrap_err().to_string();
    assert!(e.len() < 120, "the message is bounded: {e}");
}

#[test]
fn ipv6_clients_are_throttled_by_their_64() {
    assert_eq!(throttle_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
    assert_eq!(throttle_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), "2001:db8:1:2::/64");
    assert_ne!(throttle_key(ip("2001:db8:1:3::1")), "2001:db8:1:2::/64");
    assert_eq!(throttle_key(ip("203.0.113.9")), "203.0.113.9");
    assert_eq!(throttle_key(ip("::ffff:203.0.113.9")), "203.0.113.9");
}

proptest! {
    #[test]
    fn one_64_is_one_key(prefix in any::<u64>(), a in any::<u64>(), b in any::<u64>()) {
        let addr = |low: u64| IpAddr::V6(std::net::Ipv6Addr::from((u128::from(prefix) << 64) | u128::from(low)));
        prop_assume!(prefix >> 32 != 0); // not a mapped or compatible IPv4 prefix
        prop_assert_eq!(throttle_key(addr(a)), throttle_key(addr(b)));
    }

    #[test]
    fn a_csrf_token_is_good_for_its_cookie_only(a in "[A-Za-z0-9_-]{1,64}", b in "[A-Za-z0-9_-]{1,64}") {
        let mut h = HeaderMap::new();
        h.insert("x-csrf-token", HeaderValue::from_str(&csrf_token(&a)).unwrap());
        prop_assert!(verify_csrf(&h, &a));
        prop_assert_eq!(verify_csrf(&h, &b), a == b);
    }
}

#[test]
fn csrf_tokens_missing_empty_or_wrong_are_refused() {
    let cookie = "a-session-token";
    let mut h = HeaderMap::new();
    assert!(!verify_csrf(&h, cookie), "missing");
    h.insert("x-csrf-token", HeaderValue::from_static(""));
    assert!(!verify_csrf(&h, cookie), "empty");
    h.insert("x-csrf-token", HeaderValue::from_str(cookie).unwrap());
    assert!(!verify_csrf(&h, cookie), "the cookie itself is not the token");
    h.insert("x-csrf-token", HeaderValue::from_str(&csrf_token(cookie)).unwrap());
    assert!(verify_csrf(&h, cookie));
    assert!(!verify_csrf(&h, ""), "no cookie, no token");
}

fn hardened(h: &Hardening) -> Router {
    let r = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/own-csp", get(|| async { ([(header::CONTENT_SECURITY_POLICY, "sandbox")], "x") }))
        .route("/echo", post(|body: String| async move { body.len().to_string() }));
    harden(r, h)
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let res = hardened(&Hardening::default())
        .oneshot(Request::builder().uri("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let h = res.headers();
    assert!(
        h[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'")
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS over http");
    // An unknown route gets them too.
    let res = hardened(&Hardening::default())
        .oneshot(Request::builder().uri("/nope").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()[header::X_FRAME_OPTIONS], "DENY");
    // A handler's own policy stands.
    let res = hardened(&Hardening::default())
        .oneshot(Request::builder().uri("/own-csp").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.headers()[header::CONTENT_SECURITY_POLICY], "sandbox");
    // Behind https: HSTS.
    let res = hardened(&Hardening { hsts: true, ..Hardening::default() })
        .oneshot(Request::builder().uri("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(
        res.headers()[header::STRICT_TRANSPORT_SECURITY].to_str().unwrap().starts_with("max-age=")
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let h = Hardening { body_limit: 1024, ..Hardening::default() };
    let ok = hardened(&h)
        .oneshot(Request::post("/echo").body(Body::from("x".repeat(1024))).unwrap())
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let big = hardened(&h)
        .oneshot(Request::post("/echo").body(Body::from("x".repeat(1025))).unwrap())
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A declared length over the limit is refused without reading.
    let declared = hardened(&h)
        .oneshot(
            Request::post("/echo")
                .header(header::CONTENT_LENGTH, "1000000")
                .body(Body::from("x"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(declared.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(declared.headers()[header::CACHE_CONTROL], "no-store");
    let v: serde_json::Value =
        serde_json::from_slice(&declared.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["error"], "err_too_large");
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn request_spans_name_the_path_never_the_query_or_headers() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = mfa_axum::traced(Router::new().route("/email/confirm", get(|| async { "ok" })));
    let req = Request::builder()
        .uri("/email/confirm?token=SECRET-LINK-TOKEN")
        .header(header::COOKIE, "session=SECRET-COOKIE")
        .header("x-csrf-token", "SECRET-CSRF")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(req).await.unwrap().status(), StatusCode::OK);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("/email/confirm") && log.contains("status=200"), "{log}");
    assert!(!log.contains("SECRET"), "a secret reached the log: {log}");
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_answered_408() {
    let h = Hardening { timeout: std::time::Duration::from_millis(50), ..Hardening::default() };
    let r = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "late"
        }),
    );
    let res = harden(r, &h)
        .oneshot(Request::builder().uri("/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(
        res.headers()[header::X_FRAME_OPTIONS],
        "DENY",
        "the limits' answers get the headers"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["error"], "err_timeout");
}

#[tokio::test]
async fn a_bracketed_ipv6_hop_without_a_port_is_read() {
    assert_eq!(client_of("10.0.0.5", "10.0.0.5", &["[2001:db8::9]"]).await, "2001:db8::9");
}
