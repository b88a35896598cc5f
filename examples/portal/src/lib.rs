//! The portal: the account journey of the notice, built on the workspace's crates the way an
//! embedder builds it — axum for HTTP, `mfa-store-sql` on SQLite (or PostgreSQL), lettre for
//! mail, and `mfa-flow` for every decision.
//!
//! The portal is the application, so it is where the clock is read and the operating
//! system's random generator is used; the libraries take both as parameters.
#![forbid(unsafe_code)]
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stderr)]
// Handlers return an HTTP response on the error path too; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

pub mod config;
pub mod i18n;
pub mod mail;
pub mod push_hub;
pub mod web;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mfa_credentials::{
    HashParams, HashingPool, KeyRing, PasswordHasher, PoolConfig, RecoveryCodes, Sealer,
    SecretBytes,
};
use mfa_email_identity::{
    ChangeMode, EmailChange, EmailChangeConfig, EmailCodeIssuer, LinkTemplates,
};
use mfa_flow::{Auth, AuthConfig, EnrollmentGrace, Services, UsernamePolicy};
use mfa_push::{PushConfig, PushServer, ServerKeys};
use mfa_store_sql::SqlStore;
use mfa_totp::TotpConfig;
use mfa_webauthn::RelyingParty;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

pub use config::Config;

/// The development keys kept in the data directory (generated on first start).
#[derive(Serialize, Deserialize)]
struct Keys {
    seal: String,
    email_code: String,
    push_server: String,
}

fn random32() -> Result<[u8; 32], String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| format!("random generator: {e}"))?;
    Ok(b)
}

/// The decoded development keys.
struct DevKeys {
    seal: [u8; 32],
    email_code: [u8; 32],
    push_server: [u8; 32],
}

fn load_keys(dir: &Path) -> Result<DevKeys, String> {
    let path = dir.join("keys.json");
    let keys: Keys = match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
        }
        Err(_) => {
            let k = Keys {
                seal: STANDARD.encode(random32()?),
                email_code: STANDARD.encode(random32()?),
                push_server: STANDARD.encode(random32()?),
            };
            let json = serde_json::to_vec_pretty(&k).map_err(|e| e.to_string())?;
            std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
            tracing::warn!(path = %path.display(), "generated development keys");
            k
        }
    };
    let decode = |s: &str| -> Result<[u8; 32], String> {
        STANDARD
            .decode(s)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| format!("{}: bad key", path.display()))
    };
    Ok(DevKeys {
        seal: decode(&keys.seal)?,
        email_code: decode(&keys.email_code)?,
        push_server: decode(&keys.push_server)?,
    })
}

/// The support path for someone who lost their password, every factor and every recovery
/// code (`portal reset-factors ADDRESS`): run it only after verifying the person by your own
/// means. Every factor of the account is removed, every session ends, the account is mailed
/// and the event audited; the person then resets the password by mail and, at the next
/// sign-in, proves the mailbox before enrolling a new factor. Returns how many factors were
/// removed.
///
/// # Errors
/// A message for an address that is not one or has no account, or a storage failure.
pub async fn reset_factors(app: &web::App, address: &str) -> Result<usize, String> {
    let account = account_by_address(app, address).await?;
    app.auth
        .reset_factors_by_support(account.id, std::time::SystemTime::now())
        .await
        .map_err(|e| e.to_string())
}

/// Puts the account of `address` in `group` with `role` (`portal label ADDRESS [--group G]
/// [--role R]`; a label left out means none): its sessions end, and the rules decide for it
/// by its group and role from now on.
///
/// # Errors
/// A message for an unknown address, a malformed label or a storage failure.
pub async fn label(
    app: &web::App,
    address: &str,
    group: Option<&str>,
    role: Option<&str>,
) -> Result<(), String> {
    let account = account_by_address(app, address).await?;
    let label =
        |l: Option<&str>| l.map(mfa_flow::Label::new).transpose().map_err(|e| e.to_string());
    app.auth
        .set_labels(account.id, label(group)?, label(role)?, std::time::SystemTime::now())
        .await
        .map_err(|e| e.to_string())
}

