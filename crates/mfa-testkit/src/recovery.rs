//! Account recovery as an attacker tries it, on any [`Store`]: sign-up that must prove the
//! address, "forgot password", the operator's reset, and email changes that cannot be
//! turned back on their owner. Each scenario plays the attack and asserts what must hold;
//! every store runs them (memory here, SQLite and PostgreSQL in `mfa-store-sql`), with a
//! fresh store per scenario. Panics name the property that does not hold.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mfa_email_identity::{ChangeMode, Notice};
use mfa_flow::{
    AuditEvent, AuthConfig, ClientInfo, EnrollmentProof, FactorKind, LinkProblem, LoginError,
    LoginStep, Session, Store,
};

use crate::{TestEnv, TotpApp, at, test_auth_on};

const PW: &str = "correct horse battery staple";
const NEW_PW: &str = "a brand new long passphrase";

/// Runs every scenario. `make` returns a fresh, empty store.
pub async fn run<S, F, Fut>(make: F)
where
    S: Store + Clone + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    sign_up_needs_the_mailbox(make().await).await;
    pre_registration_never_blocks_the_owner(make().await).await;
    an_unconfirmed_sign_up_expires(make().await).await;
    confirmation_guesses_are_counted_per_mailbox(make().await).await;
    forgot_password_answers_alike_and_is_throttled(make().await).await;
    the_mailbox_alone_never_resets_an_account_with_a_factor(make().await).await;
    a_recovery_code_completes_a_reset(make().await).await;
    reset_links_work_once_and_die_with_a_revocation(make().await).await;
    an_account_without_factors_resets_by_mail(make().await).await;
    a_retired_factor_only_account_needs_the_operator(make().await).await;
    an_old_revert_link_never_turns_a_later_change_back(make().await).await;
    codes_by_mail_never_stand_in_for_a_reset_factor(make().await).await;
    a_reset_cannot_suspend_the_owners_factors(make().await).await;
    code_guesses_meet_one_throttle_whether_or_not_an_account_exists(make().await).await;
    a_refused_password_does_not_extend_a_grant(make().await).await;
    confirm_and_cancel_of_one_change_are_exclusive(make().await).await;
    link_failures_are_named(make().await).await;
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: "203.0.113.7".into(),
        browser: "Firefox on Linux".into(),
        ..Default::default()
    }
}

fn attacker() -> ClientInfo {
    ClientInfo { ip: "198.51.100.66".into(), browser: "curl".into(), ..Default::default() }
}

fn env<S: Store>(store: S, mode: ChangeMode) -> TestEnv<S> {
    seeded_env(store, mode, 9)
}

/// Environments sharing one store need their own random streams (account ids).
fn seeded_env<S: Store>(store: S, mode: ChangeMode, seed: u8) -> TestEnv<S> {
    let mut config = AuthConfig::new("Example Portal");
    // Codes by email allowed, so the scenarios show they never stand in for a reset's factor.
    config.policy.retirement = config.policy.retirement.allow(FactorKind::EmailCode);
    config.signup_confirm_url = "https://portal.example/signup/confirm".into();
    config.password_reset_url = "https://portal.example/password/reset".into();
    test_auth_on(store, config, mode, seed)
}

/// A confirmed account with an authenticator app: the app, the recovery codes, and the
/// session that enrolled it with its token.
async fn user_with_totp<S: Store>(
    e: &TestEnv<S>,
    email: &str,
    t: u64,
) -> (TotpApp, Vec<String>, (Session, String)) {
    e.sign_up(email, PW, &client(), at(t)).await.unwrap();
    let LoginStep::MustEnroll { session, session_token, .. } =
        e.auth.login(email, PW, &client(), at(t)).await.unwrap()
    else {
        panic!("a new account must enroll")
    };
    let en = e.auth.begin_totp(&session, at(t)).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    let done = e.auth.confirm_totp(&session, &en.flow, &app.code(at(t)), "Phone", at(t)).await;
    let done = done.unwrap();
    (app, done.recovery_codes.unwrap(), (done.session, session_token.expose_secret().to_owned()))
}

