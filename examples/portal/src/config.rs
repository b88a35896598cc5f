//! Settings: flags, then environment variables, then defaults that run on a laptop.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Everything the portal can be told. Each flag `--name value` also reads from the
/// environment variable `PORTAL_NAME` (upper case, dashes as underscores).
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`--listen`, default `127.0.0.1:8080`).
    pub listen: String,
    /// The URL people open (`--public-url`, default `http://localhost:8080`): the WebAuthn
    /// origin, the base of every link in mail, and the push server id.
    pub public_url: String,
    /// The WebAuthn RP id (`--rp-id`, default: the public URL's host).
    pub rp_id: String,
    /// Where the SQLite file, keys and the mail outbox live (`--data-dir`, default
    /// `./portal-data`).
    pub data_dir: PathBuf,
    /// Database URL (`--database-url`, default `sqlite://<data-dir>/portal.db?mode=rwc`;
    /// `postgres://…` for PostgreSQL).
    pub database_url: String,
    /// SMTP server `host:port` (`--smtp`); without it, mail goes to `<data-dir>/outbox`.
    pub smtp: Option<String>,
    /// The sender address (`--mail-from`, default `no-reply@localhost`).
    pub mail_from: String,
    /// Product name shown everywhere (`--product-name`, default `Example Portal`).
    pub product: String,
    /// From when a username login gets a warning (`--username-warn-from`, Unix seconds;
    /// default: now).
    pub username_warn_from: Option<SystemTime>,
    /// From when username logins are refused (`--username-refuse-from`, Unix seconds).
    pub username_refuse_from: Option<SystemTime>,
    /// Days after sign-up before MFA must be enrolled (`--mfa-grace-days`, default 0).
    pub mfa_grace_days: u64,
    /// `immediate` (the notice's behaviour) or `confirm` (default: switch after the new
    /// address confirms) (`--email-change`).
    pub email_change_confirm: bool,
    /// Proxies (addresses or networks, comma-separated) whose `X-Forwarded-For` hop is
    /// believed (`--trusted-proxies`, default none: the socket's peer is the client).
    pub trusted_proxies: mfa_axum::TrustedProxies,
    /// The log's format (`--log`): `human` (default) or `json`, one object a line.
    pub log_json: bool,
    /// A breach corpus (`--breached-passwords FILE`: sorted `SHA1HEX:COUNT` lines, the
    /// "Pwned Passwords" download format): passwords in it are refused, besides the built-in
    /// list of common ones. Searched in place, never loaded.
    pub breached_passwords: Option<PathBuf>,
    /// Codes by email as a second factor (`--email-codes on|off`, default `off`): the notice
    /// lists them, but they prove the mailbox, not a device, so they count below AAL2, never
    /// satisfy a step-up, and the methods list calls them the weakest method.
    pub email_codes: bool,
    /// Per-group and per-role rules over the flags' defaults (`--policy-groups FILE`, JSON:
    /// see the README's "Rolling out by group"): usernames refused or SMS retired for one
    /// organization at a time, a shorter step-up for administrators.
    pub policy_groups: Option<PathBuf>,
}

/// The flags the portal reads (each also as `PORTAL_<NAME>` in the environment).
pub const FLAGS: [&str; 17] = [
    "listen",
    "public-url",
    "rp-id",
    "data-dir",
    "database-url",
    "smtp",
    "mail-from",
    "product-name",
    "username-warn-from",
    "username-refuse-from",
    "mfa-grace-days",
    "email-change",
    "trusted-proxies",
    "log",
    "breached-passwords",
    "email-codes",
    "policy-groups",
];

impl Config {
    /// Reads flags from `args` and the environment.
    ///
    /// # Errors
    /// A message naming the bad setting.
    pub fn from_args(args: &[String]) -> Result<Self, String> {
        // Every argument is a known flag followed by its value: a typo is an error, not a
        // setting silently left at its default.
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let name = flag.strip_prefix("--").filter(|n| FLAGS.contains(n));
            let Some(name) = name else {
                return Err(format!("unknown argument {flag:?} (see --help)"));
            };
            if rest.next().is_none() {
                return Err(format!("--{name} needs a value"));
            }
        }
        let get = |name: &str| -> Option<String> {
            let flag = format!("--{name}");
            args.iter().position(|a| *a == flag).and_then(|i| args.get(i + 1).cloned()).or_else(
                || std::env::var(format!("PORTAL_{}", name.to_uppercase().replace('-', "_"))).ok(),
            )
        };
        let public_url = get("public-url").unwrap_or_else(|| "http://localhost:8080".into());
        let public_url = public_url.trim_end_matches('/').to_owned();
        let host = public_url
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', ':']).next())
            .ok_or("--public-url must be http(s)://host[:port]")?
            .to_owned();
        let data_dir = PathBuf::from(get("data-dir").unwrap_or_else(|| "portal-data".into()));
        let time = |name: &str| -> Result<Option<SystemTime>, String> {
            get(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
                        .map_err(|_| format!("--{name}: Unix seconds"))
                })
                .transpose()
        };
        Ok(Self {
            listen: get("listen").unwrap_or_else(|| "127.0.0.1:8080".into()),
            rp_id: get("rp-id").unwrap_or(host),
            database_url: get("database-url").unwrap_or_else(|| {
                format!("sqlite://{}?mode=rwc", data_dir.join("portal.db").display())
            }),
            data_dir,
            public_url,
            smtp: get("smtp"),
            mail_from: get("mail-from").unwrap_or_else(|| "no-reply@localhost".into()),
            product: get("product-name").unwrap_or_else(|| "Example Portal".into()),
            username_warn_from: time("username-warn-from")?.or(Some(UNIX_EPOCH)),
            username_refuse_from: time("username-refuse-from")?,
            mfa_grace_days: get("mfa-grace-days")
                .map(|v| v.parse().map_err(|_| "--mfa-grace-days: a number"))
                .transpose()?
                .unwrap_or(0),
            email_change_confirm: get("email-change").is_none_or(|v| v != "immediate"),
            trusted_proxies: mfa_axum::TrustedProxies::parse(
                &get("trusted-proxies").unwrap_or_default(),
            )
            .map_err(|e| format!("--trusted-proxies: {e}"))?,
            log_json: match get("log").as_deref() {
                None | Some("human") => false,
                Some("json") => true,
                Some(other) => return Err(format!("--log: human or json, not {other:?}")),
            },
            breached_passwords: get("breached-passwords").map(PathBuf::from),
            policy_groups: get("policy-groups").map(PathBuf::from),
            email_codes: match get("email-codes").as_deref() {
                None | Some("off") => false,
                Some("on") => true,
                Some(other) => return Err(format!("--email-codes: on or off, not {other:?}")),
            },
        })
    }
}