/// The account an operator names by its address.
async fn account_by_address(app: &web::App, address: &str) -> Result<mfa_flow::Account, String> {
    let email = mfa_email_identity::EmailAddress::parse(address).map_err(|e| e.to_string())?;
    let canonical = app.auth.config().canonicalizer.canonical(&email);
    mfa_flow::Store::account_by_email(app.auth.store(), &canonical)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no account has the address {address}"))
}

/// Every group with its accounts and the dates its rules set (`portal groups`), one line
/// each: what a rollout by group is planned and checked with.
///
/// # Errors
/// A message for a storage failure.
pub async fn group_report(app: &web::App) -> Result<Vec<String>, String> {
    let rows = app.auth.store().group_report().await.map_err(|e| e.to_string())?;
    let rules = app.auth.rules();
    let date = |t: Option<std::time::SystemTime>| {
        t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or_else(|| "-".to_owned(), |d| d.as_secs().to_string())
    };
    let mut out = Vec::new();
    for r in rows {
        let mut facts = mfa_flow::AccountFacts::unknown();
        facts.group = r.group.as_deref().and_then(|g| mfa_flow::Label::new(g).ok());
        let usernames = mfa_flow::UsernameRules::phases(rules, &facts);
        let sms = mfa_flow::RetirementRules::scheduled(rules, &facts, mfa_flow::FactorKind::Sms);
        out.push(format!(
            "{}: {} account(s), {} with a username; usernames warned from {}, refused from {}; SMS retired from {} (Unix seconds)",
            r.group.as_deref().unwrap_or("(no group)"),
            r.accounts,
            r.with_username,
            date(usernames.warn_from),
            date(usernames.refuse_from),
            date(sms.map(|s| s.from)),
        ));
    }
    Ok(out)
}

/// Imports the users of an Auth0 bulk-import file (`portal import FILE [--dry-run]
/// [--group G]`): see `mfa-import` for the mapping and the report. `progress` is called
/// after each record with the bytes read so far.
///
/// # Errors
/// A message when the file cannot be opened.
pub async fn import_file(
    app: &web::App,
    path: &Path,
    dry_run: bool,
    group: Option<&str>,
    mut progress: impl FnMut(u64),
) -> Result<mfa_import::Report, String> {
    let group = group.map(mfa_flow::Label::new).transpose().map_err(|e| format!("--group: {e}"))?;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let options =
        mfa_import::ImportOptions { dry_run, group, ..mfa_import::ImportOptions::default() };
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(random32()?);
    Ok(mfa_import::import(
        &app.auth,
        std::io::BufReader::new(file),
        &options,
        std::time::SystemTime::now(),
        &mut rng,
        |p| progress(p.bytes),
    )
    .await)
}

/// The accounts that still sign in by username, each with the last time it did
/// (`portal usernames`): the data to choose the refusal date with.
///
/// # Errors
/// A message for a storage failure.
pub async fn username_report(app: &web::App) -> Result<Vec<mfa_store_sql::UsernameRow>, String> {
    app.auth.store().username_report().await.map_err(|e| e.to_string())
}

/// Deletes expired flows and sessions every `every`, for as long as the runtime runs.
pub fn spawn_sweeper(app: &Arc<web::App>, every: Duration) {
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let dropped = app.audit.dropped();
            if dropped > 0 {
                tracing::warn!(dropped, "audit events dropped: the database falls behind");
            }
            // One replica at a time on PostgreSQL (an advisory lock); the others skip.
            if let Err(e) = app.auth.store().sweep_once(std::time::SystemTime::now()).await {
                tracing::warn!(error = %e, "sweep failed");
            }
        }
    });
}

