//! Limits that hold under attack, played against the orchestrator on the memory store: the
//! throttle tells nothing about which accounts exist, parallel guesses cannot outrun it, a
//! factor guessed at 100 times in a row is suspended (and comes back when the owner proves
//! themselves another way), and a stranger's failures do not lock the owner out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use mfa_email_identity::ChangeMode;
use mfa_flow::{
    AuthConfig, ClientInfo, FactorKind, LoginError, LoginStep, Store, SuspensionReason, Unavailable,
};
use mfa_testkit::{TestEnv, TotpApp, at, canonical, test_auth};

const PW: &str = "correct horse battery staple";

fn client(ip: &str) -> ClientInfo {
    ClientInfo { ip: ip.into(), browser: "Firefox on Linux".into(), ..ClientInfo::default() }
}

/// Codes by email allowed (they are off by default): these tests use them as a method.
fn env() -> TestEnv {
    let mut config = AuthConfig::new("Example Portal");
    config.policy.retirement = config.policy.retirement.allow(FactorKind::EmailCode);
    test_auth(config, ChangeMode::Immediate, 7)
}

/// An account with an authenticator app (and its recovery codes).
async fn user(e: &TestEnv, email: &str) -> (TotpApp, Vec<String>) {
    e.sign_up(email, PW, &ClientInfo::default(), at(0)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login(email, PW, &client("203.0.113.7"), at(0)).await.unwrap()
    else {
        panic!("a new account enrolls")
    };
    let en = e.auth.begin_totp(&session, at(1)).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    let done = e.auth.confirm_totp(&session, &en.flow, &app.code(at(1)), "Phone", at(1)).await;
    (app, done.unwrap().recovery_codes.unwrap())
}

/// The throttle counts the identifier whether or not an account has it: a known and an
/// unknown address meet exactly the same answers, attempt after attempt.
#[tokio::test]
async fn the_throttle_does_not_tell_which_accounts_exist() {
    let e = env();
    user(&e, "known@example.com").await;
    let mut answers = Vec::new();
    for (email, ip) in [("known@example.com", "192.0.2.9"), ("nobody@example.com", "192.0.2.10")] {
        let mut seq = Vec::new();
        for i in 0..12 {
            let c = client(ip);
            seq.push(
                e.auth.login(email, "wrong password here", &c, at(100 + i)).await.unwrap_err(),
            );
        }
        answers.push(seq);
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].iter().any(|a| matches!(a, LoginError::Throttled { .. })), "{answers:?}");
    assert!(answers[0][..5].iter().all(|a| *a == LoginError::InvalidCredentials));
}

/// 200 wrong codes at once, each in its own login flow (the password is known): the account's
/// second-factor throttle admits the free attempts and refuses the rest before any code is
/// checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_cannot_outrun_the_throttle() {
    let e = env();
    let (app, _) = user(&e, "race@example.com").await;
    let mut flows = Vec::new();
    for _ in 0..200 {
        let LoginStep::Challenge(c) =
            e.auth.login("race@example.com", PW, &client("203.0.113.7"), at(60)).await.unwrap()
        else {
            panic!()
        };
        flows.push(c.flow);
    }
    let good = app.code(at(60));
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let auth = Arc::new(e.auth);
    let barrier = Arc::new(tokio::sync::Barrier::new(flows.len()));
    let tasks: Vec<_> = flows
        .into_iter()
        .map(|flow| {
            let (auth, barrier) = (Arc::clone(&auth), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                auth.submit_code(&flow, wrong, at(60)).await.unwrap_err()
            })
        })
        .collect();
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            LoginError::WrongSecondFactor => checked += 1,
            LoginError::Throttled { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    let free = AuthConfig::new("x").policy.throttle.free;
    assert_eq!(checked, free, "exactly the free attempts were checked");
}

