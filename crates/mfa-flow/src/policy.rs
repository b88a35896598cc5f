//! The account policy as data plus pure functions: the same input gives the same decision,
//! nothing is fetched.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::FactorKind;

/// Phases of the retirement of legacy usernames, with their dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernamePolicy {
    /// From this time a username login succeeds with a "switch to your email" warning.
    pub warn_from: Option<SystemTime>,
    /// From this time a username login is refused: the user must log in with the email.
    pub refuse_from: Option<SystemTime>,
}

/// What the policy says about a username login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum UsernameDecision {
    /// Accepted.
    Accept,
    /// Accepted; tell the user to log in with the email address from now on.
    AcceptWithWarning,
    /// Refused: log in with the email address.
    Refuse,
}

impl Default for UsernamePolicy {
    /// Usernames accepted with a warning from now on, no refusal date set.
    fn default() -> Self {
        Self { warn_from: Some(SystemTime::UNIX_EPOCH), refuse_from: None }
    }
}

impl UsernamePolicy {
    /// The decision for a username login at `now`.
    #[must_use]
    pub fn decide(&self, now: SystemTime) -> UsernameDecision {
        if self.refuse_from.is_some_and(|t| now >= t) {
            UsernameDecision::Refuse
        } else if self.warn_from.is_some_and(|t| now >= t) {
            UsernameDecision::AcceptWithWarning
        } else {
            UsernameDecision::Accept
        }
    }
}

/// Why a factor kind is retired (a UI translates it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RetirementReason {
    /// Specification change: the notice's reason for SMS ("SMS authentication can no longer
    /// be used because of the specification change").
    SpecificationChange,
    /// The method is not strong enough (SIM swap, interception).
    Insecure,
    /// The operator withdrew it.
    Withdrawn,
    /// It does not reach AAL2: a code by email proves the mailbox, not a device the user
    /// holds (NIST SP 800-63B-4 §3.1.3.1, OWASP ASVS 5.0 6.3.6). Off unless the embedder
    /// allows it ([`RetirementPolicy::allow`]).
    BelowAal2,
}

/// A factor kind's retirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retirement {
    /// The kind.
    pub kind: FactorKind,
    /// From when it cannot be enrolled or used.
    pub from: SystemTime,
    /// Why.
    pub reason: RetirementReason,
}

/// Which factor kinds are retired, from when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetirementPolicy {
    retired: Vec<Retirement>,
}

impl Default for RetirementPolicy {
    /// SMS and voice retired now (from the epoch), for the notice's reason; codes by email
    /// off (they do not reach AAL2; an embedder may [`RetirementPolicy::allow`] them, and they
    /// then count below AAL2 and never satisfy a step-up).
    fn default() -> Self {
        let from = SystemTime::UNIX_EPOCH;
        let reason = RetirementReason::SpecificationChange;
        Self {
            retired: vec![
                Retirement { kind: FactorKind::Sms, from, reason },
                Retirement { kind: FactorKind::Voice, from, reason },
                Retirement {
                    kind: FactorKind::EmailCode,
                    from,
                    reason: RetirementReason::BelowAal2,
                },
            ],
        }
    }
}

impl RetirementPolicy {
    /// No kind retired.
    #[must_use]
    pub fn none() -> Self {
        Self { retired: Vec::new() }
    }

    /// Also retires `kind` from `from`.
    #[must_use]
    pub fn retire(mut self, kind: FactorKind, from: SystemTime, reason: RetirementReason) -> Self {
        self.retired.retain(|r| r.kind != kind);
        self.retired.push(Retirement { kind, from, reason });
        self
    }

    /// Takes `kind` off the list: it may be enrolled and used (codes by email, for an
    /// embedder whose users were promised them).
    #[must_use]
    pub fn allow(mut self, kind: FactorKind) -> Self {
        self.retired.retain(|r| r.kind != kind);
        self
    }

    /// The retirement of `kind`, in force yet or not.
    #[must_use]
    pub fn scheduled(&self, kind: FactorKind) -> Option<Retirement> {
        self.retired.iter().find(|r| r.kind == kind).copied()
    }

    /// The retirement of `kind` in force at `now`, if any.
    #[must_use]
    pub fn retired(&self, kind: FactorKind, now: SystemTime) -> Option<Retirement> {
        self.retired.iter().find(|r| r.kind == kind && now >= r.from).copied()
    }

    /// Whether `kind` may be enrolled or used at `now`.
    #[must_use]
    pub fn allows(&self, kind: FactorKind, now: SystemTime) -> bool {
        self.retired(kind, now).is_none()
    }
}