/// Builds the application from its configuration: data directory, keys, database (with
/// migrations), mail, and the flows.
///
/// # Errors
/// A message for the first thing that cannot be set up.
pub async fn build(config: &Config, params: HashParams) -> Result<Arc<web::App>, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    let DevKeys { seal, email_code: email_key, push_server: push_seed } =
        load_keys(&config.data_dir)?;
    let store =
        SqlStore::connect(&config.database_url).await.map_err(|e| format!("database: {e}"))?;
    let mailer = match &config.smtp {
        Some(server) => mail::PortalMailer::smtp(server, &config.mail_from)?,
        None => mail::PortalMailer::outbox(config.data_dir.join("outbox"), &config.mail_from),
    };
    let ring = KeyRing::new(1, SecretBytes::new(seal.to_vec())).map_err(|e| e.to_string())?;
    let hasher = PasswordHasher::builder().params(params).build().map_err(|e| e.to_string())?;
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let base = &config.public_url;
    let links = LinkTemplates::new(
        &format!("{base}/email/confirm?token={{token}}"),
        &format!("{base}/email/revert?token={{token}}"),
        &format!("{base}/login"),
    )
    .map_err(|e| e.to_string())?;
    let mode = if config.email_change_confirm {
        ChangeMode::ConfirmNewAddress
    } else {
        ChangeMode::Immediate
    };
    let services = Services {
        passwords: HashingPool::new(hasher, PoolConfig::with_workers(workers))
            .map_err(|e| e.to_string())?,
        sealer: Sealer::new(&ring),
        recovery: RecoveryCodes::new(&ring),
        email_codes: EmailCodeIssuer::new(&email_key).map_err(|e| e.to_string())?,
        totp: TotpConfig::new(&config.product).map_err(|e| e.to_string())?,
        webauthn: RelyingParty::builder(&config.rp_id, &config.product)
            .origin(base)
            .build()
            .map_err(|e| format!("WebAuthn: {e}"))?,
        push: PushServer::new(
            // The phone's endpoints are the API's: `{base}/api/push/…`.
            PushConfig::new(&format!("{base}/api"), &config.product),
            ServerKeys::new(&[("k1", push_seed)]).map_err(|e| e.to_string())?,
        )
        .map_err(|e| format!("push: {e}"))?,
        email_change: EmailChange::new(
            EmailChangeConfig::new(&config.product, links).map_err(|e| e.to_string())?.mode(mode),
        ),
    };
    let mut auth_config = AuthConfig::new(&config.product);
    auth_config.login_url = format!("{base}/login");
    auth_config.signup_confirm_url = format!("{base}/signup/confirm");
    auth_config.password_reset_url = format!("{base}/password/reset");
    auth_config.address_confirm_url = format!("{base}/address/confirm");
    if let Some(path) = &config.breached_passwords {
        let corpus = mfa_credentials::BreachedPasswords::open(path).map_err(|e| e.to_string())?;
        auth_config.blocklist = Arc::new(mfa_credentials::AnyBlocklist(vec![
            Box::new(mfa_credentials::CommonPasswords),
            Box::new(corpus),
        ]));
    }
    if config.email_codes {
        auth_config.policy.retirement =
            auth_config.policy.retirement.allow(mfa_flow::FactorKind::EmailCode);
    }
    auth_config.policy.usernames = UsernamePolicy {
        warn_from: config.username_warn_from,
        refuse_from: config.username_refuse_from,
    };
    if config.mfa_grace_days > 0 {
        auth_config.policy.mfa.grace =
            EnrollmentGrace::AfterCreation(Duration::from_secs(config.mfa_grace_days * 86_400));
    }
    if let Some(path) = &config.policy_groups {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let table = mfa_flow::GroupTable::from_json(auth_config.policy.clone(), &text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        auth_config.rules = Some(Arc::new(table));
    }
    let hub = push_hub::PushHub::default();
    // On PostgreSQL every replica hears every hint (LISTEN/NOTIFY) and fills its own hub.
    let push = match &store {
        SqlStore::Postgres(pool) => {
            let channel = mfa_store_sql::PgPushChannel::new(pool.clone());
            let local = hub.clone();
            channel.listen(move |token, hint| local.deliver(&token, &hint));
            push_hub::PortalPush::Postgres(channel)
        }
        _ => push_hub::PortalPush::Memory(hub.clone()),
    };
    let rng = rand_chacha::ChaCha20Rng::from_seed(random32()?);
    // Every decision of the flows goes to the audit table (the settings show the account's).
    let audit = mfa_store_sql::SqlAudit::spawn(store.clone());
    let auth = Arc::new(Auth::new(
        auth_config,
        services,
        store,
        mailer,
        push,
        Arc::new(audit.clone()),
        rng,
    ));
    let source: Arc<dyn mfa_axum::SessionSource> = auth.clone();
    Ok(Arc::new(web::App {
        auth,
        hub,
        sessions: mfa_axum::Sessions::new(source, base.starts_with("https://")),
        proxies: config.trusted_proxies.clone(),
        audit,
        product: config.product.clone(),
    }))
}
