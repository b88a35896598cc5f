//! The orchestrator: drives the policy and the primitive crates through the storage and
//! delivery traits, so that an HTTP handler is a few lines.

use core::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mfa_credentials::{HashingPool, Password, RecoveryCodeSet, RecoveryCodes, Sealer};
use mfa_email_identity::{
    Canonicalizer, EmailAddress, EmailChange, EmailChangeState, EmailCodeIssuer, LoginIdentifier,
    Notice, PendingEmailCode, TokenHash,
};
use mfa_push::{ChallengeRecord, ChallengeRequest, ChallengeState, Purpose, PushServer};
use mfa_totp::{TotpConfig, TotpCredential, TotpSecret};
use mfa_webauthn::{
    AuthenticationCeremony, CredentialKind, RegistrationCeremony, RelyingParty, UserRef,
    WebauthnCredential,
};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{AuditEvent, AuditSink, FailureReason};
use crate::policy::{Policy, RetirementReason, ThrottleState, UsernameDecision};
use crate::store::{FactorChange, Mailer, PushSender, Store, StoreError};
use crate::{
    Account, AccountId, Factor, FactorData, FactorId, FactorKind, Suspension, SuspensionReason,
    from_unix, unix,
};

mod notify;
mod sessions;

use sessions::KnownDevice;
pub use sessions::{
    EnrollmentProof, RevocationReason, Session, SessionClient, SessionId, SessionView,
};

/// Settings of the flows.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The account policy.
    pub policy: Policy,
    /// The product name (notices, authenticator apps).
    pub product: String,
    /// How email addresses are compared (the store's uniqueness key).
    pub canonicalizer: Canonicalizer,
    /// How long a login may take from password to second factor (default 10 minutes).
    pub login_ttl: Duration,
    /// How long an enrollment may take (default 15 minutes).
    pub enrollment_ttl: Duration,
    /// Recovery codes per set (default 10).
    pub recovery_codes: usize,
    /// Warn when this many recovery codes or fewer remain (default 3).
    pub recovery_codes_low: usize,
    /// How long a known-device token lasts (default 90 days).
    pub known_device_ttl: Duration,
    /// The login page's URL, for the notice to an address that already has an account
    /// (default empty: the notice then carries no link).
    pub login_url: String,
    /// A security notice about the same change to the same address is not repeated within
    /// this window (default 1 hour): a burst of sign-ins from one new browser sends one mail.
    pub notice_repeat_window: Duration,
}

impl AuthConfig {
    /// Defaults for `product`.
    #[must_use]
    pub fn new(product: &str) -> Self {
        Self {
            policy: Policy::default(),
            product: product.to_owned(),
            canonicalizer: Canonicalizer::new(),
            login_ttl: Duration::from_secs(600),
            enrollment_ttl: Duration::from_secs(900),
            recovery_codes: 10,
            recovery_codes_low: 3,
            known_device_ttl: Duration::from_secs(90 * 24 * 3600),
            login_url: String::new(),
            notice_repeat_window: Duration::from_secs(3600),
        }
    }
}

/// The engines of the primitive crates, configured by the embedder.
pub struct Services {
    /// Password hashing (bounded).
    pub passwords: HashingPool,
    /// Sealing of TOTP secrets.
    pub sealer: Sealer,
    /// Recovery codes.
    pub recovery: RecoveryCodes,
    /// Email one-time codes.
    pub email_codes: EmailCodeIssuer,
    /// TOTP enrollment settings.
    pub totp: TotpConfig,
    /// The WebAuthn relying party.
    pub webauthn: RelyingParty,
    /// The push server.
    pub push: PushServer,
    /// The email-change ceremony.
    pub email_change: EmailChange,
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// What the flows know of the client.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address (a throttle key).
    pub ip: String,
    /// Browser and OS, for the push context ("Chrome on Windows").
    pub browser: String,
    /// A coarse location, if the embedder knows one.
    pub location: String,
    /// The known-device token from an earlier login on this browser (a long-lived cookie).
    pub known_device: Option<String>,
}

/// A session token: the secret the embedder puts in a cookie. The store keeps only its hash;
/// `Debug` hides it and it has no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// The token, for the cookie.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([REDACTED])")
    }
}

/// Assurance of an authentication (NIST SP 800-63B levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Assurance {
    /// Password only (inside an enrollment grace period).
    Aal1,
    /// Password and a second factor.
    Aal2,
    /// Password and a phishing-resistant authenticator.
    Aal3,
}

/// Something the user should do after logging in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RequiredAction {
    /// Enroll a second factor before this time (grace period).
    EnrollMfa {
        /// The deadline (Unix seconds).
        deadline: u64,
    },
    /// The user logged in with a legacy username: confirm the email as the login.
    ConfirmEmailAsLogin,
    /// Offer "register a biometric key on this device?" if the browser has a platform
    /// authenticator.
    OfferBiometricKey,
    /// Few recovery codes left: regenerate.
    RecoveryCodesLow {
        /// Codes left.
        remaining: usize,
    },
}

/// A factor as offered to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodView {
    /// The factor.
    pub factor: FactorId,
    /// Its kind.
    pub kind: FactorKind,
    /// Its name.
    pub name: String,
}

/// A factor that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnavailableFactor {
    /// The factor.
    pub factor: FactorId,
    /// Its kind.
    pub kind: FactorKind,
    /// Its name.
    pub name: String,
    /// Why.
    pub reason: Unavailable,
}

/// Why a factor cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unavailable {
    /// Its kind is retired (SMS).
    Retired {
        /// The policy's reason.
        reason: RetirementReason,
    },
    /// Suspended (a security key that looked cloned) until the user re-enables it.
    Suspended {
        /// Why.
        reason: SuspensionReason,
        /// Since (Unix seconds).
        since: u64,
    },
}

/// A warning to show during the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Warning {
    /// Usernames are being retired: log in with the email address.
    UsernameDeprecated,
}

/// What the page asks for the selected method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Prompt {
    /// Type the code from the authenticator app.
    TotpCode,
    /// Type a recovery code.
    RecoveryCode,
    /// Type the code sent to this (masked) address.
    EmailCode {
        /// Where it went, masked.
        sent_to: String,
    },
    /// Call `navigator.credentials.get()` with these options.
    WebAuthn {
        /// The options JSON.
        options: String,
    },
    /// A push went to this device; show this number; poll.
    Push {
        /// The number to show.
        number: u8,
        /// The device's name.
        device: String,
    },
}

/// The second-factor step of a login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeView {
    /// The flow id (keep it in the login page's state).
    pub flow: String,
    /// The method in progress.
    pub method: MethodView,
    /// What to ask for.
    pub prompt: Prompt,
    /// "Try another method": the other usable factors, best first.
    pub alternatives: Vec<MethodView>,
    /// Factors the user has that cannot be used, and why.
    pub unavailable: Vec<UnavailableFactor>,
    /// Warnings to show.
    pub warnings: Vec<Warning>,
}

/// A finished login.
#[derive(Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The new session (stored; keep its token in a cookie).
    pub session: Session,
    /// The session's token.
    pub session_token: SessionToken,
    /// The factor used.
    pub factor: Option<MethodView>,
    /// The assurance reached.
    pub assurance: Assurance,
    /// What the user should do next.
    pub required_actions: Vec<RequiredAction>,
    /// A fresh known-device token for a long-lived cookie (a known good path past
    /// per-account throttling).
    pub known_device: String,
}

/// Where a login stands after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginStep {
    /// Ask for a second factor.
    Challenge(ChallengeView),
    /// The user must enroll a second factor now; the session allows only that. When its
    /// `proof` is [`EnrollmentProof::Required`] (the account has or had a factor, such as a
    /// retired SMS number), it must first prove the mailbox
    /// ([`Auth::begin_enrollment_proof`]) or use a recovery code
    /// ([`Auth::prove_with_recovery_code`]).
    MustEnroll {
        /// An enrollment-only session (stored).
        session: Session,
        /// Its token.
        session_token: SessionToken,
        /// Factors that cannot be used, and why (e.g. SMS).
        unavailable: Vec<UnavailableFactor>,
        /// Kinds that can be enrolled.
        enrollable: Vec<FactorKind>,
        /// Warnings.
        warnings: Vec<Warning>,
    },
    /// Done.
    Authenticated(Authenticated),
    /// A step-up finished: the session (as stored now) is fresh for sensitive actions.
    SteppedUp(Session),
    /// A push is still waiting for the phone.
    Waiting,
}

/// Why a login step failed. The variants a client sees for an unknown identifier and a
/// wrong password are the same: [`LoginError::InvalidCredentials`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Unknown identifier or wrong password.
    #[error("the email address or password is not correct")]
    InvalidCredentials,
    /// Usernames are no longer accepted: log in with the email address.
    #[error("log in with your email address")]
    UsernameRefused,
    /// Too many attempts: try again after this long.
    #[error("too many attempts; try again later")]
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The flow does not exist, expired, or was used.
    #[error("the login expired; start again")]
    FlowExpired,
    /// The code, assertion or answer is not correct (or was used).
    #[error("the code is not correct")]
    WrongSecondFactor,
    /// The push was denied on the phone.
    #[error("the sign-in was denied on the phone")]
    PushDenied,
    /// The factor is not one of the user's usable factors.
    #[error("this method is not available")]
    MethodUnavailable,
    /// The input could not be read.
    #[error("invalid input")]
    Malformed,
    /// A fresh second factor is required for this action.
    #[error("confirm with a second factor first")]
    StepUpRequired,
    /// The action would leave the account without a usable second factor.
    #[error("you cannot remove your last second factor")]
    LastFactor,
    /// Sign-up with an address that has an account: the owner was told by mail. Answer the
    /// client as for a successful sign-up, so the page reveals no account.
    #[error("check your mail")]
    AccountExists,
    /// A policy refusal with a reason for the user (password policy, taken address …).
    #[error("refused: {0}")]
    Refused(String),
    /// No session, or it ended, timed out or was revoked: sign in again.
    #[error("sign in again")]
    NotSignedIn,
    /// This account had a second factor: prove the mailbox or use a recovery code before
    /// enrolling a new one.
    #[error("confirm your email address or use a recovery code first")]
    ProofRequired,
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
    /// An internal failure (a worker lost, a sealed secret that does not open).
    #[error("internal error")]
    Internal,
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Revoked => Self::NotSignedIn,
            StoreError::LastFactor => Self::LastFactor,
            e => Self::Store(e),
        }
    }
}

impl From<serde_json::Error> for LoginError {
    fn from(_: serde_json::Error) -> Self {
        Self::Internal
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "m", rename_all = "snake_case")]
enum Active {
    None,
    Totp { factor: FactorId },
    Recovery { factor: FactorId },
    EmailCode { factor: FactorId, pending: PendingEmailCode },
    WebAuthn { state: Box<AuthenticationCeremony> },
    Push { factor: FactorId, challenge: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoginFlow {
    v: u8,
    account: AccountId,
    password_at: u64,
    expires: u64,
    username_used: bool,
    warnings: Vec<Warning>,
    active: Active,
    /// The session this flow steps up, when it is a step-up rather than a login.
    step_up: Option<SessionId>,
    /// The client signing in (for the session and the new-device notice).
    client: SessionClient,
    /// Whether it showed a known-device token of this account.
    known: bool,
    /// The account's session epoch when the password was verified: a revocation in between
    /// (a password change …) voids the login.
    #[serde(default)]
    epoch: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
enum Enrollment {
    Totp { account: AccountId, sealed: Vec<u8> },
    WebAuthn { account: AccountId, state: Box<RegistrationCeremony> },
    EmailCode { account: AccountId, pending: PendingEmailCode },
    Push { account: AccountId, stage: PushStage },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "s", rename_all = "snake_case")]
enum PushStage {
    Offered { enrollment_id: String },
    Activating { factor: FactorId, challenge: String },
}

/// An email change in progress, as stored under each of its tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EmailFlow {
    /// The account's session epoch when the state was saved.
    epoch: u64,
    state: EmailChangeState,
}

/// A TOTP enrollment to show.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpEnrollment {
    /// The enrollment flow id.
    pub flow: String,
    /// The otpauth URI (holds the secret).
    pub uri: String,
    /// The QR code (SVG).
    pub qr_svg: String,
    /// The secret in base32, for typing by hand.
    pub secret_base32: String,
}