/// 100 consecutive failures of the authenticator app, spread out so that the decaying
/// throttle never stops them: the app is suspended (not offered, the owner mailed); the owner
/// signs in with a recovery code and the app works again.
#[tokio::test]
async fn a_factor_guessed_100_times_is_suspended_until_the_owner_proves_themselves() {
    let e = env();
    let (app, codes) = user(&e, "capped@example.com").await;
    let attacker = client("198.51.100.66");
    let hour = 3600;
    for i in 0..100u64 {
        let t = 1000 + i * hour;
        let LoginStep::Challenge(c) =
            e.auth.login("capped@example.com", PW, &attacker, at(t)).await.unwrap()
        else {
            panic!("attempt {i}")
        };
        assert_eq!(c.method.kind, FactorKind::Totp, "attempt {i}");
        let good = app.code(at(t));
        let wrong = if good == "000000" { "111111" } else { "000000" };
        assert_eq!(
            e.auth.submit_code(&c.flow, wrong, at(t)).await.unwrap_err(),
            LoginError::WrongSecondFactor,
            "attempt {i}"
        );
    }
    let t = 1000 + 100 * hour;
    let canonical = mfa_email_identity::Canonicalizer::default()
        .canonical(&"capped@example.com".parse().unwrap());
    let account = e.auth.store().account_by_email(&canonical).await.unwrap().unwrap();
    let totp = e
        .auth
        .store()
        .factors(account.id)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.kind == FactorKind::Totp);
    assert_eq!(totp.unwrap().suspended.map(|s| s.reason), Some(SuspensionReason::TooManyFailures));
    assert_eq!(
        e.outbox.sent().iter().filter(|(_, n)| n.kind() == "factor-locked").count(),
        1,
        "the owner is mailed once"
    );
    // The next login cannot use the app and says why; with only recovery codes left, it is
    // the retired-factor bridge: prove the account with a recovery code.
    let step = e.auth.login("capped@example.com", PW, &client("203.0.113.7"), at(t)).await;
    let LoginStep::MustEnroll { session, unavailable, .. } = step.clone().unwrap() else {
        panic!("{step:?}")
    };
    assert!(unavailable.iter().any(|u| u.kind == FactorKind::Totp
        && matches!(
            u.reason,
            Unavailable::Suspended { reason: SuspensionReason::TooManyFailures, .. }
        )));
    e.auth.prove_with_recovery_code(&session, &codes[0], at(t)).await.unwrap();
    // The app works again, with a fresh count.
    let t = t + 60;
    let LoginStep::Challenge(c) =
        e.auth.login("capped@example.com", PW, &client("203.0.113.7"), at(t)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(c.method.kind, FactorKind::Totp);
    assert!(matches!(
        e.auth.submit_code(&c.flow, &app.code(at(t)), at(t)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));
}

/// Failures from one stranger's address hold that address back for that identifier, never
/// the owner at another address; the answer carries how long to wait.
#[tokio::test]
async fn a_strangers_failures_do_not_lock_the_owner_out() {
    let e = env();
    let (app, _) = user(&e, "owner@example.com").await;
    let stranger = client("198.51.100.66");
    let mut last = None;
    for i in 0..15 {
        last = Some(
            e.auth.login("owner@example.com", "not the password", &stranger, at(50 + i)).await,
        );
    }
    assert!(
        matches!(last.unwrap().unwrap_err(), LoginError::Throttled { retry_after } if retry_after >= 1)
    );
    let LoginStep::Challenge(c) =
        e.auth.login("owner@example.com", PW, &client("203.0.113.7"), at(65)).await.unwrap()
    else {
        panic!("the owner gets in")
    };
    assert!(matches!(
        e.auth.submit_code(&c.flow, &app.code(at(65)), at(65)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));
}

/// Sign-ups are counted per client address and per target mailbox, whether or not the
/// address has an account: a script cannot create accounts or mail one mailbox in a loop,
/// and the throttle answers alike for taken and free addresses.
#[tokio::test]
async fn sign_ups_are_throttled_per_address_and_per_mailbox() {
    let e = env();
    let free = AuthConfig::new("x").policy.throttle_signup.free;
    let one_ip = client("192.0.2.44");
    for i in 0..free {
        let email = format!("bulk{i}@example.com");
        e.sign_up(&email, PW, &one_ip, at(10)).await.unwrap();
    }
    assert!(matches!(
        e.sign_up("one-more@example.com", PW, &one_ip, at(10)).await.unwrap_err(),
        LoginError::Throttled { .. }
    ));
    // One mailbox from many addresses: taken or not, the same answers.
    let mut answers = Vec::new();
    for target in ["bulk0@example.com", "untaken@example.com"] {
        let mut seq = Vec::new();
        for i in 0..(free + 2) {
            let c = client(&format!("203.0.113.{i}"));
            // Two days on: the first loop's counts have decayed; bulk0 is still taken.
            let t = at(20 + 48 * 3600);
            seq.push(e.sign_up(target, PW, &c, t).await.err().map(|e| match e {
                LoginError::AccountExists => "ok".to_owned(),
                other => format!("{other:?}"),
            }));
        }
        // The first sign-up of the free address succeeds; the taken one "succeeds" too.
        seq[0] = Some("ok".to_owned());
        answers.push(seq);
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].last().unwrap().as_deref().unwrap().starts_with("Throttled"));
}

/// "Try another method" with a method that cannot start now (no more codes by mail for a
/// while) refuses that method and leaves the login as it was: another method still works.
#[tokio::test]
async fn a_method_that_cannot_start_leaves_the_login_as_it_was() {
    let e = env();
    let (app, _) = user(&e, "mail@example.com").await;
    let me = client("203.0.113.7");
    // Sign in and add email codes as a second method.
    let LoginStep::Challenge(c) = e.auth.login("mail@example.com", PW, &me, at(40)).await.unwrap()
    else {
        panic!()
    };
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(40)), at(40)).await.unwrap()
    else {
        panic!()
    };
    let flow = e.auth.begin_email_code(&done.session, at(41)).await.unwrap();
    let code = e.last_code("mail@example.com").unwrap();
    e.auth.confirm_email_code(&done.session, &flow, &code, at(41)).await.unwrap();
    // A new sign-in; pick email codes until no more may be mailed.
    let LoginStep::Challenge(c) = e.auth.login("mail@example.com", PW, &me, at(100)).await.unwrap()
    else {
        panic!()
    };
    let by_kind = |c: &mfa_flow::ChallengeView, k: FactorKind| {
        c.alternatives.iter().chain([&c.method]).find(|m| m.kind == k).unwrap().factor
    };
    let (email, totp) = (by_kind(&c, FactorKind::EmailCode), by_kind(&c, FactorKind::Totp));
    let mut refused = None;
    for _ in 0..30 {
        match e.auth.select_method(&c.flow, email, &me, at(100)).await {
            Ok(_) => {}
            Err(err) => {
                refused = Some(err);
                break;
            }
        }
    }
    assert!(matches!(refused, Some(LoginError::Throttled { .. })), "{refused:?}");
    // The login is still there: switch to the app and finish.
    e.auth.select_method(&c.flow, totp, &me, at(100)).await.unwrap();
    assert!(matches!(
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));
}

