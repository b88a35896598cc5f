//! Test support for the workspace and for embedders: the in-memory reference [`MemoryStore`],
//! recording [`Outbox`] / [`PushOutbox`] / [`AuditLog`], seeded randomness, a ready-made
//! [`Auth`] for tests ([`test_auth`]), software authenticators ([`TotpApp`], and the push
//! device side re-exported from `mfa-push`), and the storage [`conformance`] suite every
//! adapter must pass.
//!
//! ```
//! use mfa_testkit::{MemoryStore, conformance};
//!
//! # #[allow(clippy::disallowed_methods)]
//! let rt = tokio::runtime::Runtime::new()?;
//! rt.block_on(conformance::run(|| async { MemoryStore::default() }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod attacker;
pub mod conformance;
pub mod flows;
pub mod groups;
mod memory;
mod raw_key;
pub mod recovery;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use memory::MemoryStore;
use mfa_credentials::{
    HashParams, HashingPool, KeyRing, PasswordHasher, PoolConfig, RecoveryCodes, Sealer,
    SecretBytes,
};
use mfa_email_identity::{
    EmailAddress, EmailChange, EmailChangeConfig, EmailCodeIssuer, LinkTemplates, Notice,
};
use mfa_flow::{AuditEvent, AuditSink, Auth, AuthConfig, Mailer, PushSender, Services};
use mfa_push::{PushConfig, PushHint, PushServer, ServerKeys};
use mfa_totp::{Profile, TotpConfig, TotpCredential, TotpSecret};
use mfa_webauthn::RelyingParty;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
pub use raw_key::RawKey;

/// The fixed time tests start from: 2027-01-15 08:00:00 UTC.
pub const T0: u64 = 1_800_000_000;

/// `T0 + secs`.
#[must_use]
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

/// A deterministic generator (never for production).
#[must_use]
pub fn seeded(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// Records every notice sent.
#[derive(Debug, Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<(EmailAddress, Notice)>>>);

impl Outbox {
    /// Everything sent so far.
    #[must_use]
    pub fn sent(&self) -> Vec<(EmailAddress, Notice)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The code and the link token of the last sign-up confirmation mailed to `to`.
    #[must_use]
    pub fn last_confirmation(&self, to: &str) -> Option<(String, String)> {
        self.sent().into_iter().rev().find_map(|(a, n)| match n {
            Notice::ConfirmSignUp { code, link, .. } if a.as_typed() == to => {
                let token = link.rsplit_once("#token=").map(|(_, t)| t.to_owned())?;
                Some((code, token))
            }
            _ => None,
        })
    }

    /// The last notice to `to`.
    #[must_use]
    pub fn last_to(&self, to: &str) -> Option<Notice> {
        self.sent().into_iter().rev().find(|(a, _)| a.as_typed() == to).map(|(_, n)| n)
    }
}

impl Mailer for Outbox {
    async fn send(&self, to: &EmailAddress, notice: &Notice) -> Result<(), String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push((to.clone(), notice.clone()));
        Ok(())
    }
}

/// Records every push hint sent.
#[derive(Debug, Clone, Default)]
pub struct PushOutbox(Arc<Mutex<Vec<(String, PushHint)>>>);

impl PushOutbox {
    /// Everything sent so far.
    #[must_use]
    pub fn sent(&self) -> Vec<(String, PushHint)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl PushSender for PushOutbox {
    async fn send(&self, push_token: &str, hint: &PushHint) -> Result<(), String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((push_token.to_owned(), hint.clone()));
        Ok(())
    }
}

/// An audit event and the client that acted, when the flow gave it.
pub type AuditEntry = (AuditEvent, Option<mfa_flow::SessionClient>);

/// Records every audit event, with the acting client when the flow gave one.
#[derive(Debug, Clone, Default)]
pub struct AuditLog(Arc<Mutex<Vec<AuditEntry>>>);

impl AuditLog {
    /// Every event so far.
    #[must_use]
    pub fn events(&self) -> Vec<AuditEvent> {
        self.with_clients().into_iter().map(|(e, _)| e).collect()
    }