/// When MFA must be enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnrollmentGrace {
    /// Required at the first login.
    None,
    /// Logins without MFA are allowed until this date.
    Until(SystemTime),
    /// Allowed for this long after the account was created.
    AfterCreation(Duration),
}

/// The MFA requirement: always required; a grace period for enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MfaRequirement {
    /// The grace period.
    pub grace: EnrollmentGrace,
}

impl Default for MfaRequirement {
    /// No grace: a second factor is required after the password at the first login.
    fn default() -> Self {
        Self { grace: EnrollmentGrace::None }
    }
}

impl MfaRequirement {
    /// Until when an account created at `created` may log in without a second factor.
    #[must_use]
    pub fn deadline(&self, created: SystemTime) -> Option<SystemTime> {
        match self.grace {
            EnrollmentGrace::None => None,
            EnrollmentGrace::Until(t) => Some(t),
            EnrollmentGrace::AfterCreation(d) => created.checked_add(d),
        }
    }

    /// Whether an account without a usable second factor must enroll now (rather than be
    /// reminded).
    #[must_use]
    pub fn must_enroll(&self, created: SystemTime, now: SystemTime) -> bool {
        self.deadline(created).is_none_or(|d| now >= d)
    }
}

/// Step-up: how fresh a second-factor authentication must be for a sensitive action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepUpPolicy {
    /// The maximum age (default 10 minutes).
    pub max_age: Duration,
}

impl Default for StepUpPolicy {
    fn default() -> Self {
        Self { max_age: Duration::from_secs(600) }
    }
}

impl StepUpPolicy {
    /// Whether a second factor verified at `at` is fresh enough at `now`.
    #[must_use]
    pub fn is_fresh(&self, at: Option<SystemTime>, now: SystemTime) -> bool {
        at.is_some_and(|at| match now.duration_since(at) {
            Ok(age) => age <= self.max_age,
            // A time slightly ahead of ours (another replica's clock) counts as now.
            Err(ahead) => ahead.duration() <= Duration::from_secs(5),
        })
    }
}

/// Failure counting with backoff that decays.
///
/// Each failure adds one; the count halves every `half_life` without failures, so an
/// attacker who stops loses their effect and a victim is never locked out for good. A
/// count at or above `free` imposes a wait of `base × 2^(count − free)`, capped at `max_wait`.
/// Second-factor failures also stop entirely at `hard_limit` consecutive failures (NIST SP
/// 800-63B: at most 100), which decays the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed without waiting (default 5).
    pub free: u32,
    /// The first wait (default 1 s).
    pub base: Duration,
    /// The longest wait (default 15 minutes).
    pub max_wait: Duration,
    /// The count halves after this long without a failure (default 1 hour).
    pub half_life: Duration,
    /// Consecutive failures that stop attempts until the count decays (default 100). Keep
    /// it above `free`: at the cap every attempt is refused for a `half_life`.
    pub hard_limit: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free: 5,
            base: Duration::from_secs(1),
            max_wait: Duration::from_secs(900),
            half_life: Duration::from_secs(3600),
            hard_limit: 100,
        }
    }
}

/// A throttle counter as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ThrottleState {
    /// Failures, before decay.
    pub failures: u32,
    /// The last failure (Unix seconds).
    pub last_failure: u64,
}

impl ThrottlePolicy {
    /// The failure count at `now` after decay.
    #[must_use]
    pub fn effective(&self, state: ThrottleState, now: SystemTime) -> u32 {
        let elapsed = crate::unix(now).saturating_sub(state.last_failure);
        let halvings = elapsed / self.half_life.as_secs().max(1);
        if halvings >= 32 { 0 } else { state.failures >> halvings }
    }

    /// The state after one more failure at `now`.
    #[must_use]
    pub fn fail(&self, state: ThrottleState, now: SystemTime) -> ThrottleState {
        ThrottleState {
            failures: self.effective(state, now).saturating_add(1),
            last_failure: crate::unix(now),
        }
    }

    /// How long to wait before the next attempt (zero when allowed now).
    #[must_use]
    pub fn wait(&self, state: ThrottleState, now: SystemTime) -> Duration {
        let count = self.effective(state, now);
        if count < self.free {
            return Duration::ZERO;
        }
        let exp = (count - self.free).min(20);
        let wait = self.base.saturating_mul(1 << exp).min(self.max_wait);
        let since = Duration::from_secs(crate::unix(now).saturating_sub(state.last_failure));
        wait.saturating_sub(since)
    }

    /// Whether second-factor attempts have hit the hard limit.
    #[must_use]
    pub fn at_hard_limit(&self, state: ThrottleState, now: SystemTime) -> bool {
        self.effective(state, now) >= self.hard_limit
    }
}

