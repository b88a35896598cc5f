//! Attacks through the seams between the factors, each played against the orchestrator on
//! the memory store: the retired-factor bridge, sessions that must end, a notice for every
//! security change, re-authentication for sensitive changes, and a cloned security key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mfa_email_identity::{ChangeMode, Notice};
use mfa_flow::{
    AuditEvent, AuthConfig, ClientInfo, EnrollmentProof, Factor, FactorData, FactorId, FactorKind,
    LinkProblem, LoginError, LoginStep, Prompt, RetirementReason, Session, SessionId, Store,
    Unavailable,
};
use mfa_testkit::{RawKey, TestEnv, TotpApp, at, test_auth};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const PW: &str = "correct horse battery staple";

fn client(ip: &str, browser: &str) -> ClientInfo {
    ClientInfo { ip: ip.into(), browser: browser.into(), ..ClientInfo::default() }
}

fn owner() -> ClientInfo {
    client("203.0.113.7", "Firefox on Linux")
}

fn attacker() -> ClientInfo {
    client("198.51.100.66", "Chrome on Windows")
}

/// Codes by email allowed (they are off by default): these tests use them as a method.
fn env() -> TestEnv {
    let mut config = AuthConfig::new("Example Portal");
    config.policy.retirement = config.policy.retirement.allow(FactorKind::EmailCode);
    test_auth(config, ChangeMode::Immediate, 7)
}

fn sms(account: mfa_flow::AccountId) -> Factor {
    mfa_testkit::conformance::sms_factor(77, account)
}

fn notices_to(e: &TestEnv, to: &str, kind: &str) -> usize {
    e.outbox.sent().iter().filter(|(a, n)| a.as_typed() == to && n.kind() == kind).count()
}