    /// Every event so far, with its client.
    #[must_use]
    pub fn with_clients(&self) -> Vec<AuditEntry> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl AuditSink for AuditLog {
    fn record(&self, _: SystemTime, event: AuditEvent) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push((event, None));
    }

    fn record_from(&self, _: SystemTime, event: AuditEvent, client: &mfa_flow::SessionClient) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push((event, Some(client.clone())));
    }
}

/// The relying party of the test setup.
pub const ORIGIN: &str = "https://portal.example.com";

/// The WebAuthn relying-party id of [`test_services`].
pub const RP_ID: &str = "example.com";

/// Services with small, fast parameters (argon2 at its test minimum) and fixed keys.
///
/// # Panics
/// Never with these constants (they are valid); a panic here is a bug in the testkit.
#[must_use]
#[allow(clippy::expect_used)]
pub fn test_services(mode: mfa_email_identity::ChangeMode) -> Services {
    let hasher = PasswordHasher::builder()
        .params(HashParams::DANGER_TEST_MINIMUM)
        .build()
        .expect("test params");
    let passwords =
        HashingPool::new(hasher, PoolConfig { queue: 64, ..PoolConfig::with_workers(2) })
            .expect("pool");
    let ring = KeyRing::new(1, SecretBytes::new(vec![7u8; 32])).expect("key ring");
    let links = LinkTemplates::new(
        "https://portal.example.com/email/confirm?token={token}",
        "https://portal.example.com/email/revert?token={token}",
        "https://portal.example.com/login",
    )
    .expect("links");
    Services {
        passwords,
        sealer: Sealer::new(&ring),
        recovery: RecoveryCodes::new(&ring),
        email_codes: EmailCodeIssuer::new(&[9u8; 32]).expect("email code key"),
        totp: TotpConfig::new("Example Portal").expect("issuer"),
        webauthn: RelyingParty::builder(RP_ID, "Example Portal")
            .origin(ORIGIN)
            .build()
            .expect("rp"),
        push: PushServer::new(
            PushConfig::new(ORIGIN, "Example Portal"),
            ServerKeys::new(&[("test", [3u8; 32])]).expect("server key"),
        )
        .expect("push server"),
        email_change: EmailChange::new(
            EmailChangeConfig::new("Example Portal", links).expect("config").mode(mode),
        ),
    }
}

/// An orchestrator over a fresh memory store with recording delivery, for tests.
pub type TestAuth = Auth<MemoryStore, Outbox, PushOutbox>;

/// Everything a flow test needs, over a memory store unless another is given
/// ([`test_auth_on`]).
#[derive(Debug)]
pub struct TestEnv<S = MemoryStore> {
    /// The orchestrator.
    pub auth: Auth<S, Outbox, PushOutbox>,
    /// Mail sent.
    pub outbox: Outbox,
    /// Push hints sent.
    pub pushes: PushOutbox,
    /// Audit events.
    pub audit: AuditLog,
}

impl<S: mfa_flow::Store> TestEnv<S> {
    /// The last email one-time code mailed to `to` (a login code, an enrollment code or a
    /// mailbox proof).
    #[must_use]
    pub fn last_code(&self, to: &str) -> Option<String> {
        self.outbox.sent().into_iter().rev().find_map(|(a, n)| match n {
            Notice::EmailOneTimeCode { code, .. } if a.as_typed() == to => Some(code),
            _ => None,
        })
    }