/// An imported bcrypt hash checks only the first 72 bytes of what is typed: a longer input
/// that shares them signs in (the owner may have typed their whole long password) but is
/// never blessed as the new argon2id hash; the sign-in asks for a new password instead.
#[tokio::test]
async fn a_bcrypt_import_never_upgrades_an_unchecked_suffix() {
    let mut cfg = AuthConfig::new("Example Portal");
    cfg.policy.mfa.grace =
        mfa_flow::EnrollmentGrace::AfterCreation(std::time::Duration::from_secs(86_400 * 365 * 30));
    let e = test_auth(cfg, ChangeMode::Immediate, 7);
    let fixtures = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mfa-credentials/tests/fixtures/bcrypt-reference.tsv"
    ))
    .unwrap();
    let (long, stored) =
        fixtures.lines().filter_map(|l| l.split_once('\t')).find(|(p, _)| p.len() == 72).unwrap();
    for (n, email, typed) in [
        (1u128, "truncated@example.com", format!("{long} and more that bcrypt never read")),
        (2u128, "exact@example.com", long.to_owned()),
    ] {
        let mut a = mfa_testkit::conformance::account(n, email, None);
        a.password_hash = stored.to_owned();
        e.auth.store().create_account(&a).await.unwrap();
        let LoginStep::Authenticated(done) =
            e.auth.login(email, &typed, &client("203.0.113.7"), at(100)).await.unwrap()
        else {
            panic!("a grace-period sign-in")
        };
        let now_stored = e.auth.store().account(a.id).await.unwrap().unwrap().password_hash;
        if n == 1 {
            assert_eq!(now_stored, stored, "the bcrypt hash stays");
            assert!(done.required_actions.contains(&mfa_flow::RequiredAction::ChangePassword));
        } else {
            assert!(now_stored.starts_with("$argon2id$"), "upgraded: {now_stored}");
            assert!(!done.required_actions.contains(&mfa_flow::RequiredAction::ChangePassword));
        }
    }
}