/// Signs up, enrolls TOTP in the forced enrollment, logs in with it; the signed-in result.
async fn user(e: &TestEnv, email: &str, t: u64) -> (TotpApp, mfa_flow::Authenticated, Vec<String>) {
    e.sign_up(email, PW, &ClientInfo::default(), at(t)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login(email, PW, &owner(), at(t)).await.unwrap()
    else {
        panic!("a new account enrolls")
    };
    assert_eq!(session.proof, EnrollmentProof::NotRequired, "a new sign-up owes no proof");
    let en = e.auth.begin_totp(&session, at(t + 1)).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    let done =
        e.auth.confirm_totp(&session, &en.flow, &app.code(at(t + 1)), "Phone", at(t + 1)).await;
    let codes = done.unwrap().recovery_codes.unwrap();
    let signed_in = login_totp(e, email, &app, &owner(), t + 40).await;
    (app, signed_in, codes)
}

async fn login_totp(
    e: &TestEnv,
    email: &str,
    app: &TotpApp,
    c: &ClientInfo,
    t: u64,
) -> mfa_flow::Authenticated {
    let LoginStep::Challenge(ch) = e.auth.login(email, PW, c, at(t)).await.unwrap() else {
        panic!("challenge expected")
    };
    assert_eq!(ch.method.kind, FactorKind::Totp);
    match e.auth.submit_code(&ch.flow, &app.code(at(t)), at(t)).await.unwrap() {
        LoginStep::Authenticated(a) => a,
        other => panic!("{other:?}"),
    }
}

// ----- 1. the retired-factor bridge -----

#[tokio::test]
async fn the_password_alone_cannot_take_an_sms_only_account() {
    let e = env();
    let account = e.sign_up("victim@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    e.auth.store().add_factor(&sms(account.id)).await.unwrap();
    // The attacker knows the password.
    let LoginStep::MustEnroll { session, session_token, .. } =
        e.auth.login("victim@example.com", PW, &attacker(), at(10)).await.unwrap()
    else {
        panic!("SMS is retired: enrollment is forced")
    };
    assert_eq!(session.proof, EnrollmentProof::Required);
    assert!(session.enrollment_only && session.second_factor_at.is_none());
    assert_eq!(e.auth.session(session_token.expose_secret(), at(11)).await.unwrap(), session);
    // No enrollment of any kind without the proof.
    assert_eq!(e.auth.begin_totp(&session, at(11)).await.unwrap_err(), LoginError::ProofRequired);
    assert_eq!(e.auth.begin_push(&session, at(11)).await.unwrap_err(), LoginError::ProofRequired);
    assert_eq!(
        e.auth.begin_email_code(&session, at(11)).await.unwrap_err(),
        LoginError::ProofRequired
    );
    assert_eq!(
        e.auth.begin_webauthn(&session, FactorKind::SecurityKey, at(11)).await.unwrap_err(),
        LoginError::ProofRequired
    );
    // Nothing sensitive either.
    assert_eq!(
        e.auth.change_password(&session, PW, "a new long passphrase", at(11)).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    assert_eq!(
        e.auth.change_email(&session, PW, "attacker@evil.example", at(11)).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    assert_eq!(
        e.auth.regenerate_recovery_codes(&session, at(11)).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    assert_eq!(
        e.auth.update_profile(&session, mfa_flow::ProfileFields::default()).await.unwrap_err(),
        LoginError::MethodUnavailable
    );
    assert_eq!(
        e.auth.begin_step_up(&session, &attacker(), at(11)).await.unwrap_err(),
        LoginError::MethodUnavailable
    );
    assert_eq!(
        e.auth.end_other_sessions(&session, at(11)).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    assert_eq!(
        e.auth.sessions(&session, at(11)).await.unwrap_err(),
        LoginError::MethodUnavailable,
        "the password alone does not show where the owner signs in"
    );
    // The owner is told their password was used from a new browser.
    assert_eq!(notices_to(&e, "victim@example.com", "new-device-sign-in"), 1);
    // The code goes to the owner's mailbox, which the attacker cannot read; guessing runs out.
    let flow = e.auth.begin_enrollment_proof(&session, at(12)).await.unwrap();
    let real = e.last_code("victim@example.com").unwrap();
    assert_eq!(
        e.auth.begin_enrollment_proof(&session, at(13)).await.unwrap_err(),
        LoginError::Throttled { retry_after: 60 },
        "one mail a minute"
    );
    let mut refused = 0;
    for guess in ["000000", "111111", "222222", "333333", "444444"] {
        if guess == real {
            continue;
        }
        let r = e.auth.confirm_enrollment_proof(&session, &flow, guess, at(14)).await;
        assert!(
            matches!(r, Err(LoginError::WrongSecondFactor | LoginError::Throttled { .. })),
            "{r:?}"
        );
        refused += 1;
    }
    assert!(refused >= 4);
    // Even the right code is worthless once the guesses are spent (or the throttle holds).
    assert!(e.auth.confirm_enrollment_proof(&session, &flow, &real, at(15)).await.is_err());
    // A recovery code it does not have: refused.
    assert!(e.auth.prove_with_recovery_code(&session, "AAAAA-AAAAA", at(16)).await.is_err());
    assert_eq!(e.auth.begin_totp(&session, at(17)).await.unwrap_err(), LoginError::ProofRequired);
    assert!(e.auth.factor_list(account.id, at(17)).await.unwrap().len() == 1, "nothing added");
}

#[tokio::test]
async fn the_owner_proves_the_mailbox_and_the_new_factor_is_not_a_step_up() {
    let e = env();
    let account = e.sign_up("owner@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    e.auth.store().add_factor(&sms(account.id)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login("owner@example.com", PW, &owner(), at(10)).await.unwrap()
    else {
        panic!()
    };
    let session = e.prove_mailbox(&session, at(11)).await.unwrap();
    assert_eq!(session.proof, EnrollmentProof::Proven);
    let en = e.auth.begin_totp(&session, at(12)).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    let enrolled =
        e.auth.confirm_totp(&session, &en.flow, &app.code(at(12)), "Phone", at(12)).await.unwrap();
    assert!(enrolled.recovery_codes.is_some(), "the account had no recovery codes");
    let session = enrolled.session;
    assert!(!session.enrollment_only);
    assert_eq!(session.second_factor_at, None, "forced enrollment is not a fresh factor");
    // The address is told a factor was added.
    assert!(matches!(
        e.outbox.last_to("owner@example.com"),
        Some(Notice::FactorAdded { kind: mfa_email_identity::FactorLabel::AuthenticatorApp, .. })
    ));
    // Sensitive changes still need a factor that existed before this session: there is none.
    assert_eq!(
        e.auth.change_password(&session, PW, "a new long passphrase", at(13)).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    assert_eq!(
        e.auth.begin_step_up(&session, &owner(), at(13)).await.unwrap_err(),
        LoginError::MethodUnavailable,
        "the factor this session enrolled does not step it up"
    );
    // A backup factor may follow in the same enrollment window …
    e.auth.begin_email_code(&session, at(14)).await.unwrap();
    // … but not after it.
    assert_eq!(
        e.auth.begin_email_code(&session, at(14 + 16 * 60)).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    // A new sign-in with the factor is fresh.
    let fresh = login_totp(&e, "owner@example.com", &app, &owner(), 100).await;
    e.auth.change_password(&fresh.session, PW, "a new long passphrase", at(101)).await.unwrap();
}

#[tokio::test]
async fn an_account_with_only_recovery_codes_left_needs_one_of_them() {
    let mut cfg = AuthConfig::new("Example Portal");
    cfg.policy.retirement = cfg.policy.retirement.allow(FactorKind::EmailCode);
    let e = env();
    let (_, signed_in, codes) = user(&e, "codes@example.com", 0).await;
    let account = signed_in.session.account;
    // The operator retires authenticator apps: only the recovery codes remain usable.
    cfg.policy.retirement =
        cfg.policy.retirement.retire(FactorKind::Totp, at(0), RetirementReason::Withdrawn);
    let e2 = TestEnv { auth: rebuild(&e, cfg), ..e };
    let LoginStep::MustEnroll { session, .. } =
        e2.auth.login("codes@example.com", PW, &attacker(), at(200)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(session.proof, EnrollmentProof::Required);
    assert_eq!(e2.auth.begin_totp(&session, at(201)).await.unwrap_err(), LoginError::ProofRequired);
    // The owner uses a recovery code: proven, the code is spent, the address told, and the
    // session signed in before (with the old factor) is over.
    let session = e2.auth.prove_with_recovery_code(&session, &codes[0], at(202)).await.unwrap();
    assert_eq!(session.proof, EnrollmentProof::Proven);
    assert!(matches!(
        e2.outbox.last_to("codes@example.com"),
        Some(Notice::RecoveryCodeUsed { remaining: 9, .. })
    ));
    assert_eq!(
        e2.auth.session(signed_in.session_token.expose_secret(), at(203)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    assert!(
        e2.auth.prove_with_recovery_code(&session, &codes[0], at(204)).await.is_err(),
        "no second proof, and the code is used"
    );
    e2.auth.begin_email_code(&session, at(205)).await.unwrap();
    assert_eq!(e2.auth.store().factors(account).await.unwrap().len(), 2, "TOTP and codes");
}

/// The same store, mailer and audit log under another configuration.
fn rebuild(e: &TestEnv, config: AuthConfig) -> mfa_testkit::TestAuth {
    mfa_flow::Auth::new(
        config,
        mfa_testkit::test_services(ChangeMode::Immediate),
        e.auth.store().clone(),
        e.outbox.clone(),
        e.pushes.clone(),
        std::sync::Arc::new(e.audit.clone()),
        mfa_testkit::seeded(8),
    )
}

// ----- 2. sessions end -----

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_known_device() {
    let e = env();
    let (app, mine, _) = user(&e, "s@example.com", 0).await;
    // The attacker's stolen session (another browser), with its known-device token.
    let theirs = login_totp(&e, "s@example.com", &app, &attacker(), 100).await;
    let list = e.auth.sessions(&mine.session, at(110)).await.unwrap();
    // The enrollment session, this one, the attacker's.
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s.current).count(), 1);
    assert!(list.iter().any(|s| s.browser == "Chrome on Windows" && s.ip == "198.51.100.66"));
    // The owner changes the password (fresh factor: a step-up).
    let LoginStep::Challenge(c) =
        e.auth.begin_step_up(&mine.session, &owner(), at(130)).await.unwrap()
    else {
        panic!()
    };
    let LoginStep::SteppedUp(stepped) =
        e.auth.submit_code(&c.flow, &app.code(at(130)), at(130)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        e.auth.change_password(&stepped, "wrong password", "a new long passphrase", at(131)).await,
        Err(LoginError::InvalidCredentials),
        "the current password is required"
    );
    let kept =
        e.auth.change_password(&stepped, PW, "a new long passphrase", at(131)).await.unwrap();
    // The owner's browser goes on; the attacker's is out, for every use.
    assert_eq!(e.auth.session(mine.session_token.expose_secret(), at(132)).await.unwrap(), kept);
    assert_eq!(
        e.auth.session(theirs.session_token.expose_secret(), at(132)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    assert_eq!(
        e.auth.change_email(&theirs.session, PW, "x@evil.example", at(132)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    assert_eq!(
        e.auth.begin_totp(&theirs.session, at(132)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    assert_eq!(e.auth.sessions(&kept, at(133)).await.unwrap().len(), 1);
    assert_eq!(notices_to(&e, "s@example.com", "password-changed"), 1);
    // The attacker's known-device token no longer counts: a sign-in with it is a new device.
    let before = notices_to(&e, "s@example.com", "new-device-sign-in");
    let mut with_token = client("198.51.100.99", "Chrome on Windows");
    with_token.known_device = Some(theirs.known_device.clone());
    e.auth.login("s@example.com", "a new long passphrase", &with_token, at(140)).await.unwrap();
    // (The login stops at the challenge; the notice comes with the sign-in, so finish it.)
    let LoginStep::Challenge(c) =
        e.auth.login("s@example.com", "a new long passphrase", &with_token, at(200)).await.unwrap()
    else {
        panic!()
    };
    e.auth.submit_code(&c.flow, &app.code(at(200)), at(200)).await.unwrap();
    assert_eq!(notices_to(&e, "s@example.com", "new-device-sign-in"), before + 1);
}

#[tokio::test]
async fn a_reverted_email_change_ends_the_session_that_made_it() {
    let e = env();
    let (app, _, _) = user(&e, "r@example.com", 0).await;
    // An attacker with the password and a fresh session (a phished code) moves the address.
    let theirs = login_totp(&e, "r@example.com", &app, &attacker(), 100).await;
    e.auth.change_email(&theirs.session, PW, "mine@evil.example", at(101)).await.unwrap();
    let Some(Notice::EmailChangedOld { revert_link, .. }) = e.outbox.last_to("r@example.com")
    else {
        panic!("the old address is told")
    };
    let token = revert_link.split("token=").nth(1).unwrap();
    e.auth.revert_email_change(token, at(200)).await.unwrap();
    // Today's fault: the attacker's session changed the email again. Not any more.
    assert_eq!(
        e.auth.change_email(&theirs.session, PW, "again@evil.example", at(201)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    assert_eq!(
        e.auth.session(theirs.session_token.expose_secret(), at(201)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
}

#[tokio::test]
async fn sessions_time_out_by_assurance_and_reads_never_extend_them() {
    let e = env();
    let (app, signed_in, _) = user(&e, "t@example.com", 0).await;
    let token = signed_in.session_token.expose_secret().to_owned();
    // AAL2: idle one hour.
    assert!(e.auth.session(&token, at(40 + 3599)).await.is_ok());
    assert_eq!(
        e.auth.session(&token, at(40 + 3599 + 3600)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    // Pinged every 50 minutes, it still ends 24 hours after the sign-in.
    let s = login_totp(&e, "t@example.com", &app, &owner(), 10_000).await;
    let token = s.session_token.expose_secret().to_owned();
    let mut t = 10_000;
    while t + 3000 < 10_000 + 86_400 {
        t += 3000;
        assert!(e.auth.session(&token, at(t)).await.is_ok(), "alive at {t}");
    }
    assert_eq!(
        e.auth.session(&token, at(10_000 + 86_400)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    // An enrollment-only session lives 15 minutes.
    e.sign_up("new@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let LoginStep::MustEnroll { session_token, .. } =
        e.auth.login("new@example.com", PW, &owner(), at(0)).await.unwrap()
    else {
        panic!()
    };
    assert!(e.auth.session(session_token.expose_secret(), at(14 * 60)).await.is_ok());
    assert!(e.auth.session(session_token.expose_secret(), at(15 * 60)).await.is_err());
    // Malformed tokens: a typed refusal.
    assert_eq!(e.auth.session("", at(0)).await.unwrap_err(), LoginError::NotSignedIn);
    assert_eq!(
        e.auth.session(&"x".repeat(10_000), at(0)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
}

#[tokio::test]
async fn aal3_sessions_idle_out_after_fifteen_minutes() {
    let e = env();
    let (_, signed_in, _) = user(&e, "k3@example.com", 0).await;
    let (key, _) = register_key(&e, &signed_in.session, 41).await;
    let done = login_key(&e, "k3@example.com", key, 100).await.0;
    assert_eq!(done.assurance, mfa_flow::Assurance::Aal3);
    let token = done.session_token.expose_secret().to_owned();
    assert!(e.auth.session(&token, at(100 + 14 * 60)).await.is_ok());
    assert!(e.auth.session(&token, at(100 + 14 * 60 + 15 * 60)).await.is_err());
}

#[tokio::test]
async fn the_user_lists_and_ends_sessions() {
    let e = env();
    let (app, mine, _) = user(&e, "l@example.com", 0).await;
    let other = login_totp(&e, "l@example.com", &app, &attacker(), 100).await;
    let third = login_totp(&e, "l@example.com", &app, &client("192.0.2.1", "Safari"), 160).await;
    let list = e.auth.sessions(&mine.session, at(170)).await.unwrap();
    assert_eq!(list.len(), 4, "the enrollment session, this one and two others");
    let theirs = list.iter().find(|s| s.browser == "Chrome on Windows").unwrap().id.clone();
    assert!(e.auth.end_session(&mine.session, &theirs, at(171)).await.unwrap());
    assert!(e.auth.session(other.session_token.expose_secret(), at(172)).await.is_err());
    assert!(!e.auth.end_session(&mine.session, &theirs, at(172)).await.unwrap(), "once");
    // Another account's session id ends nothing.
    let (_, stranger, _) = user(&e, "stranger@example.com", 200).await;
    assert!(!e.auth.end_session(&mine.session, &stranger.session.id, at(300)).await.unwrap());
    assert!(e.auth.session(stranger.session_token.expose_secret(), at(300)).await.is_ok());
    // All others.
    e.auth.end_other_sessions(&mine.session, at(301)).await.unwrap();
    assert!(e.auth.session(third.session_token.expose_secret(), at(302)).await.is_err());
    assert!(e.auth.session(mine.session_token.expose_secret(), at(302)).await.is_ok());
    assert_eq!(SessionId::parse("not an id").unwrap_err(), LoginError::Malformed);
    assert_eq!(SessionId::parse(&"a".repeat(23)).unwrap_err(), LoginError::Malformed);
    // Sign out.
    let me = e.auth.session(mine.session_token.expose_secret(), at(303)).await.unwrap();
    e.auth.sign_out(&me, at(303)).await.unwrap();
    assert!(e.auth.session(mine.session_token.expose_secret(), at(304)).await.is_err());
    // An administrator ends everything.
    let again = login_totp(&e, "l@example.com", &app, &owner(), 400).await;
    e.auth.end_all_sessions(again.session.account, at(401)).await.unwrap();
    assert!(e.auth.session(again.session_token.expose_secret(), at(402)).await.is_err());
}

#[tokio::test]
async fn a_recovery_code_login_and_a_factor_removal_end_the_other_sessions() {
    let e = env();
    let (app, first, codes) = user(&e, "rc@example.com", 0).await;
    let LoginStep::Challenge(c) =
        e.auth.login("rc@example.com", PW, &owner(), at(100)).await.unwrap()
    else {
        panic!()
    };
    let recovery = c.alternatives.iter().find(|m| m.kind == FactorKind::RecoveryCodes).unwrap();
    let LoginStep::Challenge(c) =
        e.auth.select_method(&c.flow, recovery.factor, &owner(), at(100)).await.unwrap()
    else {
        panic!()
    };
    let LoginStep::Authenticated(second) =
        e.auth.submit_code(&c.flow, &codes[3], at(100)).await.unwrap()
    else {
        panic!()
    };
    assert!(e.auth.session(first.session_token.expose_secret(), at(101)).await.is_err());
    assert!(e.auth.session(second.session_token.expose_secret(), at(101)).await.is_ok());
    assert_eq!(notices_to(&e, "rc@example.com", "recovery-code-used"), 1);
    // Add a key, then remove the app from a fresh session: the other sessions end.
    let other = login_totp(&e, "rc@example.com", &app, &attacker(), 160).await;
    let (_, key_factor) = register_key(&e, &second.session, 102).await;
    let kept = e.auth.remove_factor(&second.session, key_factor, at(103)).await.unwrap();
    assert!(e.auth.session(other.session_token.expose_secret(), at(104)).await.is_err());
    assert_eq!(e.auth.session(second.session_token.expose_secret(), at(104)).await.unwrap(), kept);
    assert_eq!(notices_to(&e, "rc@example.com", "factor-removed"), 1);
    assert_eq!(notices_to(&e, "rc@example.com", "factor-added"), 2);
}

// ----- 3. notices -----

#[tokio::test]
async fn every_security_change_is_mailed_and_repeats_are_held_back() {
    let e = env();
    let (app, mine, _) = user(&e, "n@example.com", 0).await;
    assert_eq!(notices_to(&e, "n@example.com", "factor-added"), 1);
    assert_eq!(
        notices_to(&e, "n@example.com", "new-device-sign-in"),
        1,
        "the first sign-in from this browser"
    );
    // The same new browser signing in five times in an hour: one mail.
    for i in 0..5 {
        login_totp(&e, "n@example.com", &app, &attacker(), 100 + 40 * i).await;
    }
    assert_eq!(notices_to(&e, "n@example.com", "new-device-sign-in"), 2);
    // A known device is not new.
    let mut known = owner();
    known.known_device = Some(mine.known_device.clone());
    login_totp(&e, "n@example.com", &app, &known, 400).await;
    assert_eq!(notices_to(&e, "n@example.com", "new-device-sign-in"), 2);
    // Recovery codes regenerated.
    let fresh = login_totp(&e, "n@example.com", &app, &known, 460).await;
    e.auth.regenerate_recovery_codes(&fresh.session, at(461)).await.unwrap();
    assert_eq!(notices_to(&e, "n@example.com", "recovery-codes-regenerated"), 1);
    // A push reported as fraud is mailed (see the push tests for the phone side); the notice
    // kinds all render in both languages (golden files in mfa-email-identity).
    let Some(Notice::NewDeviceSignIn { browser, ip, .. }) =
        e.outbox.sent().into_iter().map(|(_, n)| n).find(|n| n.kind() == "new-device-sign-in")
    else {
        panic!()
    };
    assert_eq!((browser.as_str(), ip.as_str()), ("Firefox on Linux", "203.0.113.7"));
}

// ----- 4. sensitive changes -----

#[tokio::test]
async fn two_concurrent_removals_cannot_take_the_last_two_factors() {
    let e = std::sync::Arc::new(env());
    let (app, signed_in, _) = user(&e, "two@example.com", 0).await;
    // A second app.
    let en = e.auth.begin_totp(&signed_in.session, at(41)).await.unwrap();
    let app2 = TotpApp::scan(&en.uri).unwrap();
    e.auth
        .confirm_totp(&signed_in.session, &en.flow, &app2.code(at(41)), "Tablet", at(41))
        .await
        .unwrap();
    let list = e.auth.factor_list(signed_in.session.account, at(42)).await.unwrap();
    let apps: Vec<FactorId> = list
        .iter()
        .filter(|f| f.method.kind == FactorKind::Totp)
        .map(|f| f.method.factor)
        .collect();
    assert_eq!(apps.len(), 2);
    // Two fresh sessions remove one app each, at once.
    let a = login_totp(&e, "two@example.com", &app, &owner(), 100).await.session;
    let b = {
        let LoginStep::Challenge(c) =
            e.auth.login("two@example.com", PW, &attacker(), at(130)).await.unwrap()
        else {
            panic!()
        };
        let code = if c.method.kind == FactorKind::Totp && c.method.name == "Tablet" {
            app2.code(at(130))
        } else {
            app.code(at(130))
        };
        let LoginStep::Authenticated(b) =
            e.auth.submit_code(&c.flow, &code, at(130)).await.unwrap()
        else {
            panic!()
        };
        b.session
    };
    let (e1, e2) = (e.clone(), e.clone());
    let (x, y) = (apps[0], apps[1]);
    let (a, b) = (a.clone(), b.clone());
    let r1 = tokio::spawn(async move { e1.auth.remove_factor(&a, x, at(131)).await });
    let r2 = tokio::spawn(async move { e2.auth.remove_factor(&b, y, at(131)).await });
    let (r1, r2) = (r1.await.unwrap(), r2.await.unwrap());
    assert!(
        matches!((&r1, &r2), (Ok(_), Err(_)) | (Err(_), Ok(_))),
        "exactly one removal: {r1:?} {r2:?}"
    );
    let left = e.auth.factor_list(signed_in.session.account, at(132)).await.unwrap();
    assert_eq!(left.iter().filter(|f| f.method.kind == FactorKind::Totp).count(), 1);
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let e = env();
    let (_, signed_in, _) = user(&e, "p@example.com", 0).await;
    let before = e.auth.store().account(signed_in.session.account).await.unwrap().unwrap();
    for _ in 0..3 {
        assert_eq!(
            e.auth
                .change_password(
                    &signed_in.session,
                    "not it at all",
                    "a new long passphrase",
                    at(41)
                )
                .await
                .unwrap_err(),
            LoginError::InvalidCredentials
        );
    }
    assert_eq!(
        e.auth
            .change_email(&signed_in.session, "not it at all", "p2@example.com", at(41))
            .await
            .unwrap_err(),
        LoginError::InvalidCredentials
    );
    let after = e.auth.store().account(signed_in.session.account).await.unwrap().unwrap();
    assert_eq!(before.password_hash, after.password_hash);
    assert_eq!(before.email, after.email);
    assert_eq!(before.session_epoch, after.session_epoch);
}

// ----- 5. a cloned security key -----

/// Pushes a key's stored signature counter ahead of the authenticator: as if a clone of it
/// had signed in meanwhile.
async fn counter_ahead(e: &TestEnv, account: mfa_flow::AccountId, factor: FactorId) {
    let factors = e.auth.store().factors(account).await.unwrap();
    let mut f = factors.into_iter().find(|f| f.id == factor).unwrap();
    let FactorData::WebAuthn(c) = &f.data else { panic!() };
    let mut v = serde_json::to_value(&**c).unwrap();
    v["inner"]["counter"] = serde_json::Value::from(1_000u32);
    f.data = FactorData::WebAuthn(Box::new(serde_json::from_value(v).unwrap()));
    f.version += 1;
    e.auth.store().update_factor(&f).await.unwrap();
}

async fn register_key(e: &TestEnv, session: &Session, t: u64) -> (SoftPasskey, FactorId) {
    let (flow, options) =
        e.auth.begin_webauthn(session, FactorKind::SecurityKey, at(t)).await.unwrap();
    let mut key = SoftPasskey::new(false);
    let origin = url::Url::parse(mfa_testkit::ORIGIN).unwrap();
    let reg = key.do_registration(origin, serde_json::from_str(&options).unwrap()).unwrap();
    let done = e
        .auth
        .finish_webauthn(session, &flow, &serde_json::to_string(&reg).unwrap(), "YubiKey", at(t))
        .await
        .unwrap();
    (key, done.factor.factor)
}

/// Signs in with the key (selecting it if another method is offered first); the result and
/// the key back, with the assertion sent.
async fn login_key(
    e: &TestEnv,
    email: &str,
    mut key: SoftPasskey,
    t: u64,
) -> (mfa_flow::Authenticated, SoftPasskey, String) {
    let (flow, options) = key_challenge(e, email, t).await;
    let origin = url::Url::parse(mfa_testkit::ORIGIN).unwrap();
    let assertion = key.do_authentication(origin, serde_json::from_str(&options).unwrap()).unwrap();
    let json = serde_json::to_string(&assertion).unwrap();
    match e.auth.submit_webauthn(&flow, &json, at(t)).await.unwrap() {
        LoginStep::Authenticated(a) => (a, key, json),
        other => panic!("{other:?}"),
    }
}

async fn key_challenge(e: &TestEnv, email: &str, t: u64) -> (String, String) {
    let LoginStep::Challenge(c) = e.auth.login(email, PW, &owner(), at(t)).await.unwrap() else {
        panic!()
    };
    let c = if matches!(c.prompt, Prompt::WebAuthn { .. }) {
        c
    } else {
        let key = c.alternatives.iter().find(|m| m.kind == FactorKind::SecurityKey).unwrap();
        let LoginStep::Challenge(c) =
            e.auth.select_method(&c.flow, key.factor, &owner(), at(t)).await.unwrap()
        else {
            panic!()
        };
        c
    };
    let Prompt::WebAuthn { options } = c.prompt else { panic!() };
    (c.flow, options)
}

#[tokio::test]
async fn counter_zero_passkeys_pass_twice_and_a_replay_does_not() {
    let e = env();
    let (_, signed_in, _) = user(&e, "zero@example.com", 0).await;
    let mut key = RawKey::synced(vec![0x5a; 16]);
    let (flow, options) =
        e.auth.begin_webauthn(&signed_in.session, FactorKind::Passkey, at(41)).await.unwrap();
    let done = e
        .auth
        .finish_webauthn(&signed_in.session, &flow, &key.register(&options), "Phone", at(41))
        .await
        .unwrap();
    assert_eq!(done.factor.kind, FactorKind::Passkey);
    let factor = done.factor.factor;
    let mut first = String::new();
    for t in [100, 200] {
        let (flow, options) = passkey_challenge(&e, "zero@example.com", factor, t).await;
        let assertion = key.assert(&options);
        let step = e.auth.submit_webauthn(&flow, &assertion, at(t)).await.unwrap();
        assert!(matches!(step, LoginStep::Authenticated(_)), "counter 0, sign-in {t}: {step:?}");
        if first.is_empty() {
            first = assertion;
        }
    }
    let stored = e.auth.store().factors(signed_in.session.account).await.unwrap();
    let FactorData::WebAuthn(c) = &stored.iter().find(|f| f.id == factor).unwrap().data else {
        panic!()
    };
    assert_eq!(c.counter(), 0, "this authenticator keeps no counter");
    // The first assertion replayed into a new flow: its challenge is not this flow's.
    let (flow, _) = passkey_challenge(&e, "zero@example.com", factor, 300).await;
    assert_eq!(
        e.auth.submit_webauthn(&flow, &first, at(300)).await.unwrap_err(),
        LoginError::WrongSecondFactor
    );
    let stored = e.auth.store().factors(signed_in.session.account).await.unwrap();
    assert!(stored.iter().all(|f| f.suspended.is_none()), "a refused replay suspends nothing");
}

async fn passkey_challenge(e: &TestEnv, email: &str, factor: FactorId, t: u64) -> (String, String) {
    let LoginStep::Challenge(c) = e.auth.login(email, PW, &owner(), at(t)).await.unwrap() else {
        panic!()
    };
    let c = if c.method.factor == factor {
        c
    } else {
        let LoginStep::Challenge(c) =
            e.auth.select_method(&c.flow, factor, &owner(), at(t)).await.unwrap()
        else {
            panic!()
        };
        c
    };
    let Prompt::WebAuthn { options } = c.prompt else { panic!() };
    (c.flow, options)
}

#[tokio::test]
async fn a_cloned_key_is_suspended_told_and_reinstated_only_after_another_factor() {
    let e = env();
    let (app, signed_in, _) = user(&e, "clone@example.com", 0).await;
    let account = signed_in.session.account;
    let (key, factor) = register_key(&e, &signed_in.session, 41).await;
    // The stored counter is ahead of what this authenticator signs: another authenticator
    // with the same key (a clone) signed in meanwhile.
    counter_ahead(&e, account, factor).await;

    let (flow, options) = key_challenge(&e, "clone@example.com", 100).await;
    let mut key = key;
    let origin = url::Url::parse(mfa_testkit::ORIGIN).unwrap();
    let assertion =
        key.do_authentication(origin.clone(), serde_json::from_str(&options).unwrap()).unwrap();
    assert_eq!(
        e.auth.submit_webauthn(&flow, &serde_json::to_string(&assertion).unwrap(), at(100)).await,
        Err(LoginError::WrongSecondFactor)
    );
    let stored = e.auth.store().factors(account).await.unwrap();
    assert!(stored.iter().find(|f| f.id == factor).unwrap().suspended.is_some(), "suspended");
    assert!(e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::FactorSuspended { .. })));
    assert!(matches!(
        e.outbox.last_to("clone@example.com"),
        Some(Notice::SecurityKeySuspended { .. })
    ));
    // The next sign-in does not offer it, and says why.
    let LoginStep::Challenge(c) =
        e.auth.login("clone@example.com", PW, &owner(), at(200)).await.unwrap()
    else {
        panic!()
    };
    assert!(c.alternatives.iter().chain([&c.method]).all(|m| m.factor != factor));
    assert!(
        c.unavailable
            .iter()
            .any(|u| u.factor == factor && matches!(u.reason, Unavailable::Suspended { .. }))
    );
    // Re-enabling needs a fresh step-up with another factor.
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(200)), at(200)).await.unwrap()
    else {
        panic!()
    };
    let late = at(200 + 700);
    assert_eq!(
        e.auth.reinstate_factor(&done.session, factor, late).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    e.auth.reinstate_factor(&done.session, factor, at(201)).await.unwrap();
    assert!(e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::FactorReinstated { .. })));
    let stored = e.auth.store().factors(account).await.unwrap();
    assert!(stored.iter().find(|f| f.id == factor).unwrap().suspended.is_none());
}

// ----- found in review: the phone, the clone's session, a pending change, a pending login -----

/// A phone ("Evil", push token `token`) registered at 42 with the push enrollment `session`
/// began at 41, and the enrollment polled at 43: the flow, the phone, the number its
/// activation asks for, and the random generator it signs with.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
async fn register_phone(
    e: &TestEnv,
    session: &Session,
    token: &str,
) -> (String, mfa_push::device::EnrolledDevice, u8, ring::rand::SystemRandom) {
    let (flow, uri) = e.auth.begin_push(session, at(41)).await.unwrap();
    let sys = ring::rand::SystemRandom::new();
    let offer = mfa_push::EnrollmentOffer::parse(&uri).unwrap();
    let key = mfa_push::device::DeviceKey::generate(mfa_push::KeyAlgorithm::P256, &sys).unwrap();
    let req =
        mfa_push::device::registration_request(&offer, &key, "Evil", token, at(42), &sys).unwrap();
    let response = e.auth.push_device_register(&req, at(42)).await.unwrap();
    let phone = mfa_push::device::EnrolledDevice::new(&offer, key, &response).unwrap();
    let mfa_flow::PushEnrollmentStatus::ConfirmNumber { number } =
        e.auth.push_enrollment_status(session, &flow, &owner(), at(43)).await.unwrap()
    else {
        panic!("the enrollment asks to confirm a number")
    };
    (flow, phone, number, sys)
}

#[tokio::test]
async fn a_phone_registered_in_a_session_never_steps_it_up_and_activates_only_through_it() {
    let e = env();
    let (app, signed_in, _) = user(&e, "ph@example.com", 0).await;
    let session = signed_in.session;
    let (flow, phone, number, sys) = register_phone(&e, &session, "t-1").await;
    // The phone approves its activation, and the browser never comes back for it.
    let (_, hint) = e.pushes.sent().last().cloned().unwrap();
    let fetch = phone.fetch_request(&hint.challenge_id, at(44), &sys).unwrap();
    let msg = e.auth.push_device_fetch(&fetch, at(44)).await.unwrap();
    let verified = phone.verify_challenge(&msg, at(44), 30).unwrap();
    let answer = phone.answer(&verified, mfa_push::Decision::Approve, number, &sys).unwrap();
    e.auth.push_device_respond(&answer, at(44)).await.unwrap();
    let push = |at_: u64| {
        let e = &e;
        async move {
            e.auth
                .store()
                .factors(session.account)
                .await
                .unwrap()
                .into_iter()
                .find(|f| f.kind == FactorKind::Push)
                .map(|f| matches!(&f.data, FactorData::Push(d) if d.active))
                .map(|active| (active, at_))
        }
    };
    assert_eq!(push(45).await, None, "not on the account without its enrollment");
    assert_eq!(notices_to(&e, "ph@example.com", "factor-added"), 1, "only the app so far");
    // Stale now, the session asks for a step-up: the phone is not offered.
    let late = at(45 + 700);
    let LoginStep::Challenge(c) = e.auth.begin_step_up(&session, &owner(), late).await.unwrap()
    else {
        panic!()
    };
    assert!(c.alternatives.iter().chain([&c.method]).all(|m| m.kind != FactorKind::Push));
    drop(c);
    // The enrollment finishes within its time: active, told, and still no step-up with it.
    let mfa_flow::PushEnrollmentStatus::Enrolled(_) =
        e.auth.push_enrollment_status(&session, &flow, &owner(), at(46)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(push(46).await, Some((true, 46)));
    assert_eq!(notices_to(&e, "ph@example.com", "factor-added"), 2);
    let LoginStep::Challenge(c) = e.auth.begin_step_up(&session, &owner(), at(900)).await.unwrap()
    else {
        panic!()
    };
    assert!(c.alternatives.iter().chain([&c.method]).all(|m| m.kind != FactorKind::Push));
    let _ = app;
}

#[tokio::test]
async fn a_session_of_the_clone_is_ended_and_cannot_reinstate_the_key() {
    let e = env();
    let (app, signed_in, _) = user(&e, "cl@example.com", 0).await;
    let account = signed_in.session.account;
    let (key, factor) = register_key(&e, &signed_in.session, 41).await;
    // The attacker's clone signs in (counter rises on the clone).
    let (clone_session, key, _) = login_key(&e, "cl@example.com", key, 100).await;
    // The owner's key is behind: simulate it by pushing the stored counter ahead.
    counter_ahead(&e, account, factor).await;
    let (flow, options) = key_challenge(&e, "cl@example.com", 130).await;
    let mut key = key;
    let origin = url::Url::parse(mfa_testkit::ORIGIN).unwrap();
    let assertion = key.do_authentication(origin, serde_json::from_str(&options).unwrap()).unwrap();
    let _ =
        e.auth.submit_webauthn(&flow, &serde_json::to_string(&assertion).unwrap(), at(130)).await;
    // Suspended, and every session of the account is over, the clone's first.
    assert_eq!(
        e.auth.session(clone_session.session_token.expose_secret(), at(131)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    assert_eq!(
        e.auth.reinstate_factor(&clone_session.session, factor, at(131)).await.unwrap_err(),
        LoginError::NotSignedIn
    );
    // A session made fresh before the suspension cannot either; one freshened after it with
    // another factor can, and the address is told.
    let fresh = login_totp(&e, "cl@example.com", &app, &owner(), 160).await;
    e.auth.reinstate_factor(&fresh.session, factor, at(161)).await.unwrap();
    assert!(matches!(e.outbox.last_to("cl@example.com"), Some(Notice::FactorReinstated { .. })));
}

#[tokio::test]
async fn a_pending_email_change_and_a_pending_login_die_with_a_revocation() {
    let e = test_auth(AuthConfig::new("Example Portal"), ChangeMode::ConfirmNewAddress, 9);
    let (app, _, _) = user(&e, "pe@example.com", 0).await;
    // A phished code: the attacker's fresh session asks to move the address to theirs.
    let theirs = login_totp(&e, "pe@example.com", &app, &attacker(), 100).await;
    e.auth.change_email(&theirs.session, PW, "mine@evil.example", at(101)).await.unwrap();
    let Some(Notice::ConfirmNewAddress { confirm_link, .. }) =
        e.outbox.last_to("mine@evil.example")
    else {
        panic!()
    };
    // Meanwhile a login stops at its second factor (the attacker again).
    let LoginStep::Challenge(pending) =
        e.auth.login("pe@example.com", PW, &attacker(), at(110)).await.unwrap()
    else {
        panic!()
    };
    // The owner changes the password from a fresh session of theirs.
    let mine = login_totp(&e, "pe@example.com", &app, &owner(), 130).await;
    e.auth.change_password(&mine.session, PW, "a new long passphrase", at(131)).await.unwrap();
    // The confirmation link and the pending login are void.
    let token = confirm_link.split("token=").nth(1).unwrap();
    assert_eq!(
        e.auth.confirm_email_change(token, at(132)).await.unwrap_err(),
        LoginError::Link(LinkProblem::Superseded)
    );
    assert_eq!(
        e.auth.submit_code(&pending.flow, &app.code(at(160)), at(160)).await.unwrap_err(),
        LoginError::FlowExpired
    );
    let account = e.auth.store().account(mine.session.account).await.unwrap().unwrap();
    assert_eq!(account.email.as_typed(), "pe@example.com");
}

#[tokio::test]
async fn factor_names_are_bounded() {
    let e = env();
    let (_, signed_in, _) = user(&e, "names@example.com", 0).await;
    // (A blank name gets the kind's default name.)
    for bad in ["x".repeat(65), "a\u{0}b".to_owned(), "line\nbreak".to_owned()] {
        let en = e.auth.begin_totp(&signed_in.session, at(41)).await.unwrap();
        let app = TotpApp::scan(&en.uri).unwrap();
        assert!(matches!(
            e.auth
                .confirm_totp(&signed_in.session, &en.flow, &app.code(at(41)), &bad, at(41))
                .await,
            Err(LoginError::Refused(_))
        ));
    }
    assert_eq!(e.auth.factor_list(signed_in.session.account, at(42)).await.unwrap().len(), 2);
}

#[tokio::test]
async fn one_ipv6_64_is_one_throttle() {
    // Wrong passwords from many addresses of one /64 are counted together.
    let e = env();
    e.sign_up("v6@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let mut throttled = false;
    for i in 0..12u16 {
        let c = client(&format!("2001:db8:1:2::{i:x}"), "x");
        if let Err(LoginError::Throttled { .. }) =
            e.auth.login("nobody@example.com", "wrong wrong wrong", &c, at(1)).await
        {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "rotating the last 64 bits did not escape the throttle");
    assert_eq!(mfa_flow::client_throttle_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    assert_eq!(mfa_flow::client_throttle_key("::ffff:203.0.113.9"), "203.0.113.9");
    assert_eq!(mfa_flow::client_throttle_key("not an address"), "not an address");
}

#[tokio::test]
async fn the_audit_log_names_the_client_that_acted_not_the_one_that_signed_in() {
    let e = env();
    let (_, mine, _) = user(&e, "who@example.com", 0).await;
    // The owner's fresh session, used from another address (a stolen cookie).
    let stolen = mine.session.clone().acting_from(&attacker());
    e.auth.change_password(&stolen, PW, "a new long passphrase", at(41)).await.unwrap();
    let (_, client) = e
        .audit
        .with_clients()
        .into_iter()
        .find(|(ev, _)| matches!(ev, AuditEvent::PasswordChanged { .. }))
        .unwrap();
    assert_eq!(client.unwrap().ip, "198.51.100.66", "the acting client, not the signing-in one");
}

/// A phone that reports its own activation (a stranger's phone registered with a
/// photographed code, say) fails the enrollment and tells nobody of a "fraudulent sign-in"
/// that never was; a refused answer to that finished challenge changes nothing.
#[tokio::test]
async fn a_reported_activation_fails_quietly_and_a_refused_answer_changes_nothing() {
    let e = env();
    let (_, signed_in, _) = user(&e, "act@example.com", 0).await;
    let session = signed_in.session;
    let (flow, phone, _, sys) = register_phone(&e, &session, "t-2").await;
    let (_, hint) = e.pushes.sent().last().cloned().unwrap();
    let fetch = phone.fetch_request(&hint.challenge_id, at(44), &sys).unwrap();
    let msg = e.auth.push_device_fetch(&fetch, at(44)).await.unwrap();
    let verified = phone.verify_challenge(&msg, at(44), 30).unwrap();
    let report = phone.answer(&verified, mfa_push::Decision::ReportFraud, 0, &sys).unwrap();
    assert_eq!(
        e.auth.push_device_respond(&report, at(44)).await.unwrap(),
        mfa_push::ChallengeState::FraudReported
    );
    assert_eq!(notices_to(&e, "act@example.com", "push-fraud-reported"), 0, "no sign-in to report");
    assert!(!e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::PushFraudReported { .. })));
    assert!(e.auth.push_enrollment_status(&session, &flow, &owner(), at(45)).await.is_err());
    let factors = e.auth.store().factors(session.account).await.unwrap();
    assert!(factors.iter().all(|f| f.kind != FactorKind::Push), "nothing enrolled");
    // The same answer again is refused, and the finished challenge stays as it was.
    assert!(e.auth.push_device_respond(&report, at(46)).await.is_err());
    assert!(e.auth.push_device_fetch(&fetch, at(46)).await.is_err(), "still finished");
}