/// Signs in with the password and the app at `t` (a TOTP step after any earlier use).
async fn sign_in<S: Store>(
    e: &TestEnv<S>,
    email: &str,
    password: &str,
    app: &TotpApp,
    t: u64,
) -> Result<mfa_flow::Authenticated, LoginError> {
    match e.auth.login(email, password, &client(), at(t)).await? {
        LoginStep::Challenge(c) => {
            match e.auth.submit_code(&c.flow, &app.code(at(t)), at(t)).await? {
                LoginStep::Authenticated(a) => Ok(a),
                other => panic!("expected a session, got {other:?}"),
            }
        }
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// The token of the last "forgot password" link mailed to `to`.
fn reset_token<S>(e: &TestEnv<S>, to: &str) -> String {
    match e.outbox.last_to(to) {
        Some(Notice::PasswordResetLink { link, .. }) => {
            link.rsplit_once("#token=").unwrap().1.to_owned()
        }
        other => panic!("expected a reset link to {to}, got {other:?}"),
    }
}

fn grant(step: LoginStep) -> String {
    match step {
        LoginStep::ResetPassword(g) => g.expose_secret().to_owned(),
        other => panic!("expected a reset grant, got {other:?}"),
    }
}

fn challenge(step: LoginStep) -> mfa_flow::ChallengeView {
    match step {
        LoginStep::Challenge(c) => c,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// A sign-up creates no account until the mailbox answers: the code in the page (a few
/// guesses use it up) or the link with the sign-up's password (a wrong one leaves the link).
async fn sign_up_needs_the_mailbox<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let started = e.auth.sign_up("new@example.com", PW, &client(), at(0)).await.unwrap();
    assert_eq!(
        e.auth.login("new@example.com", PW, &client(), at(1)).await.unwrap_err(),
        LoginError::InvalidCredentials,
        "sign-up: no account before the address is confirmed"
    );
    let (code, token) = e.outbox.last_confirmation("new@example.com").unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        assert_eq!(
            e.auth.confirm_sign_up_code(&started.flow, wrong, at(2)).await.unwrap_err(),
            LoginError::WrongSecondFactor,
            "sign-up: a wrong code is refused"
        );
    }
    assert_eq!(
        e.auth.confirm_sign_up_code(&started.flow, &code, at(3)).await.unwrap_err(),
        LoginError::FlowExpired,
        "sign-up: three wrong codes use the code up"
    );
    assert_eq!(
        e.auth.confirm_sign_up_link(&token, "not the password at all", at(4)).await.unwrap_err(),
        LoginError::InvalidCredentials,
        "sign-up: the link needs the sign-up's password"
    );
    let account = e.auth.confirm_sign_up_link(&token, PW, at(5)).await.unwrap();
    assert_eq!(account.email.as_typed(), "new@example.com");
    assert_eq!(
        e.auth.confirm_sign_up_link(&token, PW, at(6)).await.unwrap_err(),
        LoginError::Link(LinkProblem::Used),
        "sign-up: the link works once"
    );
    assert!(
        matches!(
            e.auth.login("new@example.com", PW, &client(), at(7)).await,
            Ok(LoginStep::MustEnroll { .. })
        ),
        "sign-up: the confirmed account signs in (and must enroll)"
    );
    assert!(e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::SignUpConfirmed { .. })));
}

/// Someone signs up with another person's address and a password of their choosing. The
/// owner's own sign-up wins; the squatter's link cannot be confirmed by the owner (who does
/// not know that password) and dies once the owner's account exists.
async fn pre_registration_never_blocks_the_owner<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let squat = "the squatter's own passphrase";
    e.auth.sign_up("ceo@bigcorp.example", squat, &attacker(), at(0)).await.unwrap();
    let (_, squat_token) = e.outbox.last_confirmation("ceo@bigcorp.example").unwrap();
    // The owner, tricked into opening the squatter's link, does not know its password.
    assert_eq!(
        e.auth.confirm_sign_up_link(&squat_token, PW, at(10)).await.unwrap_err(),
        LoginError::InvalidCredentials,
        "pre-registration: the owner's password does not confirm the squatter's sign-up"
    );
    // The owner signs up and confirms: their account, their password.
    e.sign_up("ceo@bigcorp.example", PW, &client(), at(20)).await.unwrap();
    assert!(e.auth.login("ceo@bigcorp.example", PW, &client(), at(21)).await.is_ok());
    assert_eq!(
        e.auth.login("ceo@bigcorp.example", squat, &attacker(), at(22)).await.unwrap_err(),
        LoginError::InvalidCredentials,
        "pre-registration: the squatter's password does not sign in"
    );
    // Even with the mailbox's link, the squatter's sign-up cannot take the address now.
    assert_eq!(
        e.auth.confirm_sign_up_link(&squat_token, squat, at(30)).await.unwrap_err(),
        LoginError::AccountExists,
        "pre-registration: a later confirmation does not replace the owner's account"
    );
}

