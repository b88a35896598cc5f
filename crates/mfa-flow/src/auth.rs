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
use crate::policy::{
    Policy, RetirementReason, StepUpPolicy, ThrottlePolicy, ThrottleState, UsernameDecision,
};
use crate::store::{FactorChange, Mailer, PushSender, Store, StoreError};
use crate::{
    Account, AccountFacts, AccountId, AccountPolicy, Factor, FactorData, FactorId, FactorKind,
    Suspension, SuspensionReason, from_unix, unix,
};

mod email_change;
mod enroll;
mod links;
mod login;
mod migration;
mod notify;
mod push;
mod recovery;
mod second_factor;
mod sessions;
mod settings;
mod sign_in_link;
mod signup;
mod step_up;

pub use links::LinkProblem;
pub use recovery::ResetGrant;
use sessions::KnownDevice;
pub use sessions::{
    EnrollmentProof, RevocationReason, Session, SessionClient, SessionId, SessionView,
};
pub use signup::SignUpStarted;

/// Settings of the flows.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The account policy: one set of dates for every account, and the throttles and
    /// session lifetimes.
    pub policy: Policy,
    /// The rules that decide per account (usernames, retired kinds, the enrollment grace,
    /// step-up freshness) — a [`crate::GroupTable`], or an embedder's own. `None`: `policy`
    /// decides for every account alike.
    pub rules: Option<Arc<dyn AccountPolicy>>,
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
    /// How long a sign-up waits for its address to be confirmed (default 24 hours); the
    /// mailed code lives as long as the email codes' issuer says.
    pub signup_ttl: Duration,
    /// The page that confirms a sign-up by its link; the mail links to it with
    /// `#token=…` appended (a fragment: never sent to a server, nor kept in its logs).
    pub signup_confirm_url: String,
    /// How long a "forgot password" link works (default 1 hour).
    pub password_reset_ttl: Duration,
    /// The page that opens a "forgot password" link; the mail links to it with `#token=…`.
    pub password_reset_url: String,
    /// The page that confirms an (imported) account's address; the mail links to it with
    /// `#token=…`.
    pub address_confirm_url: String,
    /// The passwords no one may choose (default: `mfa_credentials::CommonPasswords`; add a
    /// breach corpus with `mfa_credentials::BreachedPasswords` and `AnyBlocklist`).
    pub blocklist: Arc<dyn mfa_credentials::Blocklist>,
}

