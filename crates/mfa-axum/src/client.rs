//! The client's address: the socket's peer, unless that peer is a proxy the operator trusts,
//! in which case `X-Forwarded-For` is read from the right, skipping trusted hops, and the
//! first untrusted hop is the client. A header a client sends itself is never believed.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

/// The longest `X-Forwarded-For` value read (longer ones are cut at the right end's last
/// complete hops).
const MAX_FORWARDED_LEN: usize = 4096;

/// The proxies whose `X-Forwarded-For` hop is believed (load balancers, reverse proxies).
/// Empty by default: the socket's peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A trusted-proxy list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address or network: {0:?}")]
pub struct ProxyError(String);

impl TrustedProxies {
    /// No proxy: the peer is the client.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads a comma-separated list of addresses or networks (`10.0.0.5`, `10.0.0.0/8`,
    /// `fd00::/8`). An empty string trusts no one.
    ///
    /// # Errors
    /// [`ProxyError`] naming the first entry that is neither.
    pub fn parse(list: &str) -> Result<Self, ProxyError> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = IpNet::from_str(item)
                .or_else(|_| IpAddr::from_str(item).map(IpNet::from))
                .map_err(|_| ProxyError(item.chars().take(64).collect()))?;
            nets.push(net);
        }
        Ok(Self(nets))
    }

    /// Whether `ip` is one of the trusted proxies.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client behind `peer` given the `X-Forwarded-For` values (in the order received):
    /// `peer` itself unless it is trusted; otherwise the rightmost hop that is not trusted.
    /// A hop that does not parse ends the walk at the last trusted hop (whoever wrote it was
    /// not a proxy of ours).
    #[must_use]
    pub fn client(&self, peer: IpAddr, forwarded: &[&str]) -> IpAddr {
        let mut client = canonical(peer);
        if !self.contains(client) {
            return client;
        }
        let joined = forwarded.join(",");
        let mut hops: &str = &joined;
        if hops.len() > MAX_FORWARDED_LEN {
            let cut = hops.len() - MAX_FORWARDED_LEN;
            hops = hops.get(cut..).unwrap_or_default();
            hops = hops.split_once(',').map_or("", |(_, rest)| rest);
        }
        for hop in hops.rsplit(',').map(str::trim) {
            let Some(ip) = parse_hop(hop) else { return client };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// A hop of `X-Forwarded-For`: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let bare = hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(hop);
    if let Ok(ip) = IpAddr::from_str(bare) {
        return Some(canonical(ip));
    }
    SocketAddr::from_str(hop).ok().map(|s| canonical(s.ip()))
}

/// IPv4-mapped IPv6 addresses as IPv4, so a rule and a key see one address one way.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The throttle key of an address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds
/// a whole /64, so a per-address key would be no limit at all).
#[must_use]
pub fn throttle_key(ip: IpAddr) -> String {
    mfa_flow::client_throttle_key(&canonical(ip).to_string())
}

/// The client's address, as [`TrustedProxies::client`] decides it. Needs the server to be
/// run with `into_make_service_with_connect_info::<SocketAddr>()` (or a `MockConnectInfo`
/// layer in tests) and, behind proxies, an `Extension(TrustedProxies)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The server was not started with connection info: a deployment error, answered 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server does not know the peer's address (serve with connect info)")]
pub struct ClientAddrRejection;

impl IntoResponse for ClientAddrRejection {
    fn into_response(self) -> Response {
        let body = axum::Json(serde_json::json!({"ok": false, "error": "err_internal"}));
        (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ClientAddrRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The connection's peer (or, in tests, axum's `MockConnectInfo`).
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map(|c| c.0.ip())
            .map_err(|_| ClientAddrRejection)?;
        let proxies = parts.extensions.get::<TrustedProxies>();
        let Some(proxies) = proxies.filter(|p| !p.0.is_empty()) else {
            return Ok(Self(canonical(peer)));
        };
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Self(proxies.client(peer, &forwarded)))
    }
}

/// What `mfa-flow` knows of a client: its address and a short name of its browser ("Chrome
/// on Linux", from the user agent; the full string says more about the person than a
/// sessions list needs).
pub(crate) fn client_info(ip: IpAddr, headers: &axum::http::HeaderMap) -> mfa_flow::ClientInfo {
    let ua = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    mfa_flow::ClientInfo {
        ip: ip.to_string(),
        browser: if ua.is_empty() { String::new() } else { browser_label(ua) },
        ..mfa_flow::ClientInfo::default()
    }
}

/// "Chrome on Linux" for a user agent.
#[must_use]
pub fn browser_label(ua: &str) -> String {
    let browser =
        [("Edg/", "Edge"), ("Chrome/", "Chrome"), ("Firefox/", "Firefox"), ("Safari/", "Safari")]
            .iter()
            .find(|(b, _)| ua.contains(b))
            .map_or("Browser", |(_, name)| name);
    let os = [
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(o, _)| ua.contains(o))
    .map(|(_, name)| *name);
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_owned(),
    }
}
