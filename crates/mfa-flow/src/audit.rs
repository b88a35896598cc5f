//! Audit events: every decision the flows take, for the embedder's log.

use std::time::SystemTime;

use serde::Serialize;

use crate::policy::{RetirementReason, UsernameDecision};
use crate::{AccountId, Assurance, FactorKind, RevocationReason, SuspensionReason};

/// Why a login step failed (audit detail; the client sees one answer for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureReason {
    /// No account has this identifier.
    UnknownIdentifier,
    /// Wrong password.
    WrongPassword,
    /// A wrong or replayed second-factor code or assertion.
    WrongSecondFactor,
    /// A username login after the refusal date.
    UsernameRefused,
    /// A push denied or reported.
    PushDenied,
    /// The right password of a disabled (blocked) account.
    Disabled,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditEvent {
    /// A login finished.
    LoginSucceeded {
        /// The account.
        account: AccountId,
        /// The second factor used, if any.
        factor: Option<FactorKind>,
        /// The assurance reached.
        assurance: Assurance,
    },
    /// A login step failed.
    LoginFailed {
        /// The account, when known.
        account: Option<AccountId>,
        /// Why.
        reason: FailureReason,
    },
    /// A legacy username was used to log in.
    LegacyUsernameUsed {
        /// The account (if the username exists).
        account: Option<AccountId>,
        /// What the policy decided.
        decision: UsernameDecision,
    },
    /// A retired factor was skipped or refused.
    RetiredFactorRefused {
        /// The account.
        account: AccountId,
        /// The kind.
        kind: FactorKind,
        /// Why it is retired.
        reason: RetirementReason,
    },
    /// The user had to enroll a second factor before finishing the login.
    EnrollmentForced {
        /// The account.
        account: AccountId,
    },
    /// A factor was enrolled.
    FactorEnrolled {
        /// The account.
        account: AccountId,
        /// The kind.
        kind: FactorKind,
    },
    /// A factor was removed.
    FactorRemoved {
        /// The account.
        account: AccountId,
        /// The kind.
        kind: FactorKind,
    },
    /// A factor was renamed.
    FactorRenamed {
        /// The account.
        account: AccountId,
    },
    /// A recovery code was used.
    RecoveryCodeUsed {
        /// The account.
        account: AccountId,
        /// Codes left.
        remaining: usize,
    },
    /// Recovery codes were (re)generated.
    RecoveryCodesIssued {
        /// The account.
        account: AccountId,
    },
    /// A sign-up confirmed its address: the account was created.
    SignUpConfirmed {
        /// The account.
        account: AccountId,
    },
    /// "Forgot password" mailed a reset link to the account.
    PasswordResetRequested {
        /// The account.
        account: AccountId,
    },
    /// The password was reset through recovery (mailbox and a second factor or recovery
    /// code, or the mailbox alone for an account without any factor).
    PasswordReset {
        /// The account.
        account: AccountId,
    },
    /// The operator reset every factor of the account (support path).
    FactorsResetBySupport {
        /// The account.
        account: AccountId,
        /// Factors removed.
        removed: usize,
    },
    /// The operator put the account in a group or gave it a role (or took them away); its
    /// sessions ended.
    LabelsChanged {
        /// The account.
        account: AccountId,
        /// The group now.
        group: Option<crate::Label>,
        /// The role now.
        role: Option<crate::Label>,
    },
    /// An imported account's address was confirmed by its mailbox.
    AddressConfirmed {
        /// The account.
        account: AccountId,
    },
    /// Accounts were imported (one event per account).
    AccountImported {
        /// The account.
        account: AccountId,
    },
    /// The legacy username was removed; the email address is the only login.
    UsernameRemoved {
        /// The account.
        account: AccountId,
    },
    /// An email change started.
    EmailChangeStarted {
        /// The account.
        account: AccountId,
    },
    /// The login address changed.
    EmailChanged {
        /// The account.
        account: AccountId,
    },
    /// An email change was reverted or cancelled from the old address.
    EmailChangeReverted {
        /// The account.
        account: AccountId,
    },
    /// The password changed.
    PasswordChanged {
        /// The account.
        account: AccountId,
    },
    /// A sensitive action was refused for lack of a fresh second factor.
    StepUpRequired {
        /// The account.
        account: AccountId,
    },
    /// An attempt was throttled.
    Throttled {
        /// The account, when known.
        account: Option<AccountId>,
    },
    /// A push was reported as fraud on the phone.
    PushFraudReported {
        /// The account.
        account: AccountId,
    },
    /// A session ended (signed out, ended from another session, or timed out).
    SessionEnded {
        /// The account.
        account: AccountId,
        /// Whether it timed out.
        timed_out: bool,
    },
    /// Every session and known device of the account but the asking one ended.
    SessionsRevoked {
        /// The account.
        account: AccountId,
        /// Why.
        reason: RevocationReason,
        /// Session rows deleted.
        ended: u64,
    },
    /// An enrollment-only session proved the mailbox or a recovery code.
    EnrollmentProofGiven {
        /// The account.
        account: AccountId,
    },
    /// A session stepped up with a factor that existed before it.
    SteppedUp {
        /// The account.
        account: AccountId,
        /// The factor's kind.
        kind: FactorKind,
    },
    /// A factor was suspended.
    FactorSuspended {
        /// The account.
        account: AccountId,
        /// The kind.
        kind: FactorKind,
        /// Why.
        reason: SuspensionReason,
    },
    /// A suspended factor was re-enabled by its owner.
    FactorReinstated {
        /// The account.
        account: AccountId,
        /// The kind.
        kind: FactorKind,
    },
}

/// Where audit events go.
pub trait AuditSink: Send + Sync {
    /// Records `event` at `at`.
    fn record(&self, at: SystemTime, event: AuditEvent);

    /// Records `event` at `at`, made by `client` (its browser and address, for a "recent
    /// security activity" list). By default the client is dropped.
    fn record_from(&self, at: SystemTime, event: AuditEvent, client: &crate::SessionClient) {
        let _ = client;
        self.record(at, event);
    }
}

/// Drops every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: SystemTime, _: AuditEvent) {}
}