/// How long a session lives: at most `absolute` from the sign-in, and at most `idle`
/// without a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// From the sign-in, regardless of activity.
    pub absolute: Duration,
    /// Without any authenticated request.
    pub idle: Duration,
}

/// Session lifetimes by assurance level, with NIST SP 800-63B-4 defaults (§2.2.3, §2.3.3):
/// AAL2 24 h absolute / 1 h idle, AAL3 12 h / 15 min. AAL1 sessions (password only, inside an
/// enrollment grace period) get AAL2's limits: the guidelines ask less (30 days), but an
/// account without a second factor is the one to keep on a short leash. An enrollment-only
/// session (a second factor must be enrolled first) lives 15 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Password only.
    pub aal1: SessionLimits,
    /// Password and a second factor.
    pub aal2: SessionLimits,
    /// Password and a phishing-resistant key.
    pub aal3: SessionLimits,
    /// A session that may only enroll a second factor.
    pub enrollment_only: SessionLimits,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let aal2 = SessionLimits { absolute: hours(24), idle: hours(1) };
        Self {
            aal1: aal2,
            aal2,
            aal3: SessionLimits { absolute: hours(12), idle: minutes(15) },
            enrollment_only: SessionLimits { absolute: minutes(15), idle: minutes(15) },
        }
    }
}

impl SessionPolicy {
    /// The limits for a session at `assurance` (or enrollment-only).
    #[must_use]
    pub fn limits(&self, assurance: crate::Assurance, enrollment_only: bool) -> SessionLimits {
        if enrollment_only {
            return self.enrollment_only;
        }
        match assurance {
            crate::Assurance::Aal1 => self.aal1,
            crate::Assurance::Aal2 => self.aal2,
            _ => self.aal3,
        }
    }

    /// Whether a session created at `created` and last seen at `last_seen` is still alive at
    /// `now`.
    #[must_use]
    pub fn alive(
        &self,
        assurance: crate::Assurance,
        enrollment_only: bool,
        created: SystemTime,
        last_seen: SystemTime,
        now: SystemTime,
    ) -> bool {
        let l = self.limits(assurance, enrollment_only);
        created.checked_add(l.absolute).is_some_and(|end| now < end)
            && last_seen.checked_add(l.idle).is_some_and(|end| now < end)
    }
}

/// The whole policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Legacy usernames.
    pub usernames: UsernamePolicy,
    /// Retired factor kinds.
    pub retirement: RetirementPolicy,
    /// The MFA requirement.
    pub mfa: MfaRequirement,
    /// Step-up freshness.
    pub step_up: StepUpPolicy,
    /// Throttling of one client address with one identifier (passwords), and of one
    /// account's second factor.
    pub throttle: ThrottlePolicy,
    /// Throttling of one client address for every identifier together (passwords): generous,
    /// since many people may sign in at once behind one address (200 free attempts, then
    /// waits; never capped).
    pub throttle_address: ThrottlePolicy,
    /// Throttling of one identifier from every address together (passwords): more lenient,
    /// so that strangers' failures do not lock its owner out soon; the owner's known
    /// devices pass it.
    pub throttle_identifier: ThrottlePolicy,
    /// Throttling of sign-ups per client address and per target mailbox, and of codes
    /// mailed to one account: every attempt counts.
    pub throttle_signup: ThrottlePolicy,
    /// Session lifetimes.
    pub sessions: SessionPolicy,
    /// Refuse sign-ups and email changes to an address that mixes scripts or reads as an
    /// ASCII word in another script (UTS #39 findings from `mfa-email-identity`), such as
    /// `аpple.com` with a Cyrillic `а`. On by default.
    pub refuse_lookalike_emails: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            usernames: UsernamePolicy::default(),
            retirement: RetirementPolicy::default(),
            mfa: MfaRequirement::default(),
            step_up: StepUpPolicy::default(),
            throttle_identifier: ThrottlePolicy { free: 20, ..ThrottlePolicy::default() },
            // Never capped: the cap is for one identifier or one factor (SP 800-63B-4
            // §3.2.2); an address shared by many only waits once past its free attempts.
            throttle_address: ThrottlePolicy {
                free: 200,
                hard_limit: u32::MAX,
                ..ThrottlePolicy::default()
            },
            throttle_signup: ThrottlePolicy { free: 10, ..ThrottlePolicy::default() },
            throttle: ThrottlePolicy::default(),
            sessions: SessionPolicy::default(),
            refuse_lookalike_emails: true,
        }
    }
}