impl AuthConfig {
    /// Defaults for `product`.
    #[must_use]
    pub fn new(product: &str) -> Self {
        Self {
            policy: Policy::default(),
            rules: None,
            product: product.to_owned(),
            canonicalizer: Canonicalizer::new(),
            login_ttl: Duration::from_secs(600),
            enrollment_ttl: Duration::from_secs(900),
            recovery_codes: 10,
            recovery_codes_low: 3,
            known_device_ttl: Duration::from_secs(90 * 24 * 3600),
            login_url: String::new(),
            notice_repeat_window: Duration::from_secs(3600),
            signup_ttl: Duration::from_secs(24 * 3600),
            signup_confirm_url: String::new(),
            password_reset_ttl: Duration::from_secs(3600),
            password_reset_url: String::new(),
            address_confirm_url: String::new(),
            blocklist: Arc::new(mfa_credentials::CommonPasswords),
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
    /// Choose a new password (an imported hash could check only part of this one).
    ChangePassword,
    /// The method just used is weak (an imported authenticator-app secret under 112 bits):
    /// set it up again, or add a stronger method, then remove it.
    ReplaceFactor {
        /// The weak factor.
        factor: FactorId,
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
    /// Push cannot be sent now (the fatigue limits), until when (Unix seconds), if a time
    /// ends it.
    PushPaused {
        /// Why.
        pause: PushPause,
        /// Until (Unix seconds).
        until: Option<u64>,
    },
}

/// Why no push can be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PushPause {
    /// A push is already waiting for an answer.
    Pending,
    /// Too many pushes in a short time.
    TooManyRecent,
    /// Too many pushes today.
    TooManyToday,
    /// Paused after repeated denials (until a sign-in with another method and an approval).
    AfterDenials,
    /// Paused after a fraud report.
    AfterFraudReport,
}

/// A warning to show during the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Warning {
    /// Usernames are being retired: log in with the email address.
    UsernameDeprecated,
    /// The password verified against an imported bcrypt hash on its first 72 bytes only:
    /// it must be changed (the sign-in's required actions say so).
    PasswordChangeRequired,
}

/// What the page asks for the selected method. As JSON, an object tagged by `kind`
/// (`{"kind": "totp_code"}`, `{"kind": "push", "number": 42, "device": "Phone"}` …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
    /// With [`Warning::UsernameDeprecated`]: from when this account's username is refused
    /// (Unix seconds), if its rules set a date.
    #[serde(default)]
    pub username_refused_from: Option<u64>,
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
        /// With [`Warning::UsernameDeprecated`]: from when this account's username is
        /// refused (Unix seconds), if its rules set a date.
        username_refused_from: Option<u64>,
    },
    /// Done.
    Authenticated(Authenticated),
    /// A step-up finished: the session (as stored now) is fresh for sensitive actions.
    SteppedUp(Session),
    /// A push is still waiting for the phone.
    Waiting,
    /// A password reset proved what it needs ([`Auth::redeem_password_reset`]): set the new
    /// password with [`Auth::complete_password_reset`].
    ResetPassword(ResetGrant),
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
    /// The server is at capacity (password hashing could not start in time): try again
    /// after this long. Nothing was checked or counted.
    #[error("busy; try again shortly")]
    Overloaded {
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
    /// The number typed on the phone was not the one the page showed: nothing was approved.
    #[error("the numbers did not match")]
    PushNumberMismatch,
    /// The push was reported as fraud on the phone: this sign-in is refused and push is paused
    /// for the account; sign in with another method, then change the password.
    #[error("the sign-in was reported on the phone")]
    PushReported,
    /// This sign-in already finished (in this browser or another tab): nothing to wait for.
    #[error("this sign-in already finished")]
    LoginFinished,
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
    /// The account is disabled (blocked by an operator). Said only after the right password.
    #[error("this account is disabled")]
    AccountDisabled,
    /// The address has not been confirmed: a link was mailed to it; open it, then sign in
    /// again. Said only after the right password.
    #[error("confirm your email address with the link we sent, then sign in again")]
    AddressUnconfirmed,
    /// A mailed link did nothing, and why.
    #[error("{}", link_problem_text(*.0))]
    Link(LinkProblem),
    /// Recovery by mail alone would bypass the account's second factor, and none of its
    /// methods (nor a recovery code) can be used: only the operator's support path resets
    /// it.
    #[error("this account can only be recovered with support's help")]
    RecoveryNeedsSupport,
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
    /// An internal failure (a worker lost, a sealed secret that does not open).
    #[error("internal error")]
    Internal,
}

const fn link_problem_text(p: LinkProblem) -> &'static str {
    match p {
        LinkProblem::Unknown => "the link is not valid",
        LinkProblem::Used => "the link has already been used",
        LinkProblem::Expired => "the link has expired",
        LinkProblem::Superseded => "a later change has replaced this link",
    }
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
    /// Whether it showed a known-device token of this account (from an earlier sign-in).
    known: bool,
    /// Whether it showed one made by a sign-in link (the mailbox vouched for it).
    #[serde(default)]
    mailed: bool,
    /// The account's session epoch when the password was verified: a revocation in between
    /// (a password change …) voids the login.
    #[serde(default)]
    epoch: u64,
    /// What the login page shows for the method in progress (for a page rendered later).
    #[serde(default)]
    view: Option<ChallengeView>,
    /// A password reset (opened by a mailed link) rather than a sign-in: its success is a
    /// grant to set a new password, never a session.
    #[serde(default)]
    reset: bool,
    /// Wrong answers so far (a reset ends after a few).
    #[serde(default)]
    failures: u8,
    /// With the username warning: from when this account's username is refused.
    #[serde(default)]
    username_refused_from: Option<u64>,
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
    /// From when this account may no longer use the kind (Unix seconds): past (then
    /// `retired` says why) or ahead, so the page can say when.
    pub retires: Option<u64>,
    /// Suspended (a key that looked cloned) until the user re-enables it.
    pub suspended: Option<Suspension>,
    /// Created (Unix seconds).
    pub created: u64,
    /// Last used.
    pub last_used: Option<u64>,
    /// Usable, but weaker than the others: say so, and suggest a stronger one.
    pub weak: Option<Weakness>,
}