/// An unconfirmed sign-up expires: its code after the code's lifetime, its link after the
/// sign-up's.
async fn an_unconfirmed_sign_up_expires<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let started = e.auth.sign_up("late@example.com", PW, &client(), at(0)).await.unwrap();
    let (code, token) = e.outbox.last_confirmation("late@example.com").unwrap();
    let after_code = started.code_expires + Duration::from_secs(1);
    assert_eq!(
        e.auth.confirm_sign_up_code(&started.flow, &code, after_code).await.unwrap_err(),
        LoginError::FlowExpired,
        "expiry: the code ends with its lifetime"
    );
    let ttl = e.auth.config().signup_ttl;
    assert_eq!(ttl, Duration::from_secs(24 * 3600), "expiry: the default is 24 hours");
    let after_link = at(0) + ttl + Duration::from_secs(1);
    assert_eq!(
        e.auth.confirm_sign_up_link(&token, PW, after_link).await.unwrap_err(),
        LoginError::Link(LinkProblem::Expired),
        "expiry: the link ends with the sign-up"
    );
    assert!(
        e.auth
            .store()
            .account_by_email(&crate::canonical("late@example.com"))
            .await
            .unwrap()
            .is_none()
    );
}

/// Guessing codes across many sign-ups of one mailbox meets the throttle: a 6-digit code is
/// no way to claim someone else's address.
async fn confirmation_guesses_are_counted_per_mailbox<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let mut throttled = false;
    for i in 0..40u64 {
        let c = ClientInfo { ip: format!("198.51.100.{i}"), ..attacker() };
        let Ok(started) =
            e.auth.sign_up("victim@example.com", "squatter passphrase 1", &c, at(i)).await
        else {
            // The sign-up key of the mailbox holds first: also fine.
            throttled = true;
            break;
        };
        match e.auth.confirm_sign_up_code(&started.flow, "123456", at(i)).await {
            Err(LoginError::Throttled { .. }) => {
                throttled = true;
                break;
            }
            Err(LoginError::WrongSecondFactor) => {}
            Ok(_) => {} // One guess in a million can be right; the count still matters.
            Err(other) => panic!("guessing: unexpected {other:?}"),
        }
    }
    assert!(throttled, "guessing: forty guesses across sign-ups met no throttle");
}

/// "Forgot password" answers alike for any address, mails only an account's, and is
/// throttled per mailbox whether or not it has an account.
async fn forgot_password_answers_alike_and_is_throttled<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    e.sign_up("known@example.com", PW, &client(), at(0)).await.unwrap();
    let sent = e.outbox.sent().len();
    assert_eq!(e.auth.begin_password_reset("nobody@example.com", &client(), at(1)).await, Ok(()));
    assert_eq!(e.outbox.sent().len(), sent, "forgot: no mail to an address without an account");
    assert_eq!(e.auth.begin_password_reset("known@example.com", &client(), at(1)).await, Ok(()));
    assert!(matches!(
        e.outbox.last_to("known@example.com"),
        Some(Notice::PasswordResetLink { .. })
    ));
    // The same throttle for both, from many addresses.
    let mut answers = Vec::new();
    for target in ["known@example.com", "nobody@example.com"] {
        let mut seq = Vec::new();
        for i in 0..30u64 {
            let c = ClientInfo { ip: format!("192.0.2.{i}"), ..attacker() };
            let r = e.auth.begin_password_reset(target, &c, at(100)).await;
            seq.push(r.is_ok());
        }
        answers.push(seq);
    }
    assert_eq!(answers[0], answers[1], "forgot: the throttle tells no accounts apart");
    assert!(answers[1].contains(&false), "forgot: requests for one mailbox are throttled");
}

