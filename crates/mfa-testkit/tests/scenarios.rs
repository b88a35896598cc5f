//! Scenarios that read like the notice, run through the orchestrator on the memory store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use mfa_email_identity::{ChangeMode, Notice, Username};
use mfa_flow::{
    AuditEvent, AuthConfig, ClientInfo, FactorKind, LinkProblem, LoginError, LoginStep, Prompt,
    RequiredAction, RetirementReason, Store, Unavailable, UsernamePolicy, Warning,
};
use mfa_testkit::{TestEnv, TotpApp, at, test_auth};

const PW: &str = "correct horse battery staple";

fn client() -> ClientInfo {
    ClientInfo {
        ip: "203.0.113.7".into(),
        browser: "Chrome on Windows".into(),
        ..ClientInfo::default()
    }
}

fn env(config: AuthConfig, mode: ChangeMode) -> TestEnv {
    test_auth(config, mode, 5)
}

fn config() -> AuthConfig {
    AuthConfig::new("Example Portal")
}

/// Signs up and enrolls TOTP; returns the app.
async fn user_with_totp(e: &TestEnv, email: &str) -> TotpApp {
    e.sign_up(email, PW, &ClientInfo::default(), at(0)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login(email, PW, &client(), at(0)).await.unwrap()
    else {
        panic!("a new account must enroll");
    };
    let enrollment = e.auth.begin_totp(&session, at(1)).await.unwrap();
    let app = TotpApp::scan(&enrollment.uri).unwrap();
    let enrolled = e
        .auth
        .confirm_totp(&session, &enrollment.flow, &app.code(at(2)), "Phone", at(2))
        .await
        .unwrap();
    assert_eq!(
        enrolled.recovery_codes.as_ref().map(Vec::len),
        Some(10),
        "the first factor issues recovery codes"
    );
    app
}

fn challenge(step: LoginStep) -> mfa_flow::ChallengeView {
    match step {
        LoginStep::Challenge(c) => c,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn legacy_username_is_warned_then_refused() {
    let mut cfg = config();
    cfg.policy.usernames = UsernamePolicy { warn_from: Some(at(0)), refuse_from: Some(at(86_400)) };
    let e = env(cfg, ChangeMode::Immediate);
    let app = user_with_totp(&e, "ryu@example.com").await;
    // Give the account its legacy username (an imported account).
    let mut a = e
        .auth
        .store()
        .account_by_email(
            &e.auth.config().canonicalizer.canonical(&"ryu@example.com".parse().unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
    a.username = Some(Username::parse("Ryu20231130").unwrap());
    a.version += 1;
    e.auth.store().update_account(&a).await.unwrap();

    let c = challenge(e.auth.login("Ryu20231130", PW, &client(), at(100)).await.unwrap());
    assert_eq!(c.warnings, vec![Warning::UsernameDeprecated]);
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    assert!(
        done.required_actions.contains(&RequiredAction::ConfirmEmailAsLogin),
        "guided migration"
    );
    assert!(e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::LegacyUsernameUsed { .. })));

    assert_eq!(
        e.auth.login("Ryu20231130", PW, &client(), at(86_400)).await.unwrap_err(),
        LoginError::UsernameRefused
    );
    // The email still works.
    assert!(matches!(
        e.auth.login("ryu@example.com", PW, &client(), at(86_400)).await.unwrap(),
        LoginStep::Challenge(_)
    ));
}

#[tokio::test]
async fn sms_only_user_is_forced_to_enroll_totp() {
    let e = env(config(), ChangeMode::Immediate);
    let account = e.sign_up("sms@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let sms = mfa_testkit::conformance::sms_factor(77, account.id);
    e.auth.store().add_factor(&sms).await.unwrap();
    let LoginStep::MustEnroll { session, unavailable, enrollable, .. } =
        e.auth.login("sms@example.com", PW, &client(), at(10)).await.unwrap()
    else {
        panic!("an SMS-only user must enroll");
    };
    assert_eq!(unavailable.len(), 1);
    assert_eq!(unavailable[0].kind, FactorKind::Sms);
    assert_eq!(
        unavailable[0].reason,
        Unavailable::Retired { reason: RetirementReason::SpecificationChange }
    );
    assert!(!enrollable.contains(&FactorKind::Sms));
    assert!(
        e.audit
            .events()
            .iter()
            .any(|ev| matches!(ev, AuditEvent::RetiredFactorRefused { kind: FactorKind::Sms, .. }))
    );
    // The enrollment-only session cannot do anything sensitive.
    assert_eq!(
        e.auth.change_password(&session, PW, "another long passphrase", at(11)).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    // The account had a factor (SMS): the password alone does not enroll a new one.
    assert_eq!(e.auth.begin_totp(&session, at(11)).await.unwrap_err(), LoginError::ProofRequired);
    let session = e.prove_mailbox(&session, at(11)).await.unwrap();
    let enrollment = e.auth.begin_totp(&session, at(11)).await.unwrap();
    let app = TotpApp::scan(&enrollment.uri).unwrap();
    // A wrong first code does not enroll.
    let wrong = if app.code(at(12)) == "000000" { "111111" } else { "000000" };
    assert_eq!(
        e.auth.confirm_totp(&session, &enrollment.flow, wrong, "Phone", at(12)).await.unwrap_err(),
        LoginError::WrongSecondFactor
    );
    e.auth
        .confirm_totp(&session, &enrollment.flow, &app.code(at(12)), "Phone", at(12))
        .await
        .unwrap();
    // The SMS factor is listed, struck out.
    let list = e.auth.factor_list(account.id, at(13)).await.unwrap();
    assert!(list.iter().any(|f| f.method.kind == FactorKind::Sms && f.retired.is_some()));
    // Next login: TOTP, never SMS.
    let c = challenge(e.auth.login("sms@example.com", PW, &client(), at(100)).await.unwrap());
    assert_eq!(c.method.kind, FactorKind::Totp);
    assert!(c.alternatives.iter().all(|m| m.kind != FactorKind::Sms));
    assert_eq!(c.unavailable[0].kind, FactorKind::Sms);
}

#[tokio::test]
async fn a_totp_code_logs_in_once() {
    let e = env(config(), ChangeMode::Immediate);
    let app = user_with_totp(&e, "a@example.com").await;
    let first = challenge(e.auth.login("a@example.com", PW, &client(), at(100)).await.unwrap());
    let second = challenge(e.auth.login("a@example.com", PW, &client(), at(100)).await.unwrap());
    let code = app.code(at(100));
    assert!(matches!(
        e.auth.submit_code(&first.flow, &code, at(100)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));
    // The same code in another login flow (another tab, another replica): refused.
    assert_eq!(
        e.auth.submit_code(&second.flow, &code, at(101)).await.unwrap_err(),
        LoginError::WrongSecondFactor
    );
    // The finished flow cannot be used again: it says it finished (another tab polling it
    // learns that, not "expired").
    assert_eq!(
        e.auth.submit_code(&first.flow, &code, at(101)).await.unwrap_err(),
        LoginError::LoginFinished
    );
    assert_eq!(
        e.auth.poll_push(&first.flow, at(102)).await.unwrap_err(),
        LoginError::LoginFinished
    );
    // The code made during enrollment cannot log in either (its step was stored).
    let third = challenge(e.auth.login("a@example.com", PW, &client(), at(2)).await.unwrap());
    assert_eq!(
        e.auth.submit_code(&third.flow, &app.code(at(2)), at(2)).await.unwrap_err(),
        LoginError::WrongSecondFactor
    );
}

#[tokio::test]
async fn unknown_identifier_and_wrong_password_look_the_same() {
    let e = env(config(), ChangeMode::Immediate);
    e.sign_up("a@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let unknown = e.auth.login("nobody@example.com", PW, &client(), at(1)).await.unwrap_err();
    let wrong = e
        .auth
        .login("a@example.com", "wrong password entirely", &client(), at(1))
        .await
        .unwrap_err();
    let garbage = e.auth.login("not an identifier!", PW, &client(), at(1)).await.unwrap_err();
    assert_eq!(unknown, LoginError::InvalidCredentials);
    assert_eq!(wrong, unknown);
    assert_eq!(garbage, unknown);
    assert_eq!(unknown.to_string(), wrong.to_string());
}

#[tokio::test]
async fn recovery_codes_work_once_and_warn_when_low() {
    let e = env(config(), ChangeMode::Immediate);
    e.sign_up("r@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login("r@example.com", PW, &client(), at(0)).await.unwrap()
    else {
        panic!()
    };
    let en = e.auth.begin_totp(&session, at(1)).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    let codes = e
        .auth
        .confirm_totp(&session, &en.flow, &app.code(at(1)), "Phone", at(1))
        .await
        .unwrap()
        .recovery_codes
        .unwrap();
    let c = challenge(e.auth.login("r@example.com", PW, &client(), at(100)).await.unwrap());
    let recovery = c
        .alternatives
        .iter()
        .find(|m| m.kind == FactorKind::RecoveryCodes)
        .expect("recovery codes offered last")
        .factor;
    assert_eq!(c.alternatives.last().map(|m| m.kind), Some(FactorKind::RecoveryCodes));
    let LoginStep::Challenge(r) =
        e.auth.select_method(&c.flow, recovery, &client(), at(100)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(r.prompt, Prompt::RecoveryCode);
    assert!(matches!(
        e.auth.submit_code(&r.flow, &codes[0], at(101)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));
    // The same code again, in a new login: refused.
    let c = challenge(e.auth.login("r@example.com", PW, &client(), at(200)).await.unwrap());
    let LoginStep::Challenge(r) =
        e.auth.select_method(&c.flow, recovery, &client(), at(200)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        e.auth.submit_code(&r.flow, &codes[0], at(201)).await.unwrap_err(),
        LoginError::WrongSecondFactor
    );
    // Use codes down to three left: the login says so.
    let mut last = None;
    for (i, code) in codes[1..8].iter().enumerate() {
        let t = 300 + 100 * i as u64;
        let c = challenge(e.auth.login("r@example.com", PW, &client(), at(t)).await.unwrap());
        let LoginStep::Challenge(r) =
            e.auth.select_method(&c.flow, recovery, &client(), at(t)).await.unwrap()
        else {
            panic!()
        };
        last = Some(e.auth.submit_code(&r.flow, code, at(t + 1)).await.unwrap());
    }
    let Some(LoginStep::Authenticated(done)) = last else { panic!() };
    assert!(
        done.required_actions.contains(&RequiredAction::RecoveryCodesLow { remaining: 2 }),
        "{:?}",
        done.required_actions
    );
}

#[tokio::test]
async fn try_another_method_from_push_to_totp() {
    let e = env(config(), ChangeMode::Immediate);
    let app = user_with_totp(&e, "p@example.com").await;
    // Enroll a push device (step-up: log in with TOTP first).
    let c = challenge(e.auth.login("p@example.com", PW, &client(), at(100)).await.unwrap());
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    let session = done.session;
    let (flow, uri) = e.auth.begin_push(&session, at(101)).await.unwrap();
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    let sys = ring::rand::SystemRandom::new();
    let offer = mfa_push::EnrollmentOffer::parse(&uri).unwrap();
    let key = mfa_push::device::DeviceKey::generate(mfa_push::KeyAlgorithm::P256, &sys).unwrap();
    let req =
        mfa_push::device::registration_request(&offer, &key, "iPhone", "apns-1", at(102), &sys)
            .unwrap();
    let response = e.auth.push_device_register(&req, at(102)).await.unwrap();
    let phone = mfa_push::device::EnrolledDevice::new(&offer, key, &response).unwrap();
    let mfa_flow::PushEnrollmentStatus::ConfirmNumber { number } =
        e.auth.push_enrollment_status(&session, &flow, &client(), at(103)).await.unwrap()
    else {
        panic!()
    };
    let answer = |number: u8, t: u64| {
        let (_, hint) = e.pushes.sent().last().cloned().unwrap();
        let fetch = phone.fetch_request(&hint.challenge_id, at(t), &sys).unwrap();
        (fetch, number, t)
    };
    let (fetch, n, t) = answer(number, 104);
    let msg = e.auth.push_device_fetch(&fetch, at(t)).await.unwrap();
    let verified = phone.verify_challenge(&msg, at(t), 30).unwrap();
    let resp = phone.answer(&verified, mfa_push::Decision::Approve, n, &sys).unwrap();
    e.auth.push_device_respond(&resp, at(t)).await.unwrap();
    let mfa_flow::PushEnrollmentStatus::Enrolled(enrolled) =
        e.auth.push_enrollment_status(&session, &flow, &client(), at(105)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(enrolled.factor.kind, FactorKind::Push);
    assert!(enrolled.recovery_codes.is_none(), "not the first factor");

    // Login: push is preferred over TOTP by rank (the last factor used was TOTP, though).
    let c = challenge(e.auth.login("p@example.com", PW, &client(), at(400)).await.unwrap());
    assert_eq!(c.method.kind, FactorKind::Totp, "the last used method is preferred");
    let push_id = c.alternatives.iter().find(|m| m.kind == FactorKind::Push).unwrap().factor;
    let LoginStep::Challenge(p) =
        e.auth.select_method(&c.flow, push_id, &client(), at(401)).await.unwrap()
    else {
        panic!()
    };
    let Prompt::Push { number, .. } = p.prompt else { panic!() };
    assert!((10..=99).contains(&number));
    assert_eq!(e.auth.poll_push(&p.flow, at(402)).await.unwrap(), LoginStep::Waiting);
    // The phone is not at hand: try another method, without the password again.
    let totp_id = p.alternatives.iter().find(|m| m.kind == FactorKind::Totp).unwrap().factor;
    let LoginStep::Challenge(t) =
        e.auth.select_method(&p.flow, totp_id, &client(), at(403)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(t.prompt, Prompt::TotpCode);
    let LoginStep::Authenticated(signed_in) =
        e.auth.submit_code(&t.flow, &app.code(at(403)), at(403)).await.unwrap()
    else {
        panic!("TOTP signs in")
    };
    // The abandoned push can no longer be approved.
    let (_, hint) = e.pushes.sent().last().cloned().unwrap();
    let fetch = phone.fetch_request(&hint.challenge_id, at(404), &sys).unwrap();
    assert!(e.auth.push_device_fetch(&fetch, at(404)).await.is_err());

    // A step-up by push says so on the phone (the purpose is signed with the challenge).
    let c = challenge(e.auth.begin_step_up(&signed_in.session, &client(), at(700)).await.unwrap());
    let p = if c.method.kind == FactorKind::Push {
        c
    } else {
        challenge(e.auth.select_method(&c.flow, push_id, &client(), at(700)).await.unwrap())
    };
    assert!(matches!(p.prompt, Prompt::Push { .. }));
    let (_, hint) = e.pushes.sent().last().cloned().unwrap();
    let fetch = phone.fetch_request(&hint.challenge_id, at(701), &sys).unwrap();
    let msg = e.auth.push_device_fetch(&fetch, at(701)).await.unwrap();
    let verified = phone.verify_challenge(&msg, at(701), 30).unwrap();
    assert_eq!(verified.purpose(), mfa_push::Purpose::StepUp);

    // Each refusal on the phone is named as it happened, in the browser and to the phone: a
    // wrong number, then a report.
    for (t, decision, want, phone_hears) in [
        (
            1000,
            mfa_push::Decision::Approve,
            LoginError::PushNumberMismatch,
            mfa_push::ChallengeState::NumberMismatch,
        ),
        (
            2000,
            mfa_push::Decision::ReportFraud,
            LoginError::PushReported,
            mfa_push::ChallengeState::FraudReported,
        ),
    ] {
        let c = challenge(e.auth.login("p@example.com", PW, &client(), at(t)).await.unwrap());
        let p = if c.method.kind == FactorKind::Push {
            c
        } else {
            challenge(e.auth.select_method(&c.flow, push_id, &client(), at(t)).await.unwrap())
        };
        let Prompt::Push { number, .. } = p.prompt else { panic!() };
        let wrong = if number == 99 { 10 } else { number + 1 };
        let (_, hint) = e.pushes.sent().last().cloned().unwrap();
        let fetch = phone.fetch_request(&hint.challenge_id, at(t + 1), &sys).unwrap();
        let msg = e.auth.push_device_fetch(&fetch, at(t + 1)).await.unwrap();
        let verified = phone.verify_challenge(&msg, at(t + 1), 30).unwrap();
        assert_eq!(verified.purpose(), mfa_push::Purpose::Login);
        let resp = phone.answer(&verified, decision, wrong, &sys).unwrap();
        assert_eq!(e.auth.push_device_respond(&resp, at(t + 1)).await.unwrap(), phone_hears);
        assert_eq!(e.auth.poll_push(&p.flow, at(t + 2)).await.unwrap_err(), want);
    }
    // After the report, push is no alternative: it is listed as paused, with why and until
    // when (the report's time plus the suspension).
    let c = challenge(e.auth.login("p@example.com", PW, &client(), at(3000)).await.unwrap());
    assert!(
        c.method.kind != FactorKind::Push
            && c.alternatives.iter().all(|m| m.kind != FactorKind::Push)
    );
    let paused =
        c.unavailable.iter().find(|u| u.factor == push_id).expect("push listed as unavailable");
    let Unavailable::PushPaused { pause, until } = paused.reason else { panic!("{paused:?}") };
    assert_eq!(pause, mfa_flow::PushPause::AfterFraudReport);
    let reported_at = at(2000).duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(until, Some(reported_at + 30 * 24 * 3600 + 1), "the first second push works again");
    assert_eq!(
        e.auth.select_method(&c.flow, push_id, &client(), at(3001)).await.unwrap_err(),
        LoginError::MethodUnavailable
    );
    // The login goes on with what it had (the select left it as it was).
    assert!(matches!(
        e.auth.submit_code(&c.flow, &app.code(at(3002)), at(3002)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));

    // Once the pause is over, a password reset's push says "password reset" on the phone,
    // and approving it with the right number is what the phone hears.
    let t = reported_at + 30 * 24 * 3600 + 10
        - at(0).duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    e.auth.begin_password_reset("p@example.com", &client(), at(t)).await.unwrap();
    let Some(Notice::PasswordResetLink { link, .. }) = e.outbox.last_to("p@example.com") else {
        panic!("a reset link")
    };
    let token = link.rsplit_once("#token=").unwrap().1.to_owned();
    let c = challenge(e.auth.redeem_password_reset(&token, &client(), at(t + 1)).await.unwrap());
    let p = if c.method.kind == FactorKind::Push {
        c
    } else {
        challenge(e.auth.select_method(&c.flow, push_id, &client(), at(t + 1)).await.unwrap())
    };
    let Prompt::Push { number, .. } = p.prompt else { panic!("{:?}", p.prompt) };
    let (_, hint) = e.pushes.sent().last().cloned().unwrap();
    let fetch = phone.fetch_request(&hint.challenge_id, at(t + 2), &sys).unwrap();
    let msg = e.auth.push_device_fetch(&fetch, at(t + 2)).await.unwrap();
    let verified = phone.verify_challenge(&msg, at(t + 2), 30).unwrap();
    assert_eq!(verified.purpose(), mfa_push::Purpose::PasswordReset);
    let resp = phone.answer(&verified, mfa_push::Decision::Approve, number, &sys).unwrap();
    assert_eq!(
        e.auth.push_device_respond(&resp, at(t + 2)).await.unwrap(),
        mfa_push::ChallengeState::Approved
    );
}

#[tokio::test]
async fn email_change_immediate_with_notices_and_revert() {
    let e = env(config(), ChangeMode::Immediate);
    let app = user_with_totp(&e, "ryu@example.com").await;
    let c = challenge(e.auth.login("ryu@example.com", PW, &client(), at(100)).await.unwrap());
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    // Without a fresh second factor: refused.
    assert_eq!(
        e.auth.change_email(&done.session, PW, "new@example.com", at(100 + 601)).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    let started = e
        .auth
        .change_email(&done.session, PW, "ryuko.konaka+20231201@example.com", at(110))
        .await
        .unwrap();
    assert!(!started.awaiting_confirmation);
    assert_eq!(started.login_email.as_typed(), "ryuko.konaka+20231201@example.com");
    let Some(Notice::EmailChangedOld { revert_link, .. }) = e.outbox.last_to("ryu@example.com")
    else {
        panic!("old address told")
    };
    assert!(matches!(
        e.outbox.last_to("ryuko.konaka+20231201@example.com"),
        Some(Notice::EmailChangedNew { .. })
    ));
    // The old address no longer logs in; the new one does.
    assert_eq!(
        e.auth.login("ryu@example.com", PW, &client(), at(120)).await.unwrap_err(),
        LoginError::InvalidCredentials
    );
    assert!(
        e.auth.login("ryuko.konaka+20231201@example.com", PW, &client(), at(120)).await.is_ok()
    );
    // The revert link restores it, once.
    let token = revert_link.split("token=").nth(1).unwrap();
    assert_eq!(
        e.auth.revert_email_change(token, at(130)).await.unwrap().as_typed(),
        "ryu@example.com"
    );
    assert!(e.auth.login("ryu@example.com", PW, &client(), at(140)).await.is_ok());
    assert_eq!(
        e.auth.revert_email_change(token, at(150)).await.unwrap_err(),
        LoginError::Link(LinkProblem::Used)
    );
    assert!(e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::EmailChangeReverted { .. })));
}

#[tokio::test]
async fn email_change_confirm_mode_and_taken_address() {
    let e = env(config(), ChangeMode::ConfirmNewAddress);
    let app = user_with_totp(&e, "ryu@example.com").await;
    e.sign_up("taken@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let c = challenge(e.auth.login("ryu@example.com", PW, &client(), at(100)).await.unwrap());
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    // A taken address answers as a free one; its owner is told, nothing is asked of them.
    let sent_before = e.outbox.sent().len();
    let taken = e.auth.change_email(&done.session, PW, "TAKEN@example.com", at(110)).await.unwrap();
    assert!(taken.awaiting_confirmation);
    assert_eq!(taken.login_email.as_typed(), "ryu@example.com");
    let sent: Vec<_> = e.outbox.sent().into_iter().skip(sent_before).collect();
    let kinds: Vec<_> = sent.iter().map(|(to, n)| (to.as_typed().to_owned(), n.kind())).collect();
    assert_eq!(
        kinds,
        [
            ("taken@example.com".to_owned(), "address-in-use"),
            ("ryu@example.com".to_owned(), "email-change-requested"),
        ]
    );
    let started = e.auth.change_email(&done.session, PW, "new@example.com", at(110)).await.unwrap();
    assert!(started.awaiting_confirmation);
    assert_eq!(
        started.login_email.as_typed(),
        "ryu@example.com",
        "nothing switches before confirmation"
    );
    let Some(Notice::ConfirmNewAddress { confirm_link, .. }) = e.outbox.last_to("new@example.com")
    else {
        panic!()
    };
    assert!(matches!(
        e.outbox.last_to("ryu@example.com"),
        Some(Notice::EmailChangeRequested { .. })
    ));
    let token = confirm_link.split("token=").nth(1).unwrap();
    assert_eq!(
        e.auth.confirm_email_change(token, at(120)).await.unwrap().as_typed(),
        "new@example.com"
    );
    assert!(matches!(e.outbox.last_to("ryu@example.com"), Some(Notice::EmailChangedOld { .. })));
    assert!(e.auth.login("new@example.com", PW, &client(), at(130)).await.is_ok());
    assert_eq!(
        e.auth.confirm_email_change(token, at(131)).await.unwrap_err(),
        LoginError::Link(LinkProblem::Used),
        "a link works once"
    );
}

#[tokio::test]
async fn sensitive_actions_need_step_up_and_the_last_factor_stays() {
    let e = env(config(), ChangeMode::Immediate);
    let app = user_with_totp(&e, "s@example.com").await;
    let c = challenge(e.auth.login("s@example.com", PW, &client(), at(100)).await.unwrap());
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    let list = e.auth.factor_list(done.session.account, at(100)).await.unwrap();
    let totp = list.iter().find(|f| f.method.kind == FactorKind::Totp).unwrap().method.factor;
    assert_eq!(
        e.auth.remove_factor(&done.session, totp, at(101)).await.unwrap_err(),
        LoginError::LastFactor
    );
    let late = at(100 + 601);
    assert_eq!(
        e.auth.rename_factor(&done.session, totp, "Work phone", late).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    assert_eq!(
        e.auth.regenerate_recovery_codes(&done.session, late).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    assert_eq!(
        e.auth.begin_totp(&done.session, late).await.unwrap_err(),
        LoginError::StepUpRequired
    );
    // Step up, then it works.
    let s = challenge(e.auth.begin_step_up(&done.session, &client(), late).await.unwrap());
    let LoginStep::SteppedUp(fresh) =
        e.auth.submit_code(&s.flow, &app.code(late), late).await.unwrap()
    else {
        panic!()
    };
    e.auth.rename_factor(&fresh, totp, "Work phone", late).await.unwrap();
    assert_eq!(e.auth.regenerate_recovery_codes(&fresh, late).await.unwrap().len(), 10);
    let fresh =
        e.auth.change_password(&fresh, PW, "a different long passphrase", late).await.unwrap();
    assert!(matches!(
        e.auth
            .change_password(&fresh, "a different long passphrase", "password", late)
            .await
            .unwrap_err(),
        LoginError::Refused(_)
    ));
}

#[tokio::test]
async fn throttling_backs_off_and_a_known_device_still_gets_in() {
    let e = env(config(), ChangeMode::Immediate);
    let app = user_with_totp(&e, "t@example.com").await;
    // (At a later step than the enrollment's code, which was used.)
    let c = challenge(e.auth.login("t@example.com", PW, &client(), at(40)).await.unwrap());
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(40)), at(40)).await.unwrap()
    else {
        panic!()
    };
    let known = ClientInfo {
        known_device: Some(done.known_device.clone()),
        ip: "198.51.100.9".into(),
        ..client()
    };
    // A stranger at one address: that address is held back for this identifier, nobody
    // else is.
    let stranger = ClientInfo { ip: "203.0.113.66".into(), ..client() };
    for _ in 0..8 {
        let _ = e.auth.login("t@example.com", "guess guess guess", &stranger, at(20)).await;
    }
    assert!(matches!(
        e.auth.login("t@example.com", PW, &stranger, at(20)).await.unwrap_err(),
        LoginError::Throttled { .. }
    ));
    let owner_elsewhere = ClientInfo { ip: "198.51.100.77".into(), ..client() };
    assert!(matches!(
        e.auth.login("t@example.com", PW, &owner_elsewhere, at(20)).await.unwrap(),
        LoginStep::Challenge(_)
    ));
    // An attacker from many addresses hammers the identifier past its own, more lenient
    // limit: now every unknown browser waits.
    for i in 0..30 {
        let attacker = ClientInfo { ip: format!("192.0.2.{i}"), ..client() };
        let _ = e.auth.login("t@example.com", "guess guess guess", &attacker, at(20)).await;
    }
    let fresh_ip = ClientInfo { ip: "192.0.2.200".into(), ..client() };
    assert!(matches!(
        e.auth.login("t@example.com", PW, &fresh_ip, at(20)).await.unwrap_err(),
        LoginError::Throttled { .. }
    ));
    // The owner's known browser is not locked out.
    assert!(matches!(
        e.auth.login("t@example.com", PW, &known, at(20)).await.unwrap(),
        LoginStep::Challenge(_)
    ));
    // And the lock decays by itself.
    assert!(e.auth.login("t@example.com", PW, &fresh_ip, at(21 + 3 * 3600)).await.is_ok());
    assert!(e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::Throttled { .. })));
}

#[tokio::test]
async fn grace_period_allows_password_only_with_a_reminder() {
    let mut cfg = config();
    cfg.policy.mfa.grace =
        mfa_flow::EnrollmentGrace::AfterCreation(Duration::from_secs(7 * 86_400));
    let e = env(cfg, ChangeMode::Immediate);
    e.sign_up("g@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let LoginStep::Authenticated(done) =
        e.auth.login("g@example.com", PW, &client(), at(10)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(done.assurance, mfa_flow::Assurance::Aal1);
    assert!(matches!(done.required_actions[0], RequiredAction::EnrollMfa { .. }));
    assert!(matches!(
        e.auth.login("g@example.com", PW, &client(), at(8 * 86_400)).await.unwrap(),
        LoginStep::MustEnroll { .. }
    ));
}

#[tokio::test]
async fn security_key_enrolls_and_logs_in_at_aal3() {
    use webauthn_authenticator_rs::WebauthnAuthenticator as _;
    let e = env(config(), ChangeMode::Immediate);
    let app = user_with_totp(&e, "k@example.com").await;
    let c = challenge(e.auth.login("k@example.com", PW, &client(), at(100)).await.unwrap());
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    let (flow, options) =
        e.auth.begin_webauthn(&done.session, FactorKind::SecurityKey, at(101)).await.unwrap();
    let mut key = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(false);
    let origin = url::Url::parse(mfa_testkit::ORIGIN).unwrap();
    let reg = key.do_registration(origin.clone(), serde_json::from_str(&options).unwrap()).unwrap();
    let enrolled = e
        .auth
        .finish_webauthn(
            &done.session,
            &flow,
            &serde_json::to_string(&reg).unwrap(),
            "YubiKey",
            at(102),
        )
        .await
        .unwrap();
    assert_eq!(enrolled.factor.kind, FactorKind::SecurityKey);
    assert_eq!(enrolled.factor.name, "YubiKey");
    // Login: TOTP was used last, so it is offered first; the key is the first alternative.
    let c = challenge(e.auth.login("k@example.com", PW, &client(), at(200)).await.unwrap());
    assert_eq!(
        c.alternatives[0].kind,
        FactorKind::SecurityKey,
        "phishing-resistant first among the rest"
    );
    let LoginStep::Challenge(w) =
        e.auth.select_method(&c.flow, c.alternatives[0].factor, &client(), at(200)).await.unwrap()
    else {
        panic!()
    };
    let Prompt::WebAuthn { options } = w.prompt else { panic!() };
    let assertion = key.do_authentication(origin, serde_json::from_str(&options).unwrap()).unwrap();
    let json = serde_json::to_string(&assertion).unwrap();
    let LoginStep::Authenticated(done) =
        e.auth.submit_webauthn(&w.flow, &json, at(201)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(done.assurance, mfa_flow::Assurance::Aal3);
    // The next login prefers the key (the last used factor).
    let c = challenge(e.auth.login("k@example.com", PW, &client(), at(300)).await.unwrap());
    assert_eq!(c.method.kind, FactorKind::SecurityKey);
    // The old assertion replayed into this flow: refused.
    assert_eq!(
        e.auth.submit_webauthn(&c.flow, &json, at(301)).await.unwrap_err(),
        LoginError::WrongSecondFactor
    );
}

#[tokio::test]
async fn secrets_stay_out_of_debug() {
    let e = env(config(), ChangeMode::Immediate);
    e.sign_up("d@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login("d@example.com", PW, &client(), at(0)).await.unwrap()
    else {
        panic!()
    };
    let en = e.auth.begin_totp(&session, at(1)).await.unwrap();
    assert!(!format!("{en:?}").contains(&en.secret_base32));
    let app = TotpApp::scan(&en.uri).unwrap();
    let enrolled =
        e.auth.confirm_totp(&session, &en.flow, &app.code(at(1)), "Phone", at(1)).await.unwrap();
    let codes = enrolled.recovery_codes.clone().unwrap();
    assert!(!format!("{enrolled:?}").contains(&codes[0]));
    let c = challenge(e.auth.login("d@example.com", PW, &client(), at(40)).await.unwrap());
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(40)), at(40)).await.unwrap()
    else {
        panic!()
    };
    assert!(!format!("{done:?}").contains(&done.known_device));
    let known = ClientInfo { known_device: Some(done.known_device.clone()), ..client() };
    assert!(!format!("{known:?}").contains(&done.known_device));
    // And nothing secret reaches the audit log.
    let audit = format!("{:?}", e.audit.events());
    assert!(
        !audit.contains(&done.known_device) && !audit.contains(&codes[0]) && !audit.contains(PW)
    );
}

#[tokio::test]
async fn look_alike_addresses_are_refused_by_default() {
    let e = env(config(), ChangeMode::Immediate);
    let spoof = "billing@\u{430}pple.com";
    assert!(matches!(
        e.sign_up(spoof, PW, &ClientInfo::default(), at(0)).await.unwrap_err(),
        LoginError::Refused(_)
    ));
    assert!(
        e.sign_up("山田@例え.jp", PW, &ClientInfo::default(), at(0)).await.is_ok(),
        "Japanese is not a look-alike"
    );
    let app = user_with_totp(&e, "ok@example.com").await;
    let c = challenge(e.auth.login("ok@example.com", PW, &client(), at(100)).await.unwrap());
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        e.auth.change_email(&done.session, PW, spoof, at(101)).await.unwrap_err(),
        LoginError::Refused(_)
    ));
    // A policy that allows them.
    let mut cfg = config();
    cfg.policy.refuse_lookalike_emails = false;
    let lenient = env(cfg, ChangeMode::Immediate);
    assert!(lenient.sign_up(spoof, PW, &ClientInfo::default(), at(0)).await.is_ok());
}

#[tokio::test]
async fn signing_up_twice_tells_the_owner_not_the_visitor() {
    let e = env(config(), ChangeMode::Immediate);
    e.sign_up("owner@example.com", PW, &ClientInfo::default(), at(0)).await.unwrap();
    let fresh = e
        .auth
        .sign_up("fresh@example.com", "another long passphrase", &ClientInfo::default(), at(1))
        .await
        .unwrap();
    let taken = e
        .auth
        .sign_up("OWNER@example.com", "another long passphrase", &ClientInfo::default(), at(1))
        .await
        .unwrap();
    // The same answer as for a free address: a flow for the code, the same lifetimes.
    assert_eq!(taken.flow.len(), fresh.flow.len());
    assert_eq!((taken.code_expires, taken.expires), (fresh.code_expires, fresh.expires));
    // To the account's own address as stored, once an hour at most; no code to confirm.
    assert!(matches!(e.outbox.last_to("owner@example.com"), Some(Notice::AccountExists { .. })));
    assert_eq!(
        e.auth.confirm_sign_up_code(&taken.flow, "000000", at(2)).await.unwrap_err(),
        LoginError::WrongSecondFactor,
        "a guess meets the answer a real sign-up's wrong code meets"
    );
    let nobody = ClientInfo::default();
    for t in 2..6 {
        let again = e.auth.sign_up("owner@example.com", "yet another passphrase", &nobody, at(t));
        assert!(again.await.is_ok());
    }
    let sent = e.outbox.sent().iter().filter(|(_, n)| n.kind() == "account-exists").count();
    assert_eq!(sent, 1, "no mail bomb through repeated sign-ups");
    // The account is unchanged: the first password still logs in.
    assert!(matches!(
        e.auth.login("owner@example.com", PW, &client(), at(2)).await.unwrap(),
        LoginStep::MustEnroll { .. }
    ));
}
