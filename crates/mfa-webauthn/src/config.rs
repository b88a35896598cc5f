//! The relying party: who we are to the browser, checked when built.

use core::fmt;
use std::time::Duration;

use url::{Host, Url};
use webauthn_rs_core::WebauthnCore;

use crate::ConfigError;

/// The relying party: RP id, name, the allowed origins, and how long a ceremony may take.
/// Build it with [`RelyingParty::builder`]; a combination a browser would refuse is refused
/// here, when the server starts.
pub struct RelyingParty {
    pub(crate) core: WebauthnCore,
    pub(crate) rp_id: String,
    pub(crate) origins: Vec<Url>,
    pub(crate) ttl: Duration,
}

impl fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelyingParty")
            .field("rp_id", &self.rp_id)
            .field("origins", &self.origins.iter().map(Url::as_str).collect::<Vec<_>>())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl RelyingParty {
    /// Starts a configuration for `rp_id` (a domain such as `example.com`, or `localhost`)
    /// with the name browsers show.
    #[must_use]
    pub fn builder(rp_id: &str, rp_name: &str) -> RelyingPartyBuilder {
        RelyingPartyBuilder {
            rp_id: rp_id.to_owned(),
            rp_name: rp_name.to_owned(),
            origins: Vec::new(),
            ttl: Duration::from_secs(300),
        }
    }

    /// The RP id.
    #[must_use]
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// The allowed origins.
    #[must_use]
    pub fn origins(&self) -> &[Url] {
        &self.origins
    }

    /// How long a ceremony's state lives.
    #[must_use]
    pub fn ceremony_ttl(&self) -> Duration {
        self.ttl
    }
}

/// Builder of a [`RelyingParty`].
#[derive(Debug, Clone)]
pub struct RelyingPartyBuilder {
    rp_id: String,
    rp_name: String,
    origins: Vec<String>,
    ttl: Duration,
}

impl RelyingPartyBuilder {
    /// Adds an allowed origin: `https://host[:port]` with the host equal to the RP id or
    /// under it, or `http://localhost:PORT` for development.
    #[must_use]
    pub fn origin(mut self, origin: &str) -> Self {
        self.origins.push(origin.to_owned());
        self
    }

    /// How long a ceremony (between its start and finish) may take; 5 minutes by default,
    /// also sent to the browser as its timeout.
    #[must_use]
    pub fn ceremony_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Checks everything and builds.
    ///
    /// # Errors
    /// The first [`ConfigError`].
    pub fn build(self) -> Result<RelyingParty, ConfigError> {
        let rp_id = self.rp_id.trim();
        let domain_ok = !rp_id.is_empty()
            && rp_id.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
            && rp_id.parse::<std::net::IpAddr>().is_err();
        if !domain_ok {
            return Err(ConfigError::RpId);
        }
        if self.rp_name.trim().is_empty() {
            return Err(ConfigError::RpName);
        }
        if self.ttl.as_secs() == 0 || self.ttl > Duration::from_secs(1800) {
            return Err(ConfigError::Ttl);
        }
        if self.origins.is_empty() {
            return Err(ConfigError::NoOrigin);
        }
        let mut origins = Vec::with_capacity(self.origins.len());
        for o in &self.origins {
            let url = Url::parse(o).map_err(|_| ConfigError::OriginUnparsable(o.clone()))?;
            let host = match url.host() {
                Some(Host::Domain(d)) => d.to_owned(),
                Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
                    return Err(ConfigError::OriginIsIp(o.clone()));
                }
                None => return Err(ConfigError::OriginUnparsable(o.clone())),
            };
            let scheme_ok =
                url.scheme() == "https" || (url.scheme() == "http" && host == "localhost");
            if !scheme_ok {
                return Err(ConfigError::OriginScheme(o.clone()));
            }
            if (url.path() != "/" && !url.path().is_empty())
                || url.query().is_some()
                || url.fragment().is_some()
                || !url.username().is_empty()
            {
                return Err(ConfigError::OriginHasPath(o.clone()));
            }
            if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
                return Err(ConfigError::OriginNotUnderRpId(o.clone()));
            }
            origins.push(url);
        }
        let core = WebauthnCore::new_unsafe_experts_only(
            self.rp_name.trim(),
            rp_id,
            origins.clone(),
            self.ttl,
            Some(false),
            Some(false),
        );
        Ok(RelyingParty { core, rp_id: rp_id.to_owned(), origins, ttl: self.ttl })
    }
}