/// With only the mailbox, an attacker meets the second factor; with it, the owner sets a new
/// password, and every old session and browser is signed out.
async fn the_mailbox_alone_never_resets_an_account_with_a_factor<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let (app, _, old) = user_with_totp(&e, "owner@example.com", 0).await;
    let signed_in = sign_in(&e, "owner@example.com", PW, &app, 30).await.unwrap();
    e.auth.begin_password_reset("owner@example.com", &attacker(), at(60)).await.unwrap();
    let token = reset_token(&e, "owner@example.com");
    // The mailbox holder gets a second-factor challenge, not a grant.
    let c = challenge(e.auth.redeem_password_reset(&token, &attacker(), at(61)).await.unwrap());
    assert_eq!(
        e.auth.submit_code(&c.flow, "000000", at(62)).await.unwrap_err(),
        LoginError::WrongSecondFactor,
        "reset: the mailbox alone does not pass"
    );
    // The owner, with the app.
    let g = grant(e.auth.submit_code(&c.flow, &app.code(at(90)), at(90)).await.unwrap());
    assert!(
        matches!(
            e.auth.complete_password_reset(&g, "password", &client(), at(91)).await,
            Err(LoginError::Refused(_))
        ),
        "reset: the password policy holds"
    );
    e.auth.complete_password_reset(&g, NEW_PW, &client(), at(92)).await.unwrap();
    assert_eq!(
        e.auth.complete_password_reset(&g, NEW_PW, &client(), at(93)).await.unwrap_err(),
        LoginError::FlowExpired,
        "reset: a grant works once"
    );
    for token in [old.1.as_str(), signed_in.session_token.expose_secret()] {
        assert_eq!(
            e.auth.session(token, at(94)).await.unwrap_err(),
            LoginError::NotSignedIn,
            "reset: every earlier session ends"
        );
    }
    assert!(
        !e.auth.is_signed_in_device(&signed_in.known_device, at(94)).await,
        "reset: every known browser is forgotten"
    );
    assert_eq!(
        e.auth.login("owner@example.com", PW, &client(), at(95)).await.unwrap_err(),
        LoginError::InvalidCredentials,
        "reset: the old password is gone"
    );
    sign_in(&e, "owner@example.com", NEW_PW, &app, 120).await.unwrap();
    assert!(e.outbox.sent().iter().any(|(_, n)| n.kind() == "password-reset"), "reset: mailed");
    assert!(e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::PasswordReset { .. })));
}

/// A recovery code stands in for a lost phone in a reset; it is used up and mailed.
async fn a_recovery_code_completes_a_reset<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let (_, codes, _) = user_with_totp(&e, "lost@example.com", 0).await;
    e.auth.begin_password_reset("lost@example.com", &client(), at(10)).await.unwrap();
    let token = reset_token(&e, "lost@example.com");
    let c = challenge(e.auth.redeem_password_reset(&token, &client(), at(11)).await.unwrap());
    let codes_factor = c
        .alternatives
        .iter()
        .find(|m| m.kind == FactorKind::RecoveryCodes)
        .expect("reset: recovery codes are offered")
        .factor;
    let c =
        challenge(e.auth.select_method(&c.flow, codes_factor, &client(), at(12)).await.unwrap());
    let g = grant(e.auth.submit_code(&c.flow, &codes[0], at(13)).await.unwrap());
    e.auth.complete_password_reset(&g, NEW_PW, &client(), at(14)).await.unwrap();
    assert!(matches!(
        e.auth.login("lost@example.com", NEW_PW, &client(), at(15)).await,
        Ok(LoginStep::Challenge(_))
    ));
    assert!(
        e.outbox
            .sent()
            .iter()
            .any(|(_, n)| matches!(n, Notice::RecoveryCodeUsed { remaining: 9, .. }))
    );
}