/// A browser vouched for by a sign-in link (the owner reading their mailbox), as the login
/// page makes one.
async fn link_device(e: &TestEnv, email: &str, c: &ClientInfo, t: u64) -> String {
    e.auth.send_sign_in_link(email, c, at(t)).await.unwrap();
    let Some(mfa_email_identity::Notice::SignInLink { link, .. }) = e.outbox.last_to(email) else {
        panic!("a link")
    };
    let token = link.split_once("#sign-in-link=").unwrap().1.to_owned();
    e.auth.redeem_sign_in_link(&token, at(t)).await.unwrap()
}

/// A browser of an earlier full sign-in.
async fn known_device(e: &TestEnv, email: &str, app: &TotpApp, c: &ClientInfo, t: u64) -> String {
    let LoginStep::Challenge(ch) = e.auth.login(email, PW, c, at(t)).await.unwrap() else {
        panic!()
    };
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&ch.flow, &app.code(at(t)), at(t)).await.unwrap()
    else {
        panic!()
    };
    done.known_device
}

/// Someone with the password guesses codes, fast and then as a trickle for hours, from one
/// address or many: they fill the shared key of browsers the account does not know, never
/// the owner's. The owner signs in from a browser of an earlier sign-in, and from a new one
/// through a sign-in link.
#[tokio::test]
async fn a_password_holder_cannot_throttle_the_owners_second_factor() {
    let e = env();
    let (app, _) = user(&e, "mfa-lock@example.com").await;
    let home = ClientInfo {
        known_device: Some(
            known_device(&e, "mfa-lock@example.com", &app, &client("203.0.113.7"), 60).await,
        ),
        ..client("203.0.113.7")
    };
    let wrong = |t: u64| if app.code(at(t)) == "000000" { "111111" } else { "000000" };
    let mut t = 100;
    let mut throttled = false;
    for i in 0..40u64 {
        t += if i < 8 { 1 } else { 900 };
        let attacker = client(&format!("198.51.100.{}", i % 7));
        let LoginStep::Challenge(c) =
            e.auth.login("mfa-lock@example.com", PW, &attacker, at(t)).await.unwrap()
        else {
            panic!()
        };
        match e.auth.submit_code(&c.flow, wrong(t), at(t)).await.unwrap_err() {
            LoginError::Throttled { .. } => throttled = true,
            LoginError::WrongSecondFactor => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(throttled, "the attacker is held back");
    // The owner's own browser.
    let t = t + 31;
    let LoginStep::Challenge(c) =
        e.auth.login("mfa-lock@example.com", PW, &home, at(t)).await.unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        e.auth.submit_code(&c.flow, &app.code(at(t)), at(t)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));
    // A new browser: through a sign-in link.
    let t = t + 30;
    let away = client("192.0.2.200");
    let away = ClientInfo {
        known_device: Some(link_device(&e, "mfa-lock@example.com", &away, t).await),
        ..away
    };
    let LoginStep::Challenge(c) =
        e.auth.login("mfa-lock@example.com", PW, &away, at(t)).await.unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        e.auth.submit_code(&c.flow, &app.code(at(t)), at(t)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));
}