/// The rules that apply to one account, with their dates, for its pages
/// ([`Auth::rules_for`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesView {
    /// From when a username login gets the warning (Unix seconds).
    pub username_warn_from: Option<u64>,
    /// From when a username login is refused (Unix seconds).
    pub username_refused_from: Option<u64>,
    /// The end of the grace period without a second factor (Unix seconds; `None`: none).
    pub enrollment_deadline: Option<u64>,
    /// How fresh a second factor must be for sensitive actions (seconds).
    pub step_up_max_age: u64,
    /// Every kind a user may meet, with whether this account may use it and until when.
    pub kinds: Vec<KindRule>,
}

/// One kind in a [`RulesView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindRule {
    /// The kind.
    pub kind: FactorKind,
    /// Whether it may be enrolled and used now.
    pub available: bool,
    /// Why not, when not.
    pub retired: Option<RetirementReason>,
    /// From when it may not (Unix seconds): past, or ahead for a retirement to come.
    pub retires: Option<u64>,
}

/// Why a usable method is weaker than the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Weakness {
    /// Codes by email: they prove the mailbox, not a device; below AAL2, never a step-up.
    BelowAal2,
    /// An authenticator app whose (imported) secret has fewer than 112 bits: set it up
    /// again to get a full-length one.
    ShortSecret,
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
    rules: &dyn crate::RetirementRules,
    account: &Account,
    factors: Vec<Factor>,
    now: SystemTime,
) -> FactorPlan {
    let mut usable = Vec::new();
    let mut unavailable = Vec::new();
    let facts = AccountFacts::of(account);
    for f in factors {
        let why = match (rules.retired(&facts, f.kind, now), f.suspended) {
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
/// The kinds a user may add (when the rules allow them), best first.
const ENROLLABLE: [FactorKind; 6] = [
    FactorKind::SecurityKey,
    FactorKind::Passkey,
    FactorKind::BiometricKey,
    FactorKind::Push,
    FactorKind::Totp,
    FactorKind::EmailCode,
];

const PUSH_RECORD_TTL: Duration = Duration::from_secs(31 * 24 * 3600);

fn flow_key(prefix: &str, id: &str) -> String {
    format!("{prefix}:{id}")
}

/// A hashing pool's refusal as the flows answer it: at capacity → [`LoginError::Overloaded`]
/// (HTTP 503 with `Retry-After`), anything else internal.
fn pool_error(e: mfa_credentials::Error) -> LoginError {
    match e {
        mfa_credentials::Error::Busy => LoginError::Overloaded { retry_after: 2 },
        _ => LoginError::Internal,
    }
}

/// The orchestrator.
pub struct Auth<S, M, P> {
    config: AuthConfig,
    rules: Arc<dyn AccountPolicy>,
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
        let rules = config.rules.clone().unwrap_or_else(|| Arc::new(config.policy.clone()));
        let rng = Mutex::new(Box::new(rng) as Box<dyn RngSource>);
        Self { config, rules, services, store, mailer, push_sender, audit, rng }
    }

    /// Whether the rules let `account` enroll or use `kind` at `now`.
    pub(crate) fn allows(&self, account: &Account, kind: FactorKind, now: SystemTime) -> bool {
        self.rules.allows(&AccountFacts::of(account), kind, now)
    }

    /// The rules that decide for each account ([`AuthConfig::rules`], or
    /// [`AuthConfig::policy`] alike for all).
    pub fn rules(&self) -> &dyn AccountPolicy {
        &*self.rules
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The mailer.
    pub fn mailer(&self) -> &M {
        &self.mailer
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
            .map_err(pool_error)?
            .await
            .map_err(pool_error)
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

    /// Records an event made by a known client (a session's, or a sign-in's).
    fn audit_from(&self, now: SystemTime, event: AuditEvent, client: &SessionClient) {
        self.audit.record_from(now, event, client);
    }

    /// Issues an email one-time code for `account` and mails it to the account's address;
    /// returns what to keep until it is typed.
    async fn mail_email_code(
        &self,
        account: &Account,
        now: SystemTime,
    ) -> Result<PendingEmailCode, LoginError> {
        // Codes mailed to one account are counted: no mail bomb through "send me a code".
        let key = flow_key("mail-code", &account.id.to_string());
        self.admit(&key, self.config.policy.throttle_signup, now).await?;
        let (code, pending) =
            self.with_rng(|r| self.services.email_codes.issue(&account.id.to_string(), now, r));
        let notice = Notice::EmailOneTimeCode {
            product: self.config.product.clone(),
            code: code.expose_secret().to_owned(),
            expires: pending.expires(),
        };
        self.mailer.send(&account.email, &notice).await.map_err(|_| LoginError::Internal)?;
        Ok(pending)
    }
}