/// A reset link works once, within its lifetime, and not after a revocation since.
async fn reset_links_work_once_and_die_with_a_revocation<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let (_, _, session) = user_with_totp(&e, "once@example.com", 0).await;
    e.auth.begin_password_reset("once@example.com", &client(), at(10)).await.unwrap();
    let token = reset_token(&e, "once@example.com");
    e.auth.redeem_password_reset(&token, &client(), at(11)).await.unwrap();
    assert_eq!(
        e.auth.redeem_password_reset(&token, &client(), at(12)).await.unwrap_err(),
        LoginError::Link(LinkProblem::Used)
    );
    e.auth.begin_password_reset("once@example.com", &client(), at(20)).await.unwrap();
    let late = reset_token(&e, "once@example.com");
    let after = at(20) + e.auth.config().password_reset_ttl;
    assert_eq!(
        e.auth.redeem_password_reset(&late, &client(), after).await.unwrap_err(),
        LoginError::Link(LinkProblem::Expired)
    );
    e.auth.begin_password_reset("once@example.com", &client(), at(30)).await.unwrap();
    let revoked = reset_token(&e, "once@example.com");
    e.auth.end_all_sessions(session.0.account, at(31)).await.unwrap();
    assert_eq!(
        e.auth.redeem_password_reset(&revoked, &client(), at(32)).await.unwrap_err(),
        LoginError::Link(LinkProblem::Superseded)
    );
}

/// An account that never had a factor (inside its grace period) resets by mail alone.
async fn an_account_without_factors_resets_by_mail<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    e.sign_up("plain@example.com", PW, &client(), at(0)).await.unwrap();
    e.auth.begin_password_reset("plain@example.com", &client(), at(1)).await.unwrap();
    let token = reset_token(&e, "plain@example.com");
    let g = grant(e.auth.redeem_password_reset(&token, &client(), at(2)).await.unwrap());
    e.auth.complete_password_reset(&g, NEW_PW, &client(), at(3)).await.unwrap();
    assert!(e.auth.login("plain@example.com", NEW_PW, &client(), at(4)).await.is_ok());
}