/// A stranger trickling wrong passwords for hours holds the identifier shut for browsers the
/// account does not know; the owner's known browser passes, and a new one gets in through a
/// sign-in link.
#[tokio::test]
async fn a_trickle_of_wrong_passwords_leaves_the_owner_a_way_in() {
    let e = env();
    let (app, _) = user(&e, "trickle@example.com").await;
    let home = ClientInfo {
        known_device: Some(
            known_device(&e, "trickle@example.com", &app, &client("203.0.113.7"), 60).await,
        ),
        ..client("203.0.113.7")
    };
    let mut t = 100;
    for i in 0..60u64 {
        t += if i < 8 { 1 } else { 300 };
        let stranger = client(&format!("198.51.100.{}", i % 9));
        let _ = e.auth.login("trickle@example.com", "not the password", &stranger, at(t)).await;
    }
    let t = t + 31;
    let fresh = client("192.0.2.123");
    assert!(matches!(
        e.auth.login("trickle@example.com", PW, &fresh, at(t)).await.unwrap_err(),
        LoginError::Throttled { .. }
    ));
    let linked = ClientInfo {
        known_device: Some(link_device(&e, "trickle@example.com", &fresh, t).await),
        ..fresh
    };
    // (A code a step apart for each: a TOTP code is good once.)
    for (c, t) in [(home, t), (linked, t + 30)] {
        let LoginStep::Challenge(ch) =
            e.auth.login("trickle@example.com", PW, &c, at(t)).await.unwrap()
        else {
            panic!("the owner gets in")
        };
        assert!(matches!(
            e.auth.submit_code(&ch.flow, &app.code(at(t)), at(t)).await.unwrap(),
            LoginStep::Authenticated(_)
        ));
    }
}

/// With legacy usernames refused, an address that has no account must not answer "log in
/// with your email address" (which named it as a username) while a known one answers
/// "wrong password".
#[tokio::test]
async fn the_username_policy_does_not_tell_which_addresses_exist() {
    let mut cfg = AuthConfig::new("Example Portal");
    cfg.policy.usernames.refuse_from = Some(at(0));
    let e = test_auth(cfg, ChangeMode::Immediate, 7);
    user(&e, "here@example.com").await;
    let (a, b) = (client("192.0.2.1"), client("192.0.2.2"));
    let known = e.auth.login("here@example.com", "wrong password!", &a, at(50)).await;
    let unknown = e.auth.login("nobody-here@example.com", "wrong password!", &b, at(50)).await;
    assert_eq!(known.unwrap_err(), LoginError::InvalidCredentials);
    assert_eq!(unknown.unwrap_err(), LoginError::InvalidCredentials);
}

/// The way in when strangers hold the identifier shut: addresses by the dozen exhaust the
/// identifier-wide key; the owner, in a browser it never used, asks for a sign-in link, opens
/// it, and signs in with the password and the app. The link is single use, names no one for an
/// unknown identifier, and vouches for the identifier-wide key only: an address that guessed
/// stays held back.
#[tokio::test]
async fn a_sign_in_link_lets_the_owner_past_a_distributed_lock() {
    let e = env();
    let (app, _) = user(&e, "besieged@example.com").await;
    // Sixty addresses, one guess a second between them.
    for i in 0..60u8 {
        let c = client(&format!("192.0.2.{i}"));
        let t = 40 + u64::from(i);
        let _ = e.auth.login("besieged@example.com", "a wrong guess", &c, at(t)).await;
    }
    let owner = client("203.0.113.99");
    assert!(matches!(
        e.auth.login("besieged@example.com", PW, &owner, at(101)).await.unwrap_err(),
        LoginError::Throttled { .. }
    ));
    // Unknown identifiers get the same answer, and no mail.
    let before = e.outbox.sent().len();
    e.auth.send_sign_in_link("nobody@example.com", &owner, at(102)).await.unwrap();
    assert_eq!(e.outbox.sent().len(), before);
    e.auth.send_sign_in_link("besieged@example.com", &owner, at(102)).await.unwrap();
    let link = match e.outbox.last_to("besieged@example.com") {
        Some(mfa_email_identity::Notice::SignInLink { link, .. }) => link,
        other => panic!("{other:?}"),
    };
    let token = link.split_once("#sign-in-link=").unwrap().1.to_owned();
    let device = e.auth.redeem_sign_in_link(&token, at(103)).await.unwrap();
    assert_eq!(
        e.auth.redeem_sign_in_link(&token, at(103)).await.unwrap_err(),
        LoginError::FlowExpired
    );
    let vouched = ClientInfo { known_device: Some(device.clone()), ..owner.clone() };
    let LoginStep::Challenge(c) =
        e.auth.login("besieged@example.com", PW, &vouched, at(104)).await.unwrap()
    else {
        panic!("past the identifier-wide key")
    };
    assert!(matches!(
        e.auth.submit_code(&c.flow, &app.code(at(104)), at(104)).await.unwrap(),
        LoginStep::Authenticated(_)
    ));
    // Someone else holding the same link-made cookie (the mailbox may not be the owner's
    // alone) is still held at their address: five guesses, then a wait, right password or not.
    let guesser = ClientInfo { known_device: Some(device), ..client("198.51.100.77") };
    for _ in 0..5 {
        assert_eq!(
            e.auth.login("besieged@example.com", "guess", &guesser, at(110)).await.unwrap_err(),
            LoginError::InvalidCredentials
        );
    }
    assert!(matches!(
        e.auth.login("besieged@example.com", PW, &guesser, at(110)).await.unwrap_err(),
        LoginError::Throttled { .. }
    ));
}

