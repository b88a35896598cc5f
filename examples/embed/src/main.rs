//! `cargo run -p embed`: the app on 127.0.0.1:3000 with a SQLite file. The keys are drawn
//! anew at each start (a development stand-in: keep them in a secret store in production).
#![forbid(unsafe_code)]
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::Arc;

use mfa_credentials::{HashParams, HashingPool, KeyRing, PasswordHasher, PoolConfig, SecretBytes};
use mfa_email_identity::{EmailAddress, EmailChange, EmailChangeConfig, LinkTemplates, Notice};
use mfa_flow::{Auth, AuthConfig, NoAudit, Services};
use rand_core::SeedableRng as _;

/// Mail goes to the terminal: which notice to whom, never its content (codes are secrets).
struct Terminal;
impl mfa_flow::Mailer for Terminal {
    async fn send(&self, to: &EmailAddress, notice: &Notice) -> Result<(), String> {
        eprintln!("mail: {} to {}", notice.kind(), to.masked());
        Ok(())
    }
}
/// No phones in this example.
struct NoPush;
impl mfa_flow::PushSender for NoPush {
    async fn send(&self, _: &str, _: &mfa_push::PushHint) -> Result<(), String> {
        Ok(())
    }
}

fn key() -> Result<[u8; 32], String> {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).map_err(|e| e.to_string())?;
    Ok(k)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (origin, product) = ("http://localhost:3000", "Embed");
    let store = mfa_store_sql::SqlStore::connect("sqlite://embed.db?mode=rwc").await?;
    let ring = KeyRing::new(1, SecretBytes::new(key()?.to_vec()))?;
    let hasher = PasswordHasher::builder().params(HashParams::OWASP).build()?;
    let links = LinkTemplates::new(
        &format!("{origin}/email/confirm?token={{token}}"),
        &format!("{origin}/email/revert?token={{token}}"),
        &format!("{origin}/"),
    )?;
    let services = Services {
        passwords: HashingPool::new(hasher, PoolConfig::with_workers(2))?,
        sealer: mfa_credentials::Sealer::new(&ring),
        recovery: mfa_credentials::RecoveryCodes::new(&ring),
        email_codes: mfa_email_identity::EmailCodeIssuer::new(&key()?)?,
        totp: mfa_totp::TotpConfig::new(product)?,
        webauthn: mfa_webauthn::RelyingParty::builder("localhost", product)
            .origin(origin)
            .build()?,
        push: mfa_push::PushServer::new(
            mfa_push::PushConfig::new(origin, product),
            mfa_push::ServerKeys::new(&[("k1", key()?)])?,
        )?,
        email_change: EmailChange::new(EmailChangeConfig::new(product, links)?),
    };
    let rng = rand_chacha::ChaCha20Rng::from_seed(key()?);
    let auth = Auth::new(
        AuthConfig::new(product),
        services,
        store,
        Terminal,
        NoPush,
        Arc::new(NoAudit),
        rng,
    );
    let app = embed::app(Arc::new(auth), false);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    eprintln!("embed: open {origin}");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
