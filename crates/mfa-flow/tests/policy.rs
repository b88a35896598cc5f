//! The policy's pure decisions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_flow::{
    EnrollmentGrace, FactorKind, MfaRequirement, RetirementPolicy, RetirementReason, StepUpPolicy,
    ThrottlePolicy, ThrottleState, UsernameDecision, UsernamePolicy,
};
use proptest::prelude::*;

fn t(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
}

#[test]
fn username_phases() {
    let p = UsernamePolicy { warn_from: Some(t(100)), refuse_from: Some(t(200)) };
    assert_eq!(p.decide(t(0)), UsernameDecision::Accept);
    assert_eq!(p.decide(t(100)), UsernameDecision::AcceptWithWarning);
    assert_eq!(p.decide(t(199)), UsernameDecision::AcceptWithWarning);
    assert_eq!(p.decide(t(200)), UsernameDecision::Refuse);
    assert_eq!(
        UsernamePolicy { warn_from: None, refuse_from: None }.decide(t(0)),
        UsernameDecision::Accept
    );
}

#[test]
fn retirement_is_general() {
    let p = RetirementPolicy::default();
    assert!(!p.allows(FactorKind::Sms, t(0)));
    assert!(!p.allows(FactorKind::Voice, t(0)));
    assert!(p.allows(FactorKind::Totp, t(0)));
    let p = p.retire(FactorKind::EmailCode, t(1000), RetirementReason::Insecure);
    assert!(p.allows(FactorKind::EmailCode, t(999)));
    assert_eq!(
        p.retired(FactorKind::EmailCode, t(1000)).map(|r| r.reason),
        Some(RetirementReason::Insecure)
    );
    assert!(RetirementPolicy::none().allows(FactorKind::Sms, t(0)));
}

#[test]
fn mfa_grace() {
    assert!(MfaRequirement::default().must_enroll(t(0), t(0)));
    let p = MfaRequirement { grace: EnrollmentGrace::AfterCreation(Duration::from_secs(86_400)) };
    assert!(!p.must_enroll(t(0), t(86_399)));
    assert!(p.must_enroll(t(0), t(86_400)));
    let p = MfaRequirement { grace: EnrollmentGrace::Until(t(50)) };
    assert!(!p.must_enroll(t(0), t(49)));
    assert!(p.must_enroll(t(0), t(50)));
}

#[test]
fn step_up_freshness() {
    let p = StepUpPolicy::default();
    assert!(p.is_fresh(Some(t(0)), t(600)));
    assert!(!p.is_fresh(Some(t(0)), t(601)));
    assert!(!p.is_fresh(None, t(0)));
    assert!(p.is_fresh(Some(t(3)), t(0)), "a clock a little ahead");
    assert!(!p.is_fresh(Some(t(60)), t(0)), "a time far in the future is not fresh");
}

proptest! {
    /// Waits grow with failures and never exceed the cap; without failures the count decays
    /// to nothing, so no one is locked out for good.
    #[test]
    fn throttle_backs_off_and_decays(n in 0u32..200, gap in 0u64..100_000) {
        let p = ThrottlePolicy::default();
        let mut s = ThrottleState::default();
        for _ in 0..n {
            s = p.fail(s, t(0));
        }
        prop_assert!(p.wait(s, t(0)) <= p.max_wait);
        if n >= p.free {
            prop_assert!(p.wait(s, t(0)) > Duration::ZERO);
        } else {
            prop_assert_eq!(p.wait(s, t(0)), Duration::ZERO);
        }
        prop_assert!(p.effective(s, t(gap)) <= p.effective(s, t(0)));
        prop_assert_eq!(p.effective(s, t(40 * 3600)), 0, "fully decayed after 40 half-lives");
        prop_assert_eq!(p.at_hard_limit(s, t(0)), n >= 100);
    }
}