    /// Signs up and confirms the address with the code that arrived, as the owner would.
    ///
    /// # Errors
    /// The flow's error.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        client: &mfa_flow::ClientInfo,
        now: SystemTime,
    ) -> Result<mfa_flow::Account, mfa_flow::LoginError> {
        sign_up_confirmed(&self.auth, email, password, client, now).await
    }

    /// Proves the mailbox for an enrollment-only session whose account had a second factor,
    /// the way its owner would: asks for a code and types the one that arrived.
    ///
    /// # Errors
    /// The flow's error (`LoginError::MethodUnavailable` when no proof is due …).
    pub async fn prove_mailbox(
        &self,
        session: &mfa_flow::Session,
        now: SystemTime,
    ) -> Result<mfa_flow::Session, mfa_flow::LoginError> {
        let flow = self.auth.begin_enrollment_proof(session, now).await?;
        let account = self
            .auth
            .store()
            .account(session.account)
            .await?
            .ok_or(mfa_flow::LoginError::NotSignedIn)?;
        let code =
            self.last_code(account.email.as_typed()).ok_or(mfa_flow::LoginError::Internal)?;
        self.auth.confirm_enrollment_proof(session, &flow, &code, now).await
    }
}

/// Signs up through `auth` and confirms the address with the code its mailer (an
/// [`Outbox`]) received, as the owner of the mailbox would: an account made the way a user
/// makes one.
///
/// # Errors
/// The flow's error (`LoginError::Internal` when no confirmation mail arrived).
pub async fn sign_up_confirmed<S: mfa_flow::Store>(
    auth: &Auth<S, Outbox, PushOutbox>,
    email: &str,
    password: &str,
    client: &mfa_flow::ClientInfo,
    now: SystemTime,
) -> Result<mfa_flow::Account, mfa_flow::LoginError> {
    let started = auth.sign_up(email, password, client, now).await?;
    let code = auth.mailer().last_confirmation(email).ok_or(mfa_flow::LoginError::Internal)?;
    auth.confirm_sign_up_code(&started.flow, &code.0, now).await
}

/// The canonical form of `email` under the default canonicalizer (the one [`test_auth`]
/// uses), to look an account up by.
///
/// # Panics
/// If `email` is not an address (a test's own literal).
#[must_use]
#[allow(clippy::panic)]
pub fn canonical(email: &str) -> mfa_email_identity::CanonicalEmail {
    mfa_email_identity::Canonicalizer::new().canonical(
        &EmailAddress::parse(email).unwrap_or_else(|e| panic!("{email:?} is no address: {e}")),
    )
}

/// A test environment with `config` (the product name "Example Portal").
#[must_use]
pub fn test_auth(config: AuthConfig, mode: mfa_email_identity::ChangeMode, seed: u8) -> TestEnv {
    test_auth_on(MemoryStore::default(), config, mode, seed)
}

/// A test environment over `store`.
#[must_use]
pub fn test_auth_on<S: mfa_flow::Store>(
    store: S,
    config: AuthConfig,
    mode: mfa_email_identity::ChangeMode,
    seed: u8,
) -> TestEnv<S> {
    let outbox = Outbox::default();
    let pushes = PushOutbox::default();
    let audit = AuditLog::default();
    let auth = Auth::new(
        config,
        test_services(mode),
        store,
        outbox.clone(),
        pushes.clone(),
        Arc::new(audit.clone()),
        seeded(seed),
    );
    TestEnv { auth, outbox, pushes, audit }
}

/// A software authenticator app: holds a TOTP secret and shows codes.
#[derive(Debug)]
pub struct TotpApp(TotpCredential);

impl TotpApp {
    /// The app after scanning `uri`.
    ///
    /// # Errors
    /// The import error for a bad URI.
    pub fn scan(uri: &str) -> Result<Self, mfa_totp::ImportError> {
        let imported = mfa_totp::import_uri(uri)?;
        Ok(Self(TotpCredential::new(imported.secret, imported.profile)))
    }

    /// From a base32 secret (the default profile).
    ///
    /// # Errors
    /// The import error for a bad secret.
    pub fn from_base32(secret: &str) -> Result<Self, mfa_totp::ImportError> {
        Ok(Self(TotpCredential::new(TotpSecret::from_base32(secret)?, Profile::DEFAULT)))
    }

    /// The code shown at `now`.
    #[must_use]
    pub fn code(&self, now: SystemTime) -> String {
        self.0.code_at(now).to_string()
    }
}