/// A sign-in with an unknown identifier does the work a wrong password does — one argon2 run
/// at the current parameters, counted by the hashing pool, not timed.
#[tokio::test]
async fn an_unknown_identifier_costs_what_a_wrong_password_costs() {
    let e = env();
    user(&e, "known@example.com").await;
    let pool = &e.auth.services().passwords;
    let me = client("198.51.100.20");
    let before = pool.work();
    let wrong = e.auth.login("known@example.com", "not the password", &me, at(100)).await;
    let wrong_work = pool.work() - before;
    let before = pool.work();
    let unknown = e.auth.login("nobody@example.com", "not the password", &me, at(100)).await;
    let unknown_work = pool.work() - before;
    assert_eq!(wrong.unwrap_err(), LoginError::InvalidCredentials);
    assert_eq!(unknown.unwrap_err(), LoginError::InvalidCredentials);
    assert_eq!(wrong_work, unknown_work);
    assert_eq!(unknown_work.runs, 1);
    // An account without a password (an import without one) costs the same too.
    let mut none =
        e.auth.store().account_by_email(&canonical("known@example.com")).await.unwrap().unwrap();
    none.password_hash = String::new();
    none.version += 1;
    e.auth.store().update_account(&none).await.unwrap();
    let before = pool.work();
    let empty = e.auth.login("known@example.com", "not the password", &me, at(100)).await;
    assert_eq!(empty.unwrap_err(), LoginError::InvalidCredentials);
    assert_eq!(pool.work() - before, unknown_work, "no stored password: the same work");
}

/// Many people behind one address (an office, a carrier's NAT): the address's own policy lets
/// `free` (200) password attempts through — here 150 people each mistyping once — before it
/// slows anyone down, and its hard cap never falls below that (it once capped at 100 and
/// refused the whole address for an hour).
#[tokio::test]
async fn one_address_shared_by_many_is_slowed_only_past_its_free_attempts() {
    let e = env();
    let policy = AuthConfig::new("Example Portal").policy.throttle_address;
    assert!(policy.hard_limit > policy.free, "{policy:?}");
    let nat = client("198.51.100.20");
    for i in 0..150 {
        let who = format!("person{i}@example.com");
        let answer = e.auth.login(&who, "mistyped password", &nat, at(100)).await.unwrap_err();
        assert_eq!(answer, LoginError::InvalidCredentials, "attempt {i}");
    }
    // Past the free attempts the address waits (exponentially), never an hour-long cap.
    let mut waited = None;
    for i in 150..260 {
        let who = format!("person{i}@example.com");
        if let Err(LoginError::Throttled { retry_after }) =
            e.auth.login(&who, "mistyped password", &nat, at(100)).await
        {
            waited = Some((i, retry_after));
            break;
        }
    }
    let (i, retry_after) = waited.expect("past the free attempts the address is slowed");
    assert!(i >= 200, "throttled after {i} attempts");
    assert!(retry_after < 60, "a first wait of {retry_after} s");
}
