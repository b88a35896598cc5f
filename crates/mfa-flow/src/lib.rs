//! The account policy and the flows of the workspace: email as the login identifier with
//! legacy usernames phased out, a second factor always required, retired factors (SMS)
//! refused, step-up for sensitive actions, throttling that cannot lock a victim out for
//! good — composed from the primitive crates and driven through small, atomic storage
//! traits.
//!
//! ```mermaid
//! stateDiagram-v2
//!     [*] --> Password: identifier + password
//!     Password --> Refused: unknown / wrong / username refused / throttled
//!     Password --> MustEnroll: no usable second factor, never had one, grace over
//!     Password --> Proof: no usable second factor, but had one (retired SMS, codes only)
//!     Proof --> MustEnroll: code from the account's mailbox, or a recovery code
//!     Password --> Authenticated: no second factor ever, inside the grace period (AAL1)
//!     Password --> SecondFactor: preferred method started
//!     SecondFactor --> SecondFactor: try another method / wrong code
//!     SecondFactor --> Authenticated: code, assertion, approval or recovery code
//!     SecondFactor --> Expired: flow time out
//!     MustEnroll --> Enrolled: factor enrolled (the session is not made fresh)
//!     Enrolled --> [*]
//!     Authenticated --> Revoked: password, email or factors changed elsewhere; recovery code used
//!     Authenticated --> TimedOut: absolute or idle limit of its assurance level
//!     Authenticated --> [*]
//! ```
//!
//! Sessions are library state ([`Session`], found by [`Auth::session`]): lifetimes per
//! assurance level ([`SessionPolicy`]), revocation of every session and known-device token
//! of an account by its session epoch, a notice to the account's address for every security
//! change.
//!
//! Policy ([`Policy`]) is data and pure functions; the orchestrator ([`Auth`]) performs
//! each step through [`Store`], [`Mailer`] and [`PushSender`], and records
//! [`AuditEvent`]s. Flow records are single-use: every step takes its record atomically
//! before acting on it. `mfa-testkit` has the in-memory store, the conformance suite every
//! storage adapter must pass, and software authenticators.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use mfa_flow::{FactorKind, RetirementPolicy, UsernameDecision, UsernamePolicy};
//!
//! let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! // SMS is retired by default.
//! assert!(!RetirementPolicy::default().allows(FactorKind::Sms, now));
//! // Usernames: warned now, refused from a date.
//! let usernames = UsernamePolicy { warn_from: Some(UNIX_EPOCH), refuse_from: Some(now + Duration::from_secs(86_400)) };
//! assert_eq!(usernames.decide(now), UsernameDecision::AcceptWithWarning);
//! assert_eq!(usernames.decide(now + Duration::from_secs(86_400)), UsernameDecision::Refuse);
//! ```

#![forbid(unsafe_code)]

mod audit;
mod auth;
mod model;
mod policy;
mod rules;
mod store;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use audit::{AuditEvent, AuditSink, FailureReason, NoAudit};
pub use auth::{
    Assurance, Auth, AuthConfig, Authenticated, ChallengeView, ClientInfo, EmailChangeStarted,
    Enrolled, EnrollmentProof, FactorPlan, FactorStatus, KindRule, LinkProblem, LoginError,
    LoginStep, MethodView, Prompt, PushEnrollmentStatus, PushPause, RequiredAction, ResetGrant,
    RevocationReason, RngSource, RulesView, Services, Session, SessionClient, SessionId,
    SessionToken, SessionView, SignUpStarted, TotpEnrollment, Unavailable, UnavailableFactor,
    Warning, Weakness, plan_second_factor,
};
pub use model::{
    Account, AccountId, Factor, FactorData, FactorId, FactorKind, ProfileFields, Suspension,
    SuspensionReason,
};
pub use policy::{
    EnrollmentGrace, MfaRequirement, Policy, Retirement, RetirementPolicy, RetirementReason,
    SessionLimits, SessionPolicy, StepUpPolicy, ThrottlePolicy, ThrottleState, UsernameDecision,
    UsernamePolicy,
};
pub use rules::{
    AccountFacts, AccountPolicy, EnrollmentRules, GroupRetirement, GroupRules, GroupTable, Label,
    LabelError, RetirementRules, RoleRules, StepUpRules, TableError, UsernameRules,
};
pub use store::{FactorChange, Mailer, PushSender, Store, StoreError, StoreResult};

/// The throttle key of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its
/// /64 — one subscriber usually holds a whole /64, so a per-address key would be no limit at
/// all — and anything that is not an address as given.
#[must_use]
pub fn client_throttle_key(ip: &str) -> String {
    use std::net::{IpAddr, Ipv6Addr};
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}