/// A finished enrollment.
#[derive(Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The new factor.
    pub factor: MethodView,
    /// Recovery codes, when the account had none (show once, never store).
    pub recovery_codes: Option<Vec<String>>,
    /// The session as stored now: no longer enrollment-only, but not made fresh by the
    /// factor it just enrolled (that factor never counts for its step-up).
    pub session: Session,
}

/// Where a push enrollment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushEnrollmentStatus {
    /// Waiting for the phone to scan and register.
    WaitingForDevice,
    /// The phone registered; show this number and wait for the approval.
    ConfirmNumber {
        /// The number.
        number: u8,
    },
    /// Done.
    Enrolled(Box<Enrolled>),
}

/// A factor in the MFA settings list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorStatus {
    /// The factor.
    pub method: MethodView,
    /// Retired (struck out), with the reason.
    pub retired: Option<RetirementReason>,
    /// Suspended (a key that looked cloned) until the user re-enables it.
    pub suspended: Option<Suspension>,
    /// Created (Unix seconds).
    pub created: u64,
    /// Last used.
    pub last_used: Option<u64>,
}

/// The result of starting an email change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChangeStarted {
    /// The address now used to log in (changed at once in the immediate mode).
    pub login_email: EmailAddress,
    /// Whether the switch waits for the new address to confirm.
    pub awaiting_confirmation: bool,
}

/// The second-factor decision of a login, as a pure function of the account, its factors,
/// the policy and the time: which factors may be used (the last used first, then
/// phishing-resistant, push, app, email code, recovery codes last) and which may not, and
/// why. Whether the user must enroll follows: no usable factor other than recovery codes.
#[derive(Debug, Clone)]
pub struct FactorPlan {
    /// Usable factors, best first.
    pub usable: Vec<Factor>,
    /// Retired factors, with the reason.
    pub unavailable: Vec<UnavailableFactor>,
}

impl FactorPlan {
    /// Whether the user must enroll a second factor (recovery codes alone do not count).
    #[must_use]
    pub fn needs_enrollment(&self) -> bool {
        !self.usable.iter().any(|f| f.kind != FactorKind::RecoveryCodes)
    }
}

/// Computes the [`FactorPlan`].
#[must_use]
pub fn plan_second_factor(
    policy: &Policy,
    account: &Account,
    factors: Vec<Factor>,
    now: SystemTime,
) -> FactorPlan {
    let mut usable = Vec::new();
    let mut unavailable = Vec::new();
    for f in factors {
        let why = match (policy.retirement.retired(f.kind, now), f.suspended) {
            (Some(r), _) => Some(Unavailable::Retired { reason: r.reason }),
            (None, Some(Suspension { reason, since })) => {
                Some(Unavailable::Suspended { reason, since })
            }
            (None, None) => None,
        };
        if let Some(reason) = why {
            unavailable.push(UnavailableFactor {
                factor: f.id,
                kind: f.kind,
                name: f.name.clone(),
                reason,
            });
            continue;
        }
        let ok = match &f.data {
            FactorData::Push(d) => d.active,
            FactorData::RecoveryCodes { stored: s } => {
                RecoveryCodeSet::from_stored(s).is_ok_and(|s| s.remaining() > 0)
            }
            FactorData::Phone { .. } => false,
            _ => true,
        };
        if ok {
            usable.push(f);
        }
    }
    usable.sort_by_key(|f| {
        (
            Some(f.id) != account.last_factor || f.kind == FactorKind::RecoveryCodes,
            f.kind.rank(),
            f.created,
        )
    });
    FactorPlan { usable, unavailable }
}

// The values below carry secrets (a known-device token, a TOTP secret, recovery codes):
// their `Debug` shows everything else.

impl fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientInfo")
            .field("ip", &self.ip)
            .field("browser", &self.browser)
            .field("location", &self.location)
            .field("known_device", &self.known_device.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("session", &self.session)
            .field("session_token", &self.session_token)
            .field("factor", &self.factor)
            .field("assurance", &self.assurance)
            .field("required_actions", &self.required_actions)
            .field("known_device", &"[REDACTED]")
            .finish()
    }
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrollment").field("flow", &self.flow).finish_non_exhaustive()
    }
}

impl fmt::Debug for Enrolled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrolled")
            .field("factor", &self.factor)
            .field(
                "recovery_codes",
                &self.recovery_codes.as_ref().map(|c| format!("[{} REDACTED]", c.len())),
            )
            .field("session", &self.session)
            .finish()
    }
}

/// A factor's name as the user gave it: trimmed, 1 to 64 characters, no control characters
/// (it is shown in pages and mail).
fn factor_name(name: &str) -> Result<String, LoginError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(LoginError::Refused("invalid name".into()));
    }
    Ok(name.to_owned())
}

/// The WebAuthn credentials among `factors`.
fn webauthn_of(factors: &[Factor]) -> Vec<WebauthnCredential> {
    factors
        .iter()
        .filter_map(|f| match &f.data {
            FactorData::WebAuthn(c) => Some((**c).clone()),
            _ => None,
        })
        .collect()
}

/// How long push challenge records and an account's push log are kept (fatigue limits look
/// back up to the fraud suspension).
const PUSH_RECORD_TTL: Duration = Duration::from_secs(31 * 24 * 3600);

fn flow_key(prefix: &str, id: &str) -> String {
    format!("{prefix}:{id}")
}

/// The orchestrator.
pub struct Auth<S, M, P> {
    config: AuthConfig,
    services: Services,
    store: S,
    mailer: M,
    push_sender: P,
    audit: Arc<dyn AuditSink>,
    rng: Mutex<Box<dyn RngSource>>,
}

/// A cryptographic random generator the orchestrator can own.
pub trait RngSource: CryptoRng + Send {}

impl<T: CryptoRng + Send> RngSource for T {}

impl<S, M, P> fmt::Debug for Auth<S, M, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<S: Store, M: Mailer, P: PushSender> Auth<S, M, P> {
    /// Assembles the orchestrator.
    pub fn new(
        config: AuthConfig,
        services: Services,
        store: S,
        mailer: M,
        push_sender: P,
        audit: Arc<dyn AuditSink>,
        rng: impl RngSource + 'static,
    ) -> Self {
        Self { config, services, store, mailer, push_sender, audit, rng: Mutex::new(Box::new(rng)) }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The services.
    pub fn services(&self) -> &Services {
        &self.services
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut dyn RngSource) -> T) -> T {
        let mut guard = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        f(guard.as_mut())
    }

    fn random_bytes<const N: usize>(&self) -> [u8; N] {
        self.with_rng(|r| {
            let mut b = [0u8; N];
            r.fill_bytes(&mut b);
            b
        })
    }