/// An account whose only factor is retired (an imported SMS number) is not reset by mail
/// alone; the operator's reset clears it, and the next sign-in must prove the mailbox
/// before a new factor is bound.
async fn a_retired_factor_only_account_needs_the_operator<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let account = e.sign_up("legacy@example.com", PW, &client(), at(0)).await.unwrap();
    e.auth.store().add_factor(&crate::conformance::sms_factor(77, account.id)).await.unwrap();
    e.auth.begin_password_reset("legacy@example.com", &client(), at(1)).await.unwrap();
    let token = reset_token(&e, "legacy@example.com");
    assert_eq!(
        e.auth.redeem_password_reset(&token, &client(), at(2)).await.unwrap_err(),
        LoginError::RecoveryNeedsSupport,
        "support: a retired factor is no way around the second factor"
    );
    let LoginStep::MustEnroll { session_token, .. } =
        e.auth.login("legacy@example.com", PW, &client(), at(3)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(e.auth.reset_factors_by_support(account.id, at(4)).await, Ok(1));
    assert!(e.auth.store().factors(account.id).await.unwrap().is_empty());
    assert_eq!(
        e.auth.session(session_token.expose_secret(), at(5)).await.unwrap_err(),
        LoginError::NotSignedIn,
        "support: every session ends"
    );
    assert!(matches!(
        e.outbox.last_to("legacy@example.com"),
        Some(Notice::FactorsResetBySupport { .. })
    ));
    assert!(
        e.audit
            .events()
            .iter()
            .any(|ev| matches!(ev, AuditEvent::FactorsResetBySupport { removed: 1, .. }))
    );
    // The person resets the password by mail, then must prove the mailbox to enroll.
    e.auth.begin_password_reset("legacy@example.com", &client(), at(6)).await.unwrap();
    let token = reset_token(&e, "legacy@example.com");
    let g = grant(e.auth.redeem_password_reset(&token, &client(), at(7)).await.unwrap());
    e.auth.complete_password_reset(&g, NEW_PW, &client(), at(8)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login("legacy@example.com", NEW_PW, &client(), at(9)).await.unwrap()
    else {
        panic!("support: the next sign-in must enroll")
    };
    assert_eq!(session.proof, EnrollmentProof::Required, "support: the mailbox is proven first");
    assert_eq!(e.auth.begin_totp(&session, at(10)).await.unwrap_err(), LoginError::ProofRequired);
}

/// A→B, then B→C. While A's revert link works, no second change starts: whoever took the
/// account over cannot void it by changing twice. Once it has expired, B→C goes through and
/// A's link cannot turn anything back; C signs in. The latest change's revert works, tells
/// the address that loses the login, and ends every session.
async fn an_old_revert_link_never_turns_a_later_change_back<S: Store>(s: S) {
    let e = env(s, ChangeMode::Immediate);
    let (app, _, _) = user_with_totp(&e, "a@example.com", 0).await;
    let fresh = sign_in(&e, "a@example.com", PW, &app, 30).await.unwrap();
    e.auth.change_email(&fresh.session, PW, "b@example.com", at(31)).await.unwrap();
    let revert = |to: &str| match e.outbox.last_to(to) {
        Some(Notice::EmailChangedOld { revert_link, revert_expires, .. }) => {
            (revert_link.rsplit_once("token=").unwrap().1.to_owned(), revert_expires)
        }
        other => panic!("expected a revert link to {to}, got {other:?}"),
    };
    let (a_link, a_until) = revert("a@example.com");
    let fresh = sign_in(&e, "b@example.com", PW, &app, 60).await.unwrap();
    assert!(
        matches!(
            e.auth.change_email(&fresh.session, PW, "c@example.com", at(61)).await,
            Err(LoginError::Refused(_))
        ),
        "revert: no second change while the first can be turned back"
    );
    // After the window: B→C.
    let later = a_until.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 60
        - at(0).duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let fresh = sign_in(&e, "b@example.com", PW, &app, later).await.unwrap();
    e.auth.change_email(&fresh.session, PW, "c@example.com", at(later + 1)).await.unwrap();
    let (b_link, _) = revert("b@example.com");
    assert!(
        matches!(
            e.auth.revert_email_change(&a_link, at(later + 10)).await.unwrap_err(),
            LoginError::Link(LinkProblem::Expired | LinkProblem::Superseded)
        ),
        "revert: an earlier change's link turns nothing back"
    );
    let c_session = sign_in(&e, "c@example.com", PW, &app, later + 30).await.unwrap();
    assert_eq!(
        e.auth.revert_email_change(&b_link, at(later + 40)).await.unwrap().as_typed(),
        "b@example.com"
    );
    assert!(
        matches!(e.outbox.last_to("c@example.com"), Some(Notice::EmailChangeUndone { .. })),
        "revert: the address that loses the login is told"
    );
    assert_eq!(
        e.auth.session(c_session.session_token.expose_secret(), at(later + 41)).await.unwrap_err(),
        LoginError::NotSignedIn,
        "revert: every session ends"
    );
    sign_in(&e, "b@example.com", PW, &app, later + 60).await.unwrap();
}

/// Confirm and cancel of one change, at once: exactly one of them applies.
async fn confirm_and_cancel_of_one_change_are_exclusive<S: Store + Clone + 'static>(s: S) {
    for round in 0..8u8 {
        let e = Arc::new(seeded_env(s.clone(), ChangeMode::ConfirmNewAddress, 100 + round));
        let email = format!("race{round}@example.com");
        let (app, _, _) = user_with_totp(&e, &email, 0).await;
        let fresh = sign_in(&e, &email, PW, &app, 30).await.unwrap();
        let new = format!("moved{round}@example.com");
        e.auth.change_email(&fresh.session, PW, &new, at(31)).await.unwrap();
        let confirm = match e.outbox.last_to(&new) {
            Some(Notice::ConfirmNewAddress { confirm_link, .. }) => confirm_link,
            other => panic!("{other:?}"),
        };
        let cancel = match e.outbox.last_to(&email) {
            Some(Notice::EmailChangeRequested { cancel_link, .. }) => cancel_link,
            other => panic!("{other:?}"),
        };
        let token = |l: String| l.rsplit_once("token=").unwrap().1.to_owned();
        let (c, x) = (token(confirm), token(cancel));
        let e1 = Arc::clone(&e);
        let e2 = Arc::clone(&e);
        let a = tokio::spawn(async move { e1.auth.confirm_email_change(&c, at(40)).await });
        let b = tokio::spawn(async move { e2.auth.revert_email_change(&x, at(40)).await });
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert!(
            a.is_ok() != b.is_ok(),
            "race: confirm {a:?} and cancel {b:?} both or neither applied"
        );
    }
}

/// Each way a link fails has its own answer.
async fn link_failures_are_named<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    for bad in ["", "no-such-token", &"x".repeat(500)] {
        assert_eq!(
            e.auth.revert_email_change(bad, at(1)).await.unwrap_err(),
            LoginError::Link(LinkProblem::Unknown)
        );
        assert_eq!(
            e.auth.redeem_password_reset(bad, &client(), at(1)).await.unwrap_err(),
            LoginError::Link(LinkProblem::Unknown)
        );
        assert_eq!(
            e.auth.confirm_sign_up_link(bad, PW, at(1)).await.unwrap_err(),
            LoginError::Link(LinkProblem::Unknown)
        );
    }
    let (app, _, _) = user_with_totp(&e, "named@example.com", 0).await;
    let fresh = sign_in(&e, "named@example.com", PW, &app, 30).await.unwrap();
    e.auth.change_email(&fresh.session, PW, "next@example.com", at(31)).await.unwrap();
    let Some(Notice::EmailChangeRequested { cancel_link, expires, .. }) =
        e.outbox.last_to("named@example.com")
    else {
        panic!()
    };
    let token = cancel_link.rsplit_once("token=").unwrap().1.to_owned();
    assert_eq!(
        e.auth.revert_email_change(&token, expires + Duration::from_secs(1)).await.unwrap_err(),
        LoginError::Link(LinkProblem::Expired)
    );
    assert_eq!(
        e.auth.revert_email_change(&token, at(40)).await.unwrap().as_typed(),
        "named@example.com"
    );
    assert_eq!(
        e.auth.revert_email_change(&token, at(41)).await.unwrap_err(),
        LoginError::Link(LinkProblem::Used)
    );
}

/// An email-code factor goes to the mailbox that opened the reset: it is never offered, and
/// an account whose only factor it is needs the operator.
async fn codes_by_mail_never_stand_in_for_a_reset_factor<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let (_, _, (session, _)) = user_with_totp(&e, "mail@example.com", 0).await;
    let email_factor = |n: u128| mfa_flow::Factor {
        id: mfa_flow::FactorId(uuid::Uuid::from_u128(n)),
        account: session.account,
        kind: FactorKind::EmailCode,
        name: "Email".into(),
        created: 1,
        last_used: None,
        version: 1,
        data: mfa_flow::FactorData::EmailCode,
        suspended: None,
    };
    e.auth.store().add_factor(&email_factor(501)).await.unwrap();
    e.auth.begin_password_reset("mail@example.com", &attacker(), at(10)).await.unwrap();
    let token = reset_token(&e, "mail@example.com");
    let c = challenge(e.auth.redeem_password_reset(&token, &attacker(), at(11)).await.unwrap());
    assert_ne!(c.method.kind, FactorKind::EmailCode);
    assert!(
        c.alternatives.iter().all(|m| m.kind != FactorKind::EmailCode),
        "reset: codes by mail are not offered"
    );
    let id = mfa_flow::FactorId(uuid::Uuid::from_u128(501));
    assert_eq!(
        e.auth.select_method(&c.flow, id, &attacker(), at(12)).await.unwrap_err(),
        LoginError::MethodUnavailable,
        "reset: codes by mail cannot be chosen"
    );
    // Only codes by mail: the mailbox alone would do, so only the operator can help.
    let only = e.sign_up("only-mail@example.com", PW, &client(), at(20)).await.unwrap();
    let mut f = email_factor(502);
    f.account = only.id;
    e.auth.store().add_factor(&f).await.unwrap();
    e.auth.begin_password_reset("only-mail@example.com", &attacker(), at(21)).await.unwrap();
    let token = reset_token(&e, "only-mail@example.com");
    assert_eq!(
        e.auth.redeem_password_reset(&token, &attacker(), at(22)).await.unwrap_err(),
        LoginError::RecoveryNeedsSupport
    );
}