    fn random_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.random_bytes::<32>())
    }

    fn uuid(&self) -> Uuid {
        uuid::Builder::from_random_bytes(self.random_bytes()).into_uuid()
    }

    /// Hashes a password with a fresh salt through the pool.
    async fn hash_password(&self, pw: Password) -> Result<String, LoginError> {
        self.services
            .passwords
            .hash(pw, self.random_bytes())
            .map_err(|_| LoginError::Internal)?
            .await
            .map_err(|_| LoginError::Internal)
    }

    /// What the phone shows about this sign-in.
    fn sign_in_context(&self, client: &ClientInfo, now: SystemTime) -> mfa_push::SignInContext {
        mfa_push::SignInContext {
            application: self.config.product.clone(),
            location: client.location.clone(),
            ip: client.ip.clone(),
            browser: client.browser.clone(),
            time: unix(now),
        }
    }

    fn audit(&self, now: SystemTime, event: AuditEvent) {
        self.audit.record(now, event);
    }

    // ----- accounts -----

    /// Creates an account (email only: new accounts never get a username).
    ///
    /// # Errors
    /// [`LoginError::Refused`] for an invalid address or a password the policy refuses;
    /// [`LoginError::AccountExists`] if the address has an account (its owner is told by
    /// mail; answer the client as for a success).
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        now: SystemTime,
    ) -> Result<Account, LoginError> {
        let email = EmailAddress::parse(email).map_err(|e| LoginError::Refused(e.to_string()))?;
        self.check_lookalike(&email)?;
        let hash = self.new_password_hash(password, email.as_typed(), None).await?;
        let account = Account {
            id: AccountId(self.uuid()),
            version: 1,
            canonical_email: self.config.canonicalizer.canonical(&email),
            email,
            username: None,
            password_hash: hash,
            created: unix(now),
            last_factor: None,
            profile: crate::ProfileFields::default(),
            session_epoch: 0,
            had_second_factor: false,
        };
        match self.store.create_account(&account).await {
            Ok(()) => Ok(account),
            Err(StoreError::Conflict) => {
                let notice = Notice::AccountExists {
                    product: self.config.product.clone(),
                    login_link: self.config.login_url.clone(),
                };
                self.mailer
                    .send(&account.email, &notice)
                    .await
                    .map_err(|_| LoginError::Internal)?;
                Err(LoginError::AccountExists)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn check_lookalike(&self, email: &EmailAddress) -> Result<(), LoginError> {
        if self.config.policy.refuse_lookalike_emails
            && mfa_email_identity::assess(email).is_suspicious()
        {
            return Err(LoginError::Refused(
                "the address mixes scripts or imitates another address".into(),
            ));
        }
        Ok(())
    }

    async fn new_password_hash(
        &self,
        password: &str,
        email_local: &str,
        username: Option<&str>,
    ) -> Result<String, LoginError> {
        let pw = Password::new(password).map_err(|e| LoginError::Refused(e.to_string()))?;
        let policy =
            mfa_credentials::PasswordPolicy::new(mfa_credentials::PasswordRole::MultiFactor);
        let context = mfa_credentials::PasswordContext {
            service_name: Some(&self.config.product),
            email: Some(email_local),
            username,
        };
        policy.check(&pw, &context).map_err(|v| LoginError::Refused(v.to_string()))?;
        self.hash_password(pw).await
    }

    // ----- login -----

    async fn throttle_wait(&self, key: &str, now: SystemTime) -> Result<(), LoginError> {
        let state = self.store.throttle(key).await?;
        let wait = self.config.policy.throttle.wait(state, now);
        if wait > Duration::ZERO {
            return Err(LoginError::Throttled { retry_after: wait.as_secs().max(1) });
        }
        Ok(())
    }

    async fn fail(&self, key: &str, now: SystemTime) -> Result<ThrottleState, LoginError> {
        let policy = self.config.policy.throttle;
        Ok(self.store.update_throttle(key, move |s| policy.fail(s, now)).await?)
    }

    /// Step one: identifier and password.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] (unknown identifier and wrong password alike, at
    /// the same cost), [`LoginError::UsernameRefused`], [`LoginError::Throttled`].
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let ip_key = flow_key("pw-ip", &client.ip);
        if let Err(e) = self.throttle_wait(&ip_key, now).await {
            self.audit(now, AuditEvent::Throttled { account: None });
            return Err(e);
        }
        let pw = Password::new(password).map_err(|_| LoginError::InvalidCredentials);
        let id = LoginIdentifier::classify(identifier);
        let (account, username_used) = match &id {
            Ok(LoginIdentifier::Email(e)) => {
                let by_email =
                    self.store.account_by_email(&self.config.canonicalizer.canonical(e)).await?;
                match by_email {
                    Some(a) => (Some(a), false),
                    // An email-shaped legacy username of an existing account.
                    None => match id.as_ref().ok().and_then(LoginIdentifier::legacy_username) {
                        Some(u) => (self.store.account_by_username(u.normalized()).await?, true),
                        None => (None, false),
                    },
                }
            }
            Ok(LoginIdentifier::Username(u)) => {
                (self.store.account_by_username(u.normalized()).await?, true)
            }
            Err(_) => (None, false),
        };
        let mut warnings = Vec::new();
        if username_used {
            let decision = self.config.policy.usernames.decide(now);
            self.audit(
                now,
                AuditEvent::LegacyUsernameUsed {
                    account: account.as_ref().map(|a| a.id),
                    decision,
                },
            );
            match decision {
                UsernameDecision::Refuse => {
                    self.audit(
                        now,
                        AuditEvent::LoginFailed {
                            account: account.as_ref().map(|a| a.id),
                            reason: FailureReason::UsernameRefused,
                        },
                    );
                    return Err(LoginError::UsernameRefused);
                }
                UsernameDecision::AcceptWithWarning => warnings.push(Warning::UsernameDeprecated),
                _ => {}
            }
        }
        let Some(account) = account else {
            // Same work as a real verification, same answer.
            if let Ok(pw) = pw {
                let _ = self
                    .services
                    .passwords
                    .verify_unknown_account(pw)
                    .map_err(|_| LoginError::Internal)?
                    .await;
            }
            self.fail(&ip_key, now).await?;
            self.audit(
                now,
                AuditEvent::LoginFailed { account: None, reason: FailureReason::UnknownIdentifier },
            );
            return Err(LoginError::InvalidCredentials);
        };
        let account_key = flow_key("pw-acct", &account.id.to_string());
        let known = self.is_known_device(client, &account, now).await;
        if !known && let Err(e) = self.throttle_wait(&account_key, now).await {
            self.audit(now, AuditEvent::Throttled { account: Some(account.id) });
            return Err(e);
        }
        let verified = match pw {
            Ok(pw) => {
                self.services
                    .passwords
                    .verify(pw, account.password_hash.clone())
                    .map_err(|_| LoginError::Internal)?
                    .await
            }
            Err(_) => Err(mfa_credentials::Error::PasswordMismatch),
        };
        let verified = match verified {
            Ok(v) => v,
            Err(_) => {
                self.fail(&ip_key, now).await?;
                if !known {
                    self.fail(&account_key, now).await?;
                }
                self.audit(
                    now,
                    AuditEvent::LoginFailed {
                        account: Some(account.id),
                        reason: FailureReason::WrongPassword,
                    },
                );
                return Err(LoginError::InvalidCredentials);
            }
        };
        self.store.update_throttle(&account_key, |_| ThrottleState::default()).await?;
        if verified.rehash.is_some() {
            // Upgrade the stored hash (bcrypt import, weaker parameters) on this login.
            if let Ok(hash) = self.rehash(password).await {
                let mut updated = account.clone();
                updated.password_hash = hash;
                updated.version += 1;
                let _ = self.store.update_account(&updated).await;
            }
        }
        self.after_password(&account, username_used, warnings, None, client, known, now).await
    }

    async fn rehash(&self, password: &str) -> Result<String, LoginError> {
        let pw = Password::new(password).map_err(|_| LoginError::Internal)?;
        self.hash_password(pw).await
    }

    /// The account's factors sorted into usable (best first, the last used first of all)
    /// and unavailable.
    async fn usable(
        &self,
        account: &Account,
        now: SystemTime,
    ) -> Result<(Vec<Factor>, Vec<UnavailableFactor>), LoginError> {
        let factors = self.store.factors(account.id).await?;
        let plan = plan_second_factor(&self.config.policy, account, factors, now);
        Ok((plan.usable, plan.unavailable))
    }

    /// Whether the account has, or ever had, a second factor of any kind (retired, used up,
    /// not yet activated, suspended): such an account never binds a factor after the
    /// password alone.
    async fn ever_had_factor(&self, account: &Account) -> Result<bool, LoginError> {
        Ok(account.had_second_factor || !self.store.factors(account.id).await?.is_empty())
    }

    #[allow(clippy::too_many_arguments)]
    async fn after_password(
        &self,
        account: &Account,
        username_used: bool,
        warnings: Vec<Warning>,
        step_up: Option<&Session>,
        client: &ClientInfo,
        known: bool,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (mut usable, unavailable) = self.usable(account, now).await?;
        let ever_had = self.ever_had_factor(account).await?;
        if let Some(s) = step_up {
            // A step-up proves what existed before the session: never a factor it enrolled
            // or one created since.
            usable.retain(|f| !s.enrolled.contains(&f.id) && f.created < s.created);
            if !usable.iter().any(|f| f.kind != FactorKind::RecoveryCodes) {
                return Err(LoginError::MethodUnavailable);
            }
        }
        for u in &unavailable {
            if let Unavailable::Retired { reason } = u.reason {
                self.audit(
                    now,
                    AuditEvent::RetiredFactorRefused { account: account.id, kind: u.kind, reason },
                );
            }
        }
        let second_factors: Vec<&Factor> =
            usable.iter().filter(|f| f.kind != FactorKind::RecoveryCodes).collect();
        if second_factors.is_empty() {
            let created = from_unix(account.created);
            // An account that has or had a factor never gets a password-only session: the
            // password alone must not be enough to bind a new factor to it.
            if ever_had || self.config.policy.mfa.must_enroll(created, now) {
                self.audit(now, AuditEvent::EnrollmentForced { account: account.id });
                let proof =
                    if ever_had { EnrollmentProof::Required } else { EnrollmentProof::NotRequired };
                if ever_had && !known {
                    // The password of an account with a factor was used from a new browser:
                    // its owner hears of it before anything can be bound.
                    let c = SessionClient::of(client);
                    let notice = Notice::NewDeviceSignIn {
                        product: self.config.product.clone(),
                        browser: c.browser.clone(),
                        ip: c.ip.clone(),
                        at: now,
                    };
                    self.notify(account, notice, &format!("{}\u{0}{}", c.browser, c.ip), now).await;
                }
                let (session, token) = self
                    .new_session(
                        account,
                        Assurance::Aal1,
                        None,
                        unix(now),
                        true,
                        proof,
                        SessionClient::of(client),
                        now,
                    )
                    .await?;
                return Ok(LoginStep::MustEnroll {
                    session,
                    session_token: SessionToken(token),
                    unavailable,
                    enrollable: self.enrollable(now),
                    warnings,
                });
            }
            // Inside the grace period: password only, with a reminder.
            let deadline = self.config.policy.mfa.deadline(created).map_or(0, unix);
            let client = SessionClient::of(client);
            let mut auth =
                self.finish(account, None, username_used, unix(now), &client, known, now).await?;
            auth.required_actions.insert(0, RequiredAction::EnrollMfa { deadline });
            return Ok(LoginStep::Authenticated(auth));
        }
        let flow = LoginFlow {
            v: 1,
            account: account.id,
            password_at: unix(now),
            expires: unix(now) + self.config.login_ttl.as_secs(),
            username_used,
            warnings,
            active: Active::None,
            step_up: step_up.map(|s| s.id.clone()),
            client: SessionClient::of(client),
            known,
            epoch: account.session_epoch,
        };
        let id = self.random_id();
        // The preferred method first; one that cannot start now (push suspended or at its
        // fatigue limit, no WebAuthn options) steers the user to the next.
        for factor in &usable {
            let step = self
                .start_method(
                    account,
                    &id,
                    flow.clone(),
                    factor,
                    &usable,
                    unavailable.clone(),
                    client,
                    now,
                )
                .await;
            match step {
                Err(LoginError::MethodUnavailable) => continue,
                other => return other,
            }
        }
        Err(LoginError::MethodUnavailable)
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_method(
        &self,
        account: &Account,
        id: &str,
        mut flow: LoginFlow,
        factor: &Factor,
        usable: &[Factor],
        unavailable: Vec<UnavailableFactor>,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (active, prompt) = match &factor.data {
            FactorData::Totp { .. } => (Active::Totp { factor: factor.id }, Prompt::TotpCode),
            FactorData::RecoveryCodes { .. } => {
                (Active::Recovery { factor: factor.id }, Prompt::RecoveryCode)
            }
            FactorData::EmailCode => {
                let (code, pending) = self
                    .with_rng(|r| self.services.email_codes.issue(&account.id.to_string(), now, r));
                let notice = Notice::EmailOneTimeCode {
                    product: self.config.product.clone(),
                    code: code.expose_secret().to_owned(),
                    expires: pending.expires(),
                };
                self.mailer
                    .send(&account.email, &notice)
                    .await
                    .map_err(|_| LoginError::Internal)?;
                (
                    Active::EmailCode { factor: factor.id, pending },
                    Prompt::EmailCode { sent_to: account.email.masked() },
                )
            }
            FactorData::WebAuthn(_) => {
                let creds = webauthn_of(usable);
                let (options, state) = self
                    .services
                    .webauthn
                    .start_authentication(account.id.0, &creds, now)
                    .map_err(|_| LoginError::MethodUnavailable)?;
                (
                    Active::WebAuthn { state: Box::new(state) },
                    Prompt::WebAuthn { options: options.as_json().to_owned() },
                )
            }
            FactorData::Push(device) => {
                let history = self.push_history(account.id, now).await?;
                let context = self.sign_in_context(client, now);
                let request =
                    ChallengeRequest { purpose: Purpose::Login, flow: id.as_bytes(), context };
                let issued = self
                    .with_rng(|r| self.services.push.issue(device, request, &history, now, r))
                    .map_err(|_| LoginError::MethodUnavailable)?;
                let challenge = self.record_push(account.id, &issued.record, now).await?;
                let _ = self.push_sender.send(&device.push_token, &issued.hint).await;
                (
                    Active::Push { factor: factor.id, challenge },
                    Prompt::Push { number: issued.number, device: device.display_name.clone() },
                )
            }
            FactorData::Phone { .. } => return Err(LoginError::MethodUnavailable),
        };
        flow.active = active;
        let expires = from_unix(flow.expires);
        self.store.put_flow(&flow_key("login", id), &serde_json::to_vec(&flow)?, expires).await?;
        let view = |f: &Factor| MethodView { factor: f.id, kind: f.kind, name: f.name.clone() };
        Ok(LoginStep::Challenge(ChallengeView {
            flow: id.to_owned(),
            method: view(factor),
            prompt,
            alternatives: usable.iter().filter(|f| f.id != factor.id).map(view).collect(),
            unavailable,
            warnings: flow.warnings.clone(),
        }))
    }

    fn enrollable(&self, now: SystemTime) -> Vec<FactorKind> {
        [
            FactorKind::SecurityKey,
            FactorKind::Passkey,
            FactorKind::BiometricKey,
            FactorKind::Push,
            FactorKind::Totp,
            FactorKind::EmailCode,
        ]
        .into_iter()
        .filter(|k| self.config.policy.retirement.allows(*k, now))
        .collect()
    }

    async fn take_login(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Result<(LoginFlow, Account), LoginError> {
        let bytes = self
            .store
            .take_flow(&flow_key("login", id), now)
            .await?
            .ok_or(LoginError::FlowExpired)?;
        let flow: LoginFlow =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        if unix(now) >= flow.expires {
            return Err(LoginError::FlowExpired);
        }
        let account = self.store.account(flow.account).await?.ok_or(LoginError::FlowExpired)?;
        if account.session_epoch != flow.epoch {
            // The account's sessions were revoked since the password was checked.
            return Err(LoginError::FlowExpired);
        }
        Ok((flow, account))
    }

    async fn put_login(&self, id: &str, flow: &LoginFlow) -> Result<(), LoginError> {
        self.store
            .put_flow(&flow_key("login", id), &serde_json::to_vec(flow)?, from_unix(flow.expires))
            .await?;
        Ok(())
    }

    /// "Try another method": switches the flow to another of the user's usable factors
    /// without repeating the password.
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`], [`LoginError::MethodUnavailable`].
    pub async fn select_method(
        &self,
        flow_id: &str,
        factor: FactorId,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (mut flow, account) = self.take_login(flow_id, now).await?;
        let (mut usable, unavailable) = self.usable(&account, now).await?;
        if let Some(id) = &flow.step_up {
            // A step-up never switches to a factor its session enrolled, or one created since.
            let s = self.store.session(id).await?.ok_or(LoginError::NotSignedIn)?;
            usable.retain(|f| !s.enrolled.contains(&f.id) && f.created < s.created);
        }
        let Some(chosen) = usable.iter().find(|f| f.id == factor).cloned() else {
            self.put_login(flow_id, &flow).await?;
            return Err(LoginError::MethodUnavailable);
        };
        if let Active::Push { challenge, .. } = &flow.active {
            self.close_push(challenge, now).await?;
        }
        flow.active = Active::None;
        self.start_method(&account, flow_id, flow, &chosen, &usable, unavailable, client, now).await
    }

    async fn second_factor_failed(
        &self,
        flow_id: &str,
        flow: &LoginFlow,
        now: SystemTime,
    ) -> Result<LoginError, LoginError> {
        let state = self.fail(&flow_key("mfa-acct", &flow.account.to_string()), now).await?;
        self.audit(
            now,
            AuditEvent::LoginFailed {
                account: Some(flow.account),
                reason: FailureReason::WrongSecondFactor,
            },
        );
        if self.config.policy.throttle.at_hard_limit(state, now) {
            self.audit(now, AuditEvent::Throttled { account: Some(flow.account) });
            return Ok(LoginError::Throttled {
                retry_after: self.config.policy.throttle.half_life.as_secs(),
            });
        }
        self.put_login(flow_id, flow).await?;
        Ok(LoginError::WrongSecondFactor)
    }

    async fn check_mfa_throttle(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let state = self.store.throttle(&flow_key("mfa-acct", &account.to_string())).await?;
        let policy = self.config.policy.throttle;
        if policy.at_hard_limit(state, now) {
            return Err(LoginError::Throttled { retry_after: policy.half_life.as_secs() });
        }
        let wait = policy.wait(state, now);
        if wait > Duration::ZERO {
            return Err(LoginError::Throttled { retry_after: wait.as_secs().max(1) });
        }
        Ok(())
    }

    /// Submits a typed code for the active method (authenticator app, email code or
    /// recovery code).
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`] (the flow stays open), [`LoginError::FlowExpired`],
    /// [`LoginError::Throttled`], [`LoginError::MethodUnavailable`].
    pub async fn submit_code(
        &self,
        flow_id: &str,
        code: &str,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (flow, account) = self.take_login(flow_id, now).await?;
        if let Err(e) = self.check_mfa_throttle(account.id, now).await {
            self.put_login(flow_id, &flow).await?;
            return Err(e);
        }
        let factor_id = match &flow.active {
            Active::Totp { factor }
            | Active::Recovery { factor }
            | Active::EmailCode { factor, .. } => *factor,
            _ => {
                self.put_login(flow_id, &flow).await?;
                return Err(LoginError::MethodUnavailable);
            }
        };
        let factor = self.store.factors(account.id).await?.into_iter().find(|f| f.id == factor_id);
        let Some(factor) = factor.filter(|f| self.config.policy.retirement.allows(f.kind, now))
        else {
            return Err(LoginError::MethodUnavailable);
        };
        let ok = match (&flow.active, &factor.data) {
            (Active::Totp { .. }, FactorData::Totp { sealed_secret, profile, last_step }) => {
                let secret = self
                    .services
                    .sealer
                    .open(sealed_secret, account.id.0.as_bytes(), "totp")
                    .map_err(|_| LoginError::Internal)?;
                let secret = TotpSecret::from_bytes(secret.expose_secret())
                    .map_err(|_| LoginError::Internal)?;
                let credential = TotpCredential::new(secret, *profile);
                let window = self.services.totp.verification_window();
                match credential.verify(code, now, window, *last_step) {
                    // The atomic advance is the replay guard across requests and replicas.
                    Ok(step) => self.store.advance_totp_step(factor.id, step.0).await?,
                    Err(_) => false,
                }
            }
            (Active::EmailCode { pending, .. }, FactorData::EmailCode) => {
                let mut pending = pending.clone();
                self.services
                    .email_codes
                    .verify(&account.id.to_string(), &mut pending, code, now)
                    .is_ok()
            }
            (Active::Recovery { .. }, FactorData::RecoveryCodes { .. }) => {
                let used = self.consume_recovery_code(&account, &factor, code, now).await?;
                if used {
                    // A recovery code is the last resort of someone who lost the rest: every
                    // other session and known device of the account ends (a step-up keeps
                    // the session it steps up).
                    let keep = match &flow.step_up {
                        Some(id) => self.store.session(id).await?,
                        None => None,
                    };
                    let kept = self
                        .revoke(account.id, keep.as_ref(), RevocationReason::RecoveryCodeUsed, now)
                        .await?;
                    if flow.step_up.is_some() && kept.is_none() {
                        return Err(LoginError::NotSignedIn);
                    }
                }
                used
            }
            _ => false,
        };
        if !ok {
            return Err(self.second_factor_failed(flow_id, &flow, now).await?);
        }
        self.second_factor_passed(&flow, &account, &factor, now).await
    }

    /// Submits the browser's WebAuthn assertion.
    ///
    /// # Errors
    /// As [`Auth::submit_code`].
    pub async fn submit_webauthn(
        &self,
        flow_id: &str,
        response_json: &str,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        let (flow, account) = self.take_login(flow_id, now).await?;
        if let Err(e) = self.check_mfa_throttle(account.id, now).await {
            self.put_login(flow_id, &flow).await?;
            return Err(e);
        }
        let Active::WebAuthn { state } = &flow.active else {
            self.put_login(flow_id, &flow).await?;
            return Err(LoginError::MethodUnavailable);
        };
        let factors: Vec<Factor> = self
            .store
            .factors(account.id)
            .await?
            .into_iter()
            .filter(|f| self.config.policy.retirement.allows(f.kind, now) && f.suspended.is_none())
            .collect();
        let creds = webauthn_of(&factors);
        let result =
            self.services.webauthn.finish_authentication(state, response_json, &creds, now);
        let done = match result {
            Ok(done) => done,
            Err(mfa_webauthn::CeremonyError::PossibleClone) => {
                // A valid signature with a counter that went backwards: two authenticators
                // hold this key. Suspend it until the owner acts.
                self.suspend_cloned(&account, &factors, response_json, now).await?;
                return Err(self.second_factor_failed(flow_id, &flow, now).await?);
            }
            Err(_) => return Err(self.second_factor_failed(flow_id, &flow, now).await?),
        };
        let Some(factor) = factors
            .iter()
            .find(|f| matches!(&f.data, FactorData::WebAuthn(c) if c.id() == done.credential.id()))
        else {
            return Err(LoginError::Internal);
        };
        let mut updated = factor.clone();
        updated.data = FactorData::WebAuthn(Box::new(done.credential));
        updated.version += 1;
        // The counter only rises: a concurrent use of the same assertion loses here.
        if self.store.update_factor(&updated).await.is_err() {
            return Err(self.second_factor_failed(flow_id, &flow, now).await?);
        }
        self.second_factor_passed(&flow, &account, &updated, now).await
    }

    /// Suspends the WebAuthn factor an assertion with a backwards counter named, audits it
    /// and tells the account.
    async fn suspend_cloned(
        &self,
        account: &Account,
        factors: &[Factor],
        response_json: &str,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let Ok(id) = mfa_webauthn::assertion_credential_id(response_json) else { return Ok(()) };
        let Some(factor) = factors
            .iter()
            .find(|f| matches!(&f.data, FactorData::WebAuthn(c) if c.id() == id.as_slice()))
        else {
            return Ok(());
        };
        // Compare-and-swap, re-read on a lost race (the clone's own sign-in may be updating
        // the counter at the same moment): the suspension must not be lost.
        let mut current = factor.clone();
        for _ in 0..8 {
            let mut suspended = current.clone();
            suspended.suspended =
                Some(Suspension { reason: SuspensionReason::PossibleClone, since: unix(now) });
            suspended.version += 1;
            match self.store.update_factor(&suspended).await {
                Ok(()) => break,
                Err(StoreError::Stale) => {
                    let fresh = self.store.factors(account.id).await?;
                    match fresh.into_iter().find(|f| f.id == factor.id) {
                        Some(f) => current = f,
                        None => return Ok(()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Whoever signed in with the clone is signed out: every session of the account ends.
        self.revoke(account.id, None, RevocationReason::FactorSuspended, now).await?;
        self.audit(
            now,
            AuditEvent::FactorSuspended {
                account: account.id,
                kind: factor.kind,
                reason: SuspensionReason::PossibleClone,
            },
        );
        let notice = Notice::SecurityKeySuspended {
            product: self.config.product.clone(),
            name: factor.name.clone(),
            at: now,
        };
        self.notify(account, notice, &factor.id.to_string(), now).await;
        Ok(())
    }

    /// Polls a login waiting for a push approval.
    ///
    /// # Errors
    /// [`LoginError::PushDenied`], [`LoginError::FlowExpired`], [`LoginError::MethodUnavailable`].
    pub async fn poll_push(&self, flow_id: &str, now: SystemTime) -> Result<LoginStep, LoginError> {
        let (flow, account) = self.take_login(flow_id, now).await?;
        let Active::Push { factor, challenge } = &flow.active else {
            self.put_login(flow_id, &flow).await?;
            return Err(LoginError::MethodUnavailable);
        };
        let record = self.load_push(challenge, now).await?;
        match record.as_ref().map(|r| r.state) {
            Some(ChallengeState::Pending) => {
                self.put_login(flow_id, &flow).await?;
                Ok(LoginStep::Waiting)
            }
            Some(ChallengeState::Approved) => {
                let record = record.ok_or(LoginError::Internal)?;
                let next = self
                    .services
                    .push
                    .consume(&record, flow_id.as_bytes(), now)
                    .map_err(|_| LoginError::WrongSecondFactor)?;
                let mut used = record.clone();
                used.state = next;
                self.save_push(challenge, &used, now).await?;
                let f = self
                    .store
                    .factors(account.id)
                    .await?
                    .into_iter()
                    .find(|f| f.id == *factor)
                    .ok_or(LoginError::MethodUnavailable)?;
                if !self.config.policy.retirement.allows(f.kind, now) {
                    return Err(LoginError::MethodUnavailable);
                }
                self.second_factor_passed(&flow, &account, &f, now).await
            }
            Some(ChallengeState::FraudReported) => {
                self.audit(now, AuditEvent::PushFraudReported { account: account.id });
                self.audit(
                    now,
                    AuditEvent::LoginFailed {
                        account: Some(account.id),
                        reason: FailureReason::PushDenied,
                    },
                );
                self.put_login(flow_id, &LoginFlow { active: Active::None, ..flow }).await?;
                Err(LoginError::PushDenied)
            }
            _ => {
                self.audit(
                    now,
                    AuditEvent::LoginFailed {
                        account: Some(account.id),
                        reason: FailureReason::PushDenied,
                    },
                );
                self.put_login(flow_id, &LoginFlow { active: Active::None, ..flow }).await?;
                Err(LoginError::PushDenied)
            }
        }
    }

    async fn second_factor_passed(
        &self,
        flow: &LoginFlow,
        account: &Account,
        factor: &Factor,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        self.store
            .update_throttle(&flow_key("mfa-acct", &account.id.to_string()), |_| {
                ThrottleState::default()
            })
            .await?;
        if let Some(id) = &flow.step_up {
            // Only a factor that existed before the session steps it up: never one it
            // enrolled, nor one created since (a phone that registered meanwhile).
            let session = self.store.session(id).await?.ok_or(LoginError::NotSignedIn)?;
            if session.account != account.id {
                return Err(LoginError::NotSignedIn);
            }
            if session.enrolled.contains(&factor.id) || factor.created >= session.created {
                return Err(LoginError::MethodUnavailable);
            }
            self.mark_used(account, factor, now).await?;
            let stepped = self
                .modify_session(id, |s| {
                    s.second_factor_at = Some(unix(now));
                    s.second_factor = Some(factor.id);
                    s.last_seen = unix(now);
                })
                .await?;
            self.audit(now, AuditEvent::SteppedUp { account: account.id, kind: factor.kind });
            return Ok(LoginStep::SteppedUp(stepped));
        }
        let auth = self
            .finish(
                account,
                Some(factor),
                flow.username_used,
                flow.password_at,
                &flow.client,
                flow.known,
                now,
            )
            .await?;
        Ok(LoginStep::Authenticated(auth))
    }

    /// Records the factor's use and makes it the preferred method.
    async fn mark_used(
        &self,
        account: &Account,
        f: &Factor,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        // The stored record as it is now (a step may have advanced it since `f` was read).
        let stored = self.store.factors(account.id).await?.into_iter().find(|x| x.id == f.id);
        let mut used = stored.unwrap_or_else(|| f.clone());
        used.last_used = Some(unix(now));
        used.version += 1;
        let _ = self.store.update_factor(&used).await;
        if account.last_factor != Some(f.id)
            && f.kind != FactorKind::RecoveryCodes
            && let Some(mut a) = self.store.account(account.id).await?
        {
            a.last_factor = Some(f.id);
            a.version += 1;
            let _ = self.store.update_account(&a).await;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        account: &Account,
        factor: Option<&Factor>,
        username_used: bool,
        password_at: u64,
        client: &SessionClient,
        known: bool,
        now: SystemTime,
    ) -> Result<Authenticated, LoginError> {
        let mut actions = Vec::new();
        if username_used {
            actions.push(RequiredAction::ConfirmEmailAsLogin);
        }
        let factors = self.store.factors(account.id).await?;
        if !factors.iter().any(|f| matches!(f.kind, FactorKind::Passkey | FactorKind::BiometricKey))
        {
            actions.push(RequiredAction::OfferBiometricKey);
        }
        if let Some(FactorData::RecoveryCodes { stored: s }) =
            factors.iter().find(|f| f.kind == FactorKind::RecoveryCodes).map(|f| &f.data)
        {
            let remaining = RecoveryCodeSet::from_stored(s).map_or(0, |s| s.remaining());
            if remaining <= self.config.recovery_codes_low {
                actions.push(RequiredAction::RecoveryCodesLow { remaining });
            }
        }
        let assurance = match factor {
            Some(f) if f.kind.phishing_resistant() => Assurance::Aal3,
            Some(_) => Assurance::Aal2,
            None => Assurance::Aal1,
        };
        if let Some(f) = factor {
            self.mark_used(account, f, now).await?;
        }
        // The account as stored now: a recovery-code login has just moved its epoch on.
        let current = self.store.account(account.id).await?.ok_or(LoginError::FlowExpired)?;
        let (session, token) = self
            .new_session(
                &current,
                assurance,
                factor,
                password_at,
                false,
                EnrollmentProof::NotRequired,
                client.clone(),
                now,
            )
            .await?;
        let known_device = self.random_id();
        let key = flow_key("kd", &TokenHash::of(&known_device).to_base64url());
        let record = KnownDevice { account: account.id, epoch: current.session_epoch };
        self.store
            .put_flow(&key, &serde_json::to_vec(&record)?, now + self.config.known_device_ttl)
            .await?;
        if !known {
            let notice = Notice::NewDeviceSignIn {
                product: self.config.product.clone(),
                browser: client.browser.clone(),
                ip: client.ip.clone(),
                at: now,
            };
            self.notify(&current, notice, &format!("{}\u{0}{}", client.browser, client.ip), now)
                .await;
        }
        self.audit(
            now,
            AuditEvent::LoginSucceeded {
                account: account.id,
                factor: factor.map(|f| f.kind),
                assurance,
            },
        );
        Ok(Authenticated {
            session,
            session_token: SessionToken(token),
            factor: factor.map(|f| MethodView { factor: f.id, kind: f.kind, name: f.name.clone() }),
            assurance,
            required_actions: actions,
            known_device,
        })
    }

    // ----- push plumbing -----

    async fn push_history(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<Vec<ChallengeRecord>, LoginError> {
        let mut out = Vec::new();
        for id in self.push_log(account, now).await? {
            if let Some(r) = self.load_push(&id, now).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn record_push(
        &self,
        account: AccountId,
        record: &ChallengeRecord,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let id = URL_SAFE_NO_PAD.encode(&record.id);
        // One pending push per account, atomically: the lock lives as long as the challenge.
        let lock = flow_key("pushlock", &account.to_string());
        self.store
            .put_flow_new(&lock, id.as_bytes(), from_unix(record.expires), now)
            .await
            .map_err(|e| {
                if e == StoreError::Conflict { LoginError::MethodUnavailable } else { e.into() }
            })?;
        self.save_push(&id, record, now).await?;
        let mut ids = self.push_log(account, now).await?;
        ids.push(id.clone());
        let keep = ids.len().saturating_sub(50);
        ids.drain(..keep);
        let key = flow_key("pushlog", &account.to_string());
        self.store.put_flow(&key, &serde_json::to_vec(&ids)?, now + PUSH_RECORD_TTL).await?;
        Ok(id)
    }

    /// The ids of the account's recent push challenges, oldest first.
    async fn push_log(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<Vec<String>, LoginError> {
        let key = flow_key("pushlog", &account.to_string());
        Ok(match self.store.get_flow(&key, now).await? {
            Some(b) => serde_json::from_slice(&b).unwrap_or_default(),
            None => Vec::new(),
        })
    }

    async fn load_push(
        &self,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<ChallengeRecord>, LoginError> {
        Ok(match self.store.get_flow(&flow_key("push", id), now).await? {
            Some(b) => Some(serde_json::from_slice(&b)?),
            None => None,
        })
    }

    async fn save_push(
        &self,
        id: &str,
        record: &ChallengeRecord,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let keep = now + PUSH_RECORD_TTL;
        self.store.put_flow(&flow_key("push", id), &serde_json::to_vec(record)?, keep).await?;
        if record.state != ChallengeState::Pending {
            let _ = self.store.take_flow(&flow_key("pushlock", &record.account), now).await;
        }
        Ok(())
    }

    async fn close_push(&self, id: &str, now: SystemTime) -> Result<(), LoginError> {
        if let Some(record) = self.load_push(id, now).await?
            && let Some(next) = self.services.push.close(&record, now)
        {
            let mut closed = record;
            closed.state = next;
            self.save_push(id, &closed, now).await?;
        }
        Ok(())
    }

    async fn push_device(
        &self,
        account: &str,
        device_id: &[u8],
    ) -> Result<(Factor, mfa_push::DeviceRecord), LoginError> {
        let account = AccountId(Uuid::parse_str(account).map_err(|_| LoginError::Malformed)?);
        for f in self.store.factors(account).await? {
            if let FactorData::Push(d) = &f.data
                && d.id == device_id
            {
                let d = (**d).clone();
                return Ok((f, d));
            }
        }
        Err(LoginError::MethodUnavailable)
    }

    /// The phone's signed fetch of a challenge (after a push hint): the signed challenge.
    ///
    /// # Errors
    /// [`LoginError::Malformed`], [`LoginError::MethodUnavailable`] (unknown or closed).
    pub async fn push_device_fetch(
        &self,
        request_json: &str,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let req: mfa_push::FetchRequest =
            serde_json::from_str(request_json).map_err(|_| LoginError::Malformed)?;
        let id = URL_SAFE_NO_PAD.encode(&req.challenge_id);
        let record = self.load_push(&id, now).await?.ok_or(LoginError::MethodUnavailable)?;
        let (_, device) = self.push_device(&record.account, &record.device_id).await?;
        self.services
            .push
            .fetch(&device, &record, request_json, now)
            .map_err(|_| LoginError::MethodUnavailable)
    }

    /// The phone's signed answer. One transition out of Pending: the challenge record is
    /// taken while it changes.
    ///
    /// # Errors
    /// [`LoginError::Malformed`], [`LoginError::MethodUnavailable`], [`LoginError::WrongSecondFactor`].
    pub async fn push_device_respond(
        &self,
        response_json: &str,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let msg: mfa_push::ResponseMessage =
            serde_json::from_str(response_json).map_err(|_| LoginError::Malformed)?;
        let id = URL_SAFE_NO_PAD.encode(&msg.challenge_id);
        let bytes = self
            .store
            .take_flow(&flow_key("push", &id), now)
            .await?
            .ok_or(LoginError::MethodUnavailable)?;
        let record: ChallengeRecord = serde_json::from_slice(&bytes)?;
        let device = self.push_device(&record.account, &record.device_id).await;
        let answered = device.as_ref().map_err(Clone::clone).and_then(|(_, d)| {
            self.services
                .push
                .respond(d, &record, response_json, now)
                .map_err(|_| LoginError::WrongSecondFactor)
        });
        let Ok(answered) = answered else {
            // Refused: the challenge goes back unchanged.
            self.save_push(&id, &record, now).await?;
            return Err(answered.err().unwrap_or(LoginError::Internal));
        };
        let mut next = record.clone();
        next.state = answered.state;
        self.save_push(&id, &next, now).await?;
        // An approved activation does not activate the device here: the enrollment does, for
        // its session (`push_enrollment_status`), so that the device is recorded as enrolled
        // in that session, the account is told, and a revoked session activates nothing.
        if answered.state == ChallengeState::FraudReported
            && let Ok(account) = Uuid::parse_str(&record.account)
        {
            let account = AccountId(account);
            self.audit(now, AuditEvent::PushFraudReported { account });
            if let Some(a) = self.store.account(account).await? {
                let notice =
                    Notice::PushFraudReported { product: self.config.product.clone(), at: now };
                self.notify(&a, notice, &id, now).await;
            }
        }
        Ok(())
    }

    // ----- step-up -----

    fn require_step_up(&self, session: &Session, now: SystemTime) -> Result<(), LoginError> {
        if session.enrollment_only
            || !self.config.policy.step_up.is_fresh(session.second_factor_at.map(from_unix), now)
        {
            self.audit(now, AuditEvent::StepUpRequired { account: session.account });
            return Err(LoginError::StepUpRequired);
        }
        Ok(())
    }

    /// Starts a step-up: a second-factor challenge for a signed-in session, without the
    /// password, over the factors that existed before the session (one it enrolled never
    /// counts). Finish it like a login: the result is [`LoginStep::SteppedUp`] with the
    /// stored session's `second_factor_at` fresh.
    ///
    /// # Errors
    /// [`LoginError::MethodUnavailable`] if no such factor is usable (sign in again),
    /// [`LoginError::NotSignedIn`] for a revoked session.
    pub async fn begin_step_up(
        &self,
        session: &Session,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<LoginStep, LoginError> {
        Self::require_full(session)?;
        let account = self.account_of(session).await?;
        // The stored session: what it enrolled is recorded there, not in the caller's copy.
        let session = self.stored_copy(session).await?;
        let step = self
            .after_password(&account, false, Vec::new(), Some(&session), client, true, now)
            .await?;
        match step {
            step @ LoginStep::Challenge(_) => Ok(step),
            _ => Err(LoginError::MethodUnavailable),
        }
    }

    /// May `session` enroll a factor now? An enrollment-only session may, within the
    /// enrollment time and after the proof its account owes, and so may go on the session it
    /// became; a session of an account without a usable factor (grace period) may shortly
    /// after the password; any other needs a fresh second factor.
    async fn may_enroll(&self, session: &Session, now: SystemTime) -> Result<Account, LoginError> {
        let account = self.account_of(session).await?;
        Self::check_enrollment_room(session)?;
        let recent_password =
            unix(now).saturating_sub(session.password_at) <= self.config.enrollment_ttl.as_secs();
        if session.enrollment_only {
            if session.proof == EnrollmentProof::Required {
                return Err(LoginError::ProofRequired);
            }
            if !recent_password {
                return Err(LoginError::NotSignedIn);
            }
            return Ok(account);
        }
        if session.forced_enrollment && recent_password {
            return Ok(account);
        }
        let (usable, _) = self.usable(&account, now).await?;
        let has_second = usable.iter().any(|f| f.kind != FactorKind::RecoveryCodes);
        if has_second || account.had_second_factor {
            self.require_step_up(session, now)?;
        } else if !recent_password {
            return Err(LoginError::StepUpRequired);
        }
        Ok(account)
    }

    async fn add_enrolled(
        &self,
        session: &Session,
        account: &Account,
        kind: FactorKind,
        name: &str,
        data: FactorData,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        if !self.config.policy.retirement.allows(kind, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let factor = Factor {
            id: FactorId(self.uuid()),
            account: account.id,
            kind,
            name: factor_name(name)?,
            created: unix(now),
            last_used: Some(unix(now)),
            version: 1,
            data,
            suspended: None,
        };
        self.change_factors_for(session, FactorChange::Add(factor.clone())).await?;
        self.complete_enrollment(session, account, &factor, now).await
    }

    /// What every enrollment does once its factor is stored: remembers that the account has
    /// a second factor, records it in the session (which it does not make fresh), tells the
    /// account's address, and issues recovery codes when the account has none.
    async fn complete_enrollment(
        &self,
        session: &Session,
        account: &Account,
        factor: &Factor,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        self.audit(now, AuditEvent::FactorEnrolled { account: account.id, kind: factor.kind });
        // The address hears of it whatever happens to the session next.
        let notice = Notice::FactorAdded {
            product: self.config.product.clone(),
            kind: notify::label(factor.kind),
            name: factor.name.clone(),
            at: now,
        };
        self.notify(account, notice, &factor.id.to_string(), now).await;
        self.remember_second_factor(account.id).await?;
        let session = self.enrolled_in(session, factor.id).await?;
        let has_codes = self
            .store
            .factors(account.id)
            .await?
            .iter()
            .any(|f| f.kind == FactorKind::RecoveryCodes);
        let recovery_codes = if has_codes {
            None
        } else {
            Some(self.issue_recovery_codes(&session, None, now).await?)
        };
        Ok(Enrolled {
            factor: MethodView { factor: factor.id, kind: factor.kind, name: factor.name.clone() },
            recovery_codes,
            session,
        })
    }

    /// Sets the account's `had_second_factor` (compare-and-swap, retried).
    async fn remember_second_factor(&self, account: AccountId) -> Result<(), LoginError> {
        for _ in 0..8 {
            let mut a = self.store.account(account).await?.ok_or(LoginError::NotSignedIn)?;
            if a.had_second_factor {
                return Ok(());
            }
            a.had_second_factor = true;
            a.version += 1;
            match self.store.update_account(&a).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Stale) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(LoginError::Store(StoreError::Unavailable("account too contended".into())))
    }

    async fn issue_recovery_codes(
        &self,
        session: &Session,
        replace: Option<&Factor>,
        now: SystemTime,
    ) -> Result<Vec<String>, LoginError> {
        let (codes, set) =
            self.with_rng(|r| self.services.recovery.generate(self.config.recovery_codes, r));
        let shown = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
        let change = match replace {
            Some(old) => {
                let mut f = old.clone();
                f.data = FactorData::RecoveryCodes { stored: set.to_stored() };
                f.version += 1;
                f.created = unix(now);
                FactorChange::Update(f)
            }
            None => FactorChange::Add(Factor {
                id: FactorId(self.uuid()),
                account: session.account,
                kind: FactorKind::RecoveryCodes,
                name: "Recovery codes".into(),
                created: unix(now),
                last_used: None,
                version: 1,
                data: FactorData::RecoveryCodes { stored: set.to_stored() },
                suspended: None,
            }),
        };
        self.change_factors_for(session, change).await?;
        self.audit(now, AuditEvent::RecoveryCodesIssued { account: session.account });
        Ok(shown)
    }

    // ----- enrollment -----

    /// Starts an authenticator-app enrollment: the QR code to show.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`] (retired).
    pub async fn begin_totp(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<TotpEnrollment, LoginError> {
        let account = self.may_enroll(session, now).await?;
        if !self.config.policy.retirement.allows(FactorKind::Totp, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let pending = self
            .with_rng(|r| self.services.totp.start_enrollment(account.email.as_typed(), r))
            .map_err(|_| LoginError::Internal)?;
        let sealed = self
            .with_rng(|r| {
                self.services.sealer.seal(
                    pending.secret().expose_secret(),
                    account.id.0.as_bytes(),
                    "totp",
                    r,
                )
            })
            .map_err(|_| LoginError::Internal)?;
        let flow = self.random_id();
        let state = Enrollment::Totp { account: account.id, sealed };
        self.store
            .put_flow(
                &flow_key("enroll", &flow),
                &serde_json::to_vec(&state)?,
                now + self.config.enrollment_ttl,
            )
            .await?;
        Ok(TotpEnrollment {
            flow,
            uri: pending.uri().to_owned(),
            qr_svg: pending.qr_svg().to_string(),
            secret_base32: pending.secret().to_base32().to_string(),
        })
    }

    async fn take_enrollment(
        &self,
        session: &Session,
        flow: &str,
        now: SystemTime,
    ) -> Result<Enrollment, LoginError> {
        let bytes = self
            .store
            .take_flow(&flow_key("enroll", flow), now)
            .await?
            .ok_or(LoginError::FlowExpired)?;
        let e: Enrollment = serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        let owner = match &e {
            Enrollment::Totp { account, .. }
            | Enrollment::WebAuthn { account, .. }
            | Enrollment::EmailCode { account, .. }
            | Enrollment::Push { account, .. } => *account,
        };
        if owner != session.account {
            return Err(LoginError::FlowExpired);
        }
        Ok(e)
    }

    async fn put_enrollment(
        &self,
        flow: &str,
        e: &Enrollment,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.store
            .put_flow(
                &flow_key("enroll", flow),
                &serde_json::to_vec(e)?,
                now + self.config.enrollment_ttl,
            )
            .await?;
        Ok(())
    }

    /// Confirms an authenticator-app enrollment with the first code the app shows.
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`] (the enrollment stays open), [`LoginError::FlowExpired`].
    pub async fn confirm_totp(
        &self,
        session: &Session,
        flow: &str,
        code: &str,
        name: &str,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        let account = self.may_enroll(session, now).await?;
        let e = self.take_enrollment(session, flow, now).await?;
        let Enrollment::Totp { sealed, .. } = &e else { return Err(LoginError::FlowExpired) };
        let secret = self
            .services
            .sealer
            .open(sealed, account.id.0.as_bytes(), "totp")
            .map_err(|_| LoginError::Internal)?;
        let secret =
            TotpSecret::from_bytes(secret.expose_secret()).map_err(|_| LoginError::Internal)?;
        let pending = self
            .services
            .totp
            .resume_enrollment(account.email.as_typed(), secret)
            .map_err(|_| LoginError::Internal)?;
        match pending.confirm(code, now) {
            Ok((credential, step)) => {
                let data = FactorData::Totp {
                    sealed_secret: sealed.clone(),
                    profile: credential.profile(),
                    last_step: Some(step.0),
                };
                let name = if name.trim().is_empty() { "Authenticator app" } else { name };
                self.add_enrolled(session, &account, FactorKind::Totp, name, data, now).await
            }
            Err(_) => {
                self.put_enrollment(flow, &e, now).await?;
                Err(LoginError::WrongSecondFactor)
            }
        }
    }

    /// Starts a WebAuthn enrollment of `kind`: the options for `navigator.credentials.create()`.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`].
    pub async fn begin_webauthn(
        &self,
        session: &Session,
        kind: FactorKind,
        now: SystemTime,
    ) -> Result<(String, String), LoginError> {
        let account = self.may_enroll(session, now).await?;
        let ck = match kind {
            FactorKind::SecurityKey => CredentialKind::SecurityKey,
            FactorKind::Passkey => CredentialKind::Passkey,
            FactorKind::BiometricKey => CredentialKind::BiometricKey,
            _ => return Err(LoginError::MethodUnavailable),
        };
        if !self.config.policy.retirement.allows(kind, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let existing = self.webauthn_credentials(account.id).await?;
        let user = UserRef {
            id: account.id.0,
            name: account.email.as_typed(),
            display_name: account.email.as_typed(),
        };
        let (options, state) = self
            .services
            .webauthn
            .start_registration(ck, user, &existing, now)
            .map_err(|_| LoginError::Internal)?;
        let flow = self.random_id();
        self.put_enrollment(
            &flow,
            &Enrollment::WebAuthn { account: account.id, state: Box::new(state) },
            now,
        )
        .await?;
        Ok((flow, options.as_json().to_owned()))
    }

    async fn webauthn_credentials(
        &self,
        account: AccountId,
    ) -> Result<Vec<WebauthnCredential>, LoginError> {
        Ok(webauthn_of(&self.store.factors(account).await?))
    }

    /// Finishes a WebAuthn enrollment with the browser's response and the name the user chose.
    ///
    /// # Errors
    /// [`LoginError::Refused`] with the reason (name taken, wrong origin …), [`LoginError::FlowExpired`].
    pub async fn finish_webauthn(
        &self,
        session: &Session,
        flow: &str,
        response_json: &str,
        name: &str,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        let account = self.may_enroll(session, now).await?;
        let e = self.take_enrollment(session, flow, now).await?;
        let Enrollment::WebAuthn { state, .. } = &e else { return Err(LoginError::FlowExpired) };
        let existing = self.webauthn_credentials(account.id).await?;
        let credential = self
            .services
            .webauthn
            .finish_registration(state, response_json, name, &existing, now)
            .map_err(|e| LoginError::Refused(e.to_string()))?;
        let kind = match credential.kind() {
            CredentialKind::SecurityKey => FactorKind::SecurityKey,
            CredentialKind::Passkey => FactorKind::Passkey,
            CredentialKind::BiometricKey => FactorKind::BiometricKey,
        };
        let name = credential.name().to_owned();
        self.add_enrolled(
            session,
            &account,
            kind,
            &name,
            FactorData::WebAuthn(Box::new(credential)),
            now,
        )
        .await
    }

    /// Starts an email-code enrollment: sends a code to the account's address.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`].
    pub async fn begin_email_code(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let account = self.may_enroll(session, now).await?;
        if !self.config.policy.retirement.allows(FactorKind::EmailCode, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let (code, pending) =
            self.with_rng(|r| self.services.email_codes.issue(&account.id.to_string(), now, r));
        let notice = Notice::EmailOneTimeCode {
            product: self.config.product.clone(),
            code: code.expose_secret().to_owned(),
            expires: pending.expires(),
        };
        self.mailer.send(&account.email, &notice).await.map_err(|_| LoginError::Internal)?;
        let flow = self.random_id();
        self.put_enrollment(&flow, &Enrollment::EmailCode { account: account.id, pending }, now)
            .await?;
        Ok(flow)
    }

    /// Confirms an email-code enrollment with the code received.
    ///
    /// # Errors
    /// [`LoginError::WrongSecondFactor`], [`LoginError::FlowExpired`].
    pub async fn confirm_email_code(
        &self,
        session: &Session,
        flow: &str,
        code: &str,
        now: SystemTime,
    ) -> Result<Enrolled, LoginError> {
        let account = self.may_enroll(session, now).await?;
        let e = self.take_enrollment(session, flow, now).await?;
        let Enrollment::EmailCode { pending, .. } = &e else { return Err(LoginError::FlowExpired) };
        let mut p = pending.clone();
        if self.services.email_codes.verify(&account.id.to_string(), &mut p, code, now).is_err() {
            self.put_enrollment(flow, &e, now).await?;
            return Err(LoginError::WrongSecondFactor);
        }
        let name = account.email.masked();
        self.add_enrolled(
            session,
            &account,
            FactorKind::EmailCode,
            &name,
            FactorData::EmailCode,
            now,
        )
        .await
    }

    /// Starts a push-device enrollment: the offer URI for the QR code.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`].
    pub async fn begin_push(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<(String, String), LoginError> {
        let account = self.may_enroll(session, now).await?;
        if !self.config.policy.retirement.allows(FactorKind::Push, now) {
            return Err(LoginError::MethodUnavailable);
        }
        let (offer, pending) = self.with_rng(|r| {
            self.services.push.offer(&account.id.to_string(), account.email.as_typed(), now, r)
        });
        let eid = URL_SAFE_NO_PAD.encode(offer.enrollment_id);
        self.store
            .put_flow(
                &flow_key("pushoffer", &eid),
                &serde_json::to_vec(&pending)?,
                from_unix(pending.expires),
            )
            .await?;
        let flow = self.random_id();
        self.put_enrollment(
            &flow,
            &Enrollment::Push {
                account: account.id,
                stage: PushStage::Offered { enrollment_id: eid },
            },
            now,
        )
        .await?;
        Ok((flow, offer.to_uri().to_string()))
    }

    /// The phone registers under an offer (taken once). Returns the JSON response for the
    /// phone. The device stays inactive until its activation challenge is approved.
    ///
    /// # Errors
    /// [`LoginError::Malformed`], [`LoginError::FlowExpired`] (no such offer, or used),
    /// [`LoginError::Refused`].
    pub async fn push_device_register(
        &self,
        request_json: &str,
        now: SystemTime,
    ) -> Result<String, LoginError> {
        let req: mfa_push::RegistrationRequest =
            serde_json::from_str(request_json).map_err(|_| LoginError::Malformed)?;
        let eid = URL_SAFE_NO_PAD.encode(&req.enrollment_id);
        let bytes = self
            .store
            .take_flow(&flow_key("pushoffer", &eid), now)
            .await?
            .ok_or(LoginError::FlowExpired)?;
        let pending: mfa_push::PendingEnrollment = serde_json::from_slice(&bytes)?;
        let registered = self
            .with_rng(|r| self.services.push.register(&pending, request_json, now, r))
            .map_err(|e| LoginError::Refused(e.to_string()))?;
        let account =
            AccountId(Uuid::parse_str(&pending.account).map_err(|_| LoginError::Internal)?);
        let factor = Factor {
            id: FactorId(self.uuid()),
            account,
            kind: FactorKind::Push,
            name: registered.device.display_name.clone(),
            created: unix(now),
            last_used: None,
            version: 1,
            data: FactorData::Push(Box::new(registered.device.clone())),
            suspended: None,
        };
        self.store.add_factor(&factor).await?;
        if let Some(seed) = &registered.offline_totp_seed {
            let sealed = self
                .with_rng(|r| {
                    self.services.sealer.seal(seed.as_ref(), account.0.as_bytes(), "totp", r)
                })
                .map_err(|_| LoginError::Internal)?;
            let totp = Factor {
                id: FactorId(self.uuid()),
                account,
                kind: FactorKind::Totp,
                name: format!("{} (offline codes)", registered.device.display_name),
                created: unix(now),
                last_used: None,
                version: 1,
                data: FactorData::Totp {
                    sealed_secret: sealed,
                    profile: mfa_totp::Profile::DEFAULT,
                    last_step: None,
                },
                suspended: None,
            };
            // Kept aside until the device is active (see push_enrollment_status).
            self.store
                .put_flow(
                    &flow_key("pushseed", &factor.id.to_string()),
                    &serde_json::to_vec(&totp)?,
                    now + self.config.enrollment_ttl,
                )
                .await?;
        }
        self.store
            .put_flow(
                &flow_key("pushreg", &eid),
                factor.id.0.as_bytes(),
                now + self.config.enrollment_ttl,
            )
            .await?;
        Ok(registered.response)
    }

    /// Where a push enrollment stands; issues the activation challenge once the phone has
    /// registered.
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`].
    pub async fn push_enrollment_status(
        &self,
        session: &Session,
        flow: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<PushEnrollmentStatus, LoginError> {
        let e = self.take_enrollment(session, flow, now).await?;
        let Enrollment::Push { account, stage } = &e else { return Err(LoginError::FlowExpired) };
        match stage {
            PushStage::Offered { enrollment_id } => {
                let Some(fid) =
                    self.store.take_flow(&flow_key("pushreg", enrollment_id), now).await?
                else {
                    self.put_enrollment(flow, &e, now).await?;
                    return Ok(PushEnrollmentStatus::WaitingForDevice);
                };
                let fid = FactorId(Uuid::from_slice(&fid).map_err(|_| LoginError::Internal)?);
                let factor = self
                    .store
                    .factors(*account)
                    .await?
                    .into_iter()
                    .find(|f| f.id == fid)
                    .ok_or(LoginError::Internal)?;
                let FactorData::Push(device) = &factor.data else {
                    return Err(LoginError::Internal);
                };
                let context = self.sign_in_context(client, now);
                let request = ChallengeRequest {
                    purpose: Purpose::Activation,
                    flow: flow.as_bytes(),
                    context,
                };
                let history = self.push_history(*account, now).await?;
                let issued = self
                    .with_rng(|r| self.services.push.issue(device, request, &history, now, r))
                    .map_err(|e| LoginError::Refused(e.to_string()))?;
                let challenge = self.record_push(*account, &issued.record, now).await?;
                let _ = self.push_sender.send(&device.push_token, &issued.hint).await;
                // From now on the device is this session's making: it never steps it up.
                self.modify_session(&session.id, |s| {
                    if !s.enrolled.contains(&fid) {
                        s.enrolled.push(fid);
                    }
                })
                .await?;
                let next = Enrollment::Push {
                    account: *account,
                    stage: PushStage::Activating { factor: fid, challenge },
                };
                self.put_enrollment(flow, &next, now).await?;
                Ok(PushEnrollmentStatus::ConfirmNumber { number: issued.number })
            }
            PushStage::Activating { factor, challenge } => {
                let record =
                    self.load_push(challenge, now).await?.ok_or(LoginError::FlowExpired)?;
                match record.state {
                    ChallengeState::Pending => {
                        self.put_enrollment(flow, &e, now).await?;
                        Ok(PushEnrollmentStatus::ConfirmNumber { number: record.number })
                    }
                    ChallengeState::Approved => {
                        let account_rec = self.account_of(session).await?;
                        let mut f = self
                            .store
                            .factors(*account)
                            .await?
                            .into_iter()
                            .find(|f| f.id == *factor)
                            .ok_or(LoginError::Internal)?;
                        // The phone approved its activation: activate it for this session.
                        if let FactorData::Push(device) = &mut f.data {
                            device.active = true;
                        }
                        f.version += 1;
                        self.change_factors_for(session, FactorChange::Update(f.clone())).await?;
                        if let Some(seed) = self
                            .store
                            .take_flow(&flow_key("pushseed", &factor.to_string()), now)
                            .await?
                        {
                            let totp: Factor = serde_json::from_slice(&seed)?;
                            self.change_factors_for(session, FactorChange::Add(totp.clone()))
                                .await?;
                            // The offline codes are a factor of this session's making too.
                            self.enrolled_in(session, totp.id).await?;
                        }
                        let enrolled =
                            self.complete_enrollment(session, &account_rec, &f, now).await?;
                        Ok(PushEnrollmentStatus::Enrolled(Box::new(enrolled)))
                    }
                    _ => {
                        // Wrong number or denied: the device is removed.
                        let _ = self.store.remove_factor(*account, *factor).await;
                        let _ = self
                            .store
                            .take_flow(&flow_key("pushseed", &factor.to_string()), now)
                            .await;
                        Err(LoginError::WrongSecondFactor)
                    }
                }
            }
        }
    }

    // ----- settings -----

    /// The MFA methods list: every factor with its status, retired ones (SMS) included.
    ///
    /// # Errors
    /// [`LoginError::Store`].
    pub async fn factor_list(
        &self,
        account: AccountId,
        now: SystemTime,
    ) -> Result<Vec<FactorStatus>, LoginError> {
        let mut out: Vec<FactorStatus> = self
            .store
            .factors(account)
            .await?
            .into_iter()
            .map(|f| FactorStatus {
                retired: self.config.policy.retirement.retired(f.kind, now).map(|r| r.reason),
                suspended: f.suspended,
                created: f.created,
                last_used: f.last_used,
                method: MethodView { factor: f.id, kind: f.kind, name: f.name },
            })
            .collect();
        out.sort_by_key(|s| (s.method.kind.rank(), s.created));
        Ok(out)
    }

    /// Renames a factor (step-up required).
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::Refused`] for an empty or duplicate name.
    pub async fn rename_factor(
        &self,
        session: &Session,
        factor: FactorId,
        name: &str,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.require_step_up(session, now)?;
        self.account_of(session).await?;
        let factors = self.store.factors(session.account).await?;
        let name = factor_name(name)?;
        let name = name.as_str();
        if factors.iter().any(|f| f.id != factor && f.name.to_lowercase() == name.to_lowercase()) {
            return Err(LoginError::Refused("name taken".into()));
        }
        let mut f =
            factors.into_iter().find(|f| f.id == factor).ok_or(LoginError::MethodUnavailable)?;
        f.name = name.to_owned();
        f.version += 1;
        self.change_factors_for(session, FactorChange::Update(f)).await?;
        self.audit(now, AuditEvent::FactorRenamed { account: session.account });
        Ok(())
    }

    /// Re-enables a suspended factor (a security key suspended as a possible clone), for a
    /// session freshly stepped up with another factor. Registering the key again is the
    /// other way back.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::MethodUnavailable`] for a factor that is
    /// not suspended or not the account's.
    pub async fn reinstate_factor(
        &self,
        session: &Session,
        factor: FactorId,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        self.require_step_up(session, now)?;
        let account = self.account_of(session).await?;
        let mut f = self
            .store
            .factors(session.account)
            .await?
            .into_iter()
            .find(|f| f.id == factor)
            .ok_or(LoginError::MethodUnavailable)?;
        let Some(suspension) = f.suspended else { return Err(LoginError::MethodUnavailable) };
        // The proof must come from another factor, verified after the suspension: a session
        // made fresh by the key itself (a clone's) cannot bring it back.
        if session.second_factor == Some(factor)
            || session.second_factor_at.is_none_or(|t| t < suspension.since)
        {
            return Err(LoginError::StepUpRequired);
        }
        f.suspended = None;
        f.version += 1;
        let (kind, name) = (f.kind, f.name.clone());
        self.change_factors_for(session, FactorChange::Update(f)).await?;
        self.audit(now, AuditEvent::FactorReinstated { account: session.account, kind });
        let notice = Notice::FactorReinstated {
            product: self.config.product.clone(),
            kind: notify::label(kind),
            name,
            at: now,
        };
        self.notify(&account, notice, &format!("{factor}\u{0}{}", unix(now)), now).await;
        Ok(())
    }

    /// Removes a factor (step-up required); never the last usable second factor, even
    /// against a concurrent removal (the store checks it atomically). The account is told,
    /// and every other session and known device ends; the asking session goes on, and is
    /// returned as it now stands.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::LastFactor`].
    pub async fn remove_factor(
        &self,
        session: &Session,
        factor: FactorId,
        now: SystemTime,
    ) -> Result<Session, LoginError> {
        self.require_step_up(session, now)?;
        let account = self.account_of(session).await?;
        let (usable, _) = self.usable(&account, now).await?;
        let factors = self.store.factors(account.id).await?;
        let target =
            factors.iter().find(|f| f.id == factor).ok_or(LoginError::MethodUnavailable)?;
        let counts =
            usable.iter().any(|f| f.id == factor) && target.kind != FactorKind::RecoveryCodes;
        let keep_one_of = counts.then(|| {
            usable
                .iter()
                .filter(|f| f.id != factor && f.kind != FactorKind::RecoveryCodes)
                .map(|f| f.id)
                .collect::<Vec<_>>()
        });
        if keep_one_of.as_ref().is_some_and(Vec::is_empty) {
            return Err(LoginError::LastFactor);
        }
        self.change_factors_for(session, FactorChange::Remove { factor, keep_one_of }).await?;
        self.audit(now, AuditEvent::FactorRemoved { account: account.id, kind: target.kind });
        let notice = Notice::FactorRemoved {
            product: self.config.product.clone(),
            kind: notify::label(target.kind),
            name: target.name.clone(),
            at: now,
        };
        self.notify(&account, notice, &factor.to_string(), now).await;
        self.revoke(account.id, Some(session), RevocationReason::FactorRemoved, now)
            .await?
            .ok_or(LoginError::NotSignedIn)
    }

    /// Replaces the recovery codes (step-up required); returns the new codes to show once.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`].
    pub async fn regenerate_recovery_codes(
        &self,
        session: &Session,
        now: SystemTime,
    ) -> Result<Vec<String>, LoginError> {
        self.require_step_up(session, now)?;
        let account = self.account_of(session).await?;
        let old = self
            .store
            .factors(session.account)
            .await?
            .into_iter()
            .find(|f| f.kind == FactorKind::RecoveryCodes);
        let codes = self.issue_recovery_codes(session, old.as_ref(), now).await?;
        let notice =
            Notice::RecoveryCodesRegenerated { product: self.config.product.clone(), at: now };
        self.notify(&account, notice, &unix(now).to_string(), now).await;
        Ok(codes)
    }

    /// Checks the current password of a signed-in user (re-authentication for a sensitive
    /// change), throttled like a login.
    async fn verify_current_password(
        &self,
        account: &Account,
        password: &str,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let key = flow_key("pw-acct", &account.id.to_string());
        self.throttle_wait(&key, now).await?;
        let pw = Password::new(password).map_err(|_| LoginError::InvalidCredentials);
        let verified = match pw {
            Ok(pw) => self
                .services
                .passwords
                .verify(pw, account.password_hash.clone())
                .map_err(|_| LoginError::Internal)?
                .await
                .is_ok(),
            Err(_) => false,
        };
        if !verified {
            self.fail(&key, now).await?;
            self.audit(
                now,
                AuditEvent::LoginFailed {
                    account: Some(account.id),
                    reason: FailureReason::WrongPassword,
                },
            );
            return Err(LoginError::InvalidCredentials);
        }
        Ok(())
    }

    /// Changes the password: the current password and a fresh second factor are required
    /// (ASVS 6.2.3), the new one must pass the password policy. Every other session and
    /// known device ends in the same atomic write; the account is told. Returns the asking
    /// session as it now stands.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::InvalidCredentials`] for a wrong
    /// current password, [`LoginError::Refused`] for a new one the policy refuses.
    pub async fn change_password(
        &self,
        session: &Session,
        current_password: &str,
        new_password: &str,
        now: SystemTime,
    ) -> Result<Session, LoginError> {
        self.require_step_up(session, now)?;
        let mut account = self.account_of(session).await?;
        self.verify_current_password(&account, current_password, now).await?;
        let username = account.username.as_ref().map(|u| u.normalized().to_owned());
        account.password_hash = self
            .new_password_hash(new_password, account.email.as_typed(), username.as_deref())
            .await?;
        let session = &self.stored_copy(session).await?;
        Self::bump_epoch(&mut account);
        account.version += 1;
        self.store.update_account(&account).await?;
        self.audit(now, AuditEvent::PasswordChanged { account: account.id });
        let notice = Notice::PasswordChanged { product: self.config.product.clone(), at: now };
        self.notify(&account, notice, &unix(now).to_string(), now).await;
        self.after_revocation(&account, Some(session), RevocationReason::PasswordChanged, now)
            .await?
            .ok_or(LoginError::NotSignedIn)
    }

    /// Updates the profile fields of the settings dialog (no step-up: nothing here guards
    /// the account; an enrollment-only session may not).
    ///
    /// # Errors
    /// [`LoginError::MethodUnavailable`] while enrollment-only, [`LoginError::NotSignedIn`].
    pub async fn update_profile(
        &self,
        session: &Session,
        profile: crate::ProfileFields,
    ) -> Result<(), LoginError> {
        Self::require_full(session)?;
        let mut account = self.account_of(session).await?;
        account.profile = profile;
        account.version += 1;
        Ok(self.store.update_account(&account).await?)
    }

    /// Starts an email change: the current password and a fresh second factor are required
    /// (ASVS 7.5.1), in the ceremony's configured mode. The notices are sent; in the
    /// immediate mode the login address changes now and every other session ends.
    ///
    /// # Errors
    /// [`LoginError::StepUpRequired`], [`LoginError::InvalidCredentials`] for a wrong
    /// password, [`LoginError::Refused`] (invalid, same or taken).
    pub async fn change_email(
        &self,
        session: &Session,
        current_password: &str,
        new_email: &str,
        now: SystemTime,
    ) -> Result<EmailChangeStarted, LoginError> {
        self.require_step_up(session, now)?;
        let account = self.account_of(session).await?;
        self.verify_current_password(&account, current_password, now).await?;
        let new = EmailAddress::parse(new_email).map_err(|e| LoginError::Refused(e.to_string()))?;
        self.check_lookalike(&new)?;
        let taken = self
            .store
            .account_by_email(&self.config.canonicalizer.canonical(&new))
            .await?
            .is_some_and(|a| a.id != account.id);
        let request = mfa_email_identity::ChangeRequest {
            account: &account.id.to_string(),
            current: &account.email,
            new: &new,
        };
        let step = self
            .with_rng(|r| self.services.email_change.start(request, |_| taken, now, r))
            .map_err(|e| LoginError::Refused(e.to_string()))?;
        self.audit(now, AuditEvent::EmailChangeStarted { account: account.id });
        let login_email = self.apply_email_step(&account, &step, Some(session), now).await?;
        Ok(EmailChangeStarted {
            awaiting_confirmation: step.set_login_email.is_none(),
            login_email: login_email.unwrap_or(account.email),
        })
    }

    /// Applies a step of the email-change ceremony. A switch of the login address ends
    /// every session but `keep` in the same atomic write.
    async fn apply_email_step(
        &self,
        account: &Account,
        step: &mfa_email_identity::ChangeStep,
        keep: Option<&Session>,
        now: SystemTime,
    ) -> Result<Option<EmailAddress>, LoginError> {
        let mut changed = None;
        let mut epoch = account.session_epoch;
        if let Some(email) = &step.set_login_email {
            let mut a = self.store.account(account.id).await?.ok_or(LoginError::FlowExpired)?;
            if keep.is_some_and(|s| s.epoch != a.session_epoch) {
                return Err(LoginError::NotSignedIn);
            }
            let keep = match keep {
                Some(s) => Some(self.stored_copy(s).await?),
                None => None,
            };
            let keep = keep.as_ref();
            a.canonical_email = self.config.canonicalizer.canonical(email);
            a.email = email.clone();
            Self::bump_epoch(&mut a);
            a.version += 1;
            // The store's unique index decides whether the address is still free.
            self.store.update_account(&a).await.map_err(|e| match e {
                StoreError::Conflict => {
                    LoginError::Refused("the email address is already in use".into())
                }
                e => e.into(),
            })?;
            self.after_revocation(&a, keep, RevocationReason::EmailChanged, now).await?;
            epoch = a.session_epoch;
            changed = Some(email.clone());
        }
        self.save_email_state(&step.state, epoch, now).await?;
        for d in &step.deliveries {
            self.mailer.send(&d.to, &d.notice).await.map_err(|_| LoginError::Internal)?;
        }
        Ok(changed)
    }

    /// Stores the ceremony's state under each of its tokens, with the account's session
    /// epoch at that moment: a confirmation after a revocation (the owner changed the
    /// password, reverted, signed everyone out) is void.
    async fn save_email_state(
        &self,
        state: &EmailChangeState,
        epoch: u64,
        now: SystemTime,
    ) -> Result<(), LoginError> {
        let bytes = serde_json::to_vec(&EmailFlow { epoch, state: state.clone() })?;
        let expires = match state.status() {
            mfa_email_identity::ChangeStatus::AwaitingConfirmation { expires } => expires,
            mfa_email_identity::ChangeStatus::Switched { revertible_until } => revertible_until,
            _ => now,
        };
        for h in state.token_hashes() {
            self.store.put_flow(&flow_key("email", &h.to_base64url()), &bytes, expires).await?;
        }
        Ok(())
    }

    async fn take_email_state(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<(EmailChangeState, u64), LoginError> {
        let key = flow_key("email", &TokenHash::of(token).to_base64url());
        let bytes = self.store.take_flow(&key, now).await?.ok_or(LoginError::FlowExpired)?;
        let EmailFlow { epoch, state } =
            serde_json::from_slice(&bytes).map_err(|_| LoginError::FlowExpired)?;
        // The state is indexed by each of its tokens: retire the others too.
        for h in state.token_hashes() {
            let _ = self.store.take_flow(&flow_key("email", &h.to_base64url()), now).await;
        }
        Ok((state, epoch))
    }

    /// The new address confirms (the link's token).
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`] (unknown, used or expired link), [`LoginError::Refused`].
    pub async fn confirm_email_change(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<EmailAddress, LoginError> {
        let (state, epoch) = self.take_email_state(token, now).await?;
        let step = self.with_rng(|r| self.services.email_change.confirm(&state, token, now, r));
        let step = match step {
            Ok(s) => s,
            Err(e) => {
                self.save_email_state(&state, epoch, now).await?;
                return Err(LoginError::Refused(e.to_string()));
            }
        };
        let account_id =
            AccountId(Uuid::parse_str(state.account()).map_err(|_| LoginError::Internal)?);
        let account = self.store.account(account_id).await?.ok_or(LoginError::FlowExpired)?;
        if account.session_epoch != epoch {
            // Asked for by a session that has been revoked since: the change is void (and
            // stays taken).
            return Err(LoginError::FlowExpired);
        }
        let email =
            self.apply_email_step(&account, &step, None, now).await?.ok_or(LoginError::Internal)?;
        self.audit(now, AuditEvent::EmailChanged { account: account_id });
        Ok(email)
    }

    /// The old address reverts (or cancels) a change with its link's token. Whoever started
    /// the change may hold a session: every session and known device of the account ends.
    ///
    /// # Errors
    /// [`LoginError::FlowExpired`], [`LoginError::Refused`].
    pub async fn revert_email_change(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<EmailAddress, LoginError> {
        let (state, epoch) = self.take_email_state(token, now).await?;
        let step = match self.services.email_change.revert(&state, token, now) {
            Ok(s) => s,
            Err(e) => {
                self.save_email_state(&state, epoch, now).await?;
                return Err(LoginError::Refused(e.to_string()));
            }
        };
        let account_id =
            AccountId(Uuid::parse_str(state.account()).map_err(|_| LoginError::Internal)?);
        let account = self.store.account(account_id).await?.ok_or(LoginError::FlowExpired)?;
        if self.apply_email_step(&account, &step, None, now).await?.is_none() {
            // A cancelled change switched nothing: end the sessions all the same.
            self.revoke(account_id, None, RevocationReason::EmailChanged, now).await?;
        }
        self.audit(now, AuditEvent::EmailChangeReverted { account: account_id });
        Ok(state.old_address().clone())
    }
}