/// Wrong answers in resets (opened with the mailbox alone) never suspend the owner's
/// factors; a reset ends after a few.
async fn a_reset_cannot_suspend_the_owners_factors<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    let (app, _, _) = user_with_totp(&e, "held@example.com", 0).await;
    let mut ended = 0;
    for round in 0..30u64 {
        let t = 10 + round * 4000;
        let c = ClientInfo { ip: format!("198.51.100.{round}"), ..attacker() };
        if e.auth.begin_password_reset("held@example.com", &c, at(t)).await.is_err() {
            continue;
        }
        let token = reset_token(&e, "held@example.com");
        let Ok(step) = e.auth.redeem_password_reset(&token, &c, at(t + 1)).await else { continue };
        let flow = challenge(step).flow;
        for i in 0..8u64 {
            match e.auth.submit_code(&flow, "000000", at(t + 2 + i)).await {
                Err(LoginError::WrongSecondFactor | LoginError::Throttled { .. }) => {}
                Err(LoginError::FlowExpired) => {
                    ended += 1;
                    break;
                }
                other => panic!("reset guessing: {other:?}"),
            }
        }
    }
    assert!(ended > 0, "reset: a reset ends after a few wrong answers");
    let list = e.auth.factor_list(
        e.auth
            .store()
            .account_by_email(&crate::canonical("held@example.com"))
            .await
            .unwrap()
            .unwrap()
            .id,
        at(200_000),
    );
    assert!(
        list.await.unwrap().iter().all(|f| f.suspended.is_none()),
        "reset: no factor is suspended by a mailbox holder's guesses"
    );
    assert!(
        !e.outbox.sent().iter().any(|(_, n)| n.kind() == "factor-locked"),
        "reset: no factor-locked notice"
    );
    sign_in(&e, "held@example.com", PW, &app, 200_000).await.unwrap();
}

/// Guessing sign-up codes meets the same throttle for an address with an account as for a
/// free one: the answers tell no accounts apart.
async fn code_guesses_meet_one_throttle_whether_or_not_an_account_exists<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    e.sign_up("taken@example.com", PW, &client(), at(0)).await.unwrap();
    let mut seqs = Vec::new();
    for target in ["taken@example.com", "free@example.com"] {
        let mut seq = Vec::new();
        for i in 0..6u64 {
            let c = ClientInfo { ip: format!("203.0.113.{i}"), ..attacker() };
            let Ok(started) = e.auth.sign_up(target, "squatter passphrase 1", &c, at(100)).await
            else {
                seq.push("sign-up throttled".to_owned());
                continue;
            };
            for _ in 0..3 {
                let r = e.auth.confirm_sign_up_code(&started.flow, "999999", at(100)).await;
                seq.push(format!(
                    "{:?}",
                    r.map(|_| ()).map_err(|e| match e {
                        LoginError::Throttled { .. } => "throttled".to_owned(),
                        e => format!("{e:?}"),
                    })
                ));
            }
        }
        seqs.push(seq);
    }
    assert_eq!(seqs[0], seqs[1], "sign-up: code guesses tell no accounts apart");
}

/// A grant refused for its password goes back until its own expiry, never longer.
async fn a_refused_password_does_not_extend_a_grant<S: Store>(s: S) {
    let e = env(s, ChangeMode::ConfirmNewAddress);
    e.sign_up("grant@example.com", PW, &client(), at(0)).await.unwrap();
    e.auth.begin_password_reset("grant@example.com", &client(), at(1)).await.unwrap();
    let token = reset_token(&e, "grant@example.com");
    let g = grant(e.auth.redeem_password_reset(&token, &client(), at(2)).await.unwrap());
    for t in [600, 800] {
        assert!(matches!(
            e.auth.complete_password_reset(&g, "password", &client(), at(t)).await,
            Err(LoginError::Refused(_))
        ));
    }
    assert_eq!(
        e.auth.complete_password_reset(&g, NEW_PW, &client(), at(2 + 15 * 60)).await.unwrap_err(),
        LoginError::FlowExpired,
        "reset: a grant ends with its own lifetime"
    );
}
