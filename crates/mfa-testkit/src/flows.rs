//! Flow properties that rest on a store's guarantees, on any [`Store`]: a WebAuthn
//! credential id belongs to one account, and a WebAuthn sign-in reaches AAL3 only with a
//! device-bound credential. Every store runs them (memory here, SQLite and PostgreSQL in
//! `mfa-store-sql`); panics name the property that does not hold.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use mfa_email_identity::ChangeMode;
use mfa_flow::{
    Assurance, AuthConfig, ClientInfo, Factor, FactorData, FactorId, FactorKind, LoginError,
    LoginStep, Prompt, RequiredAction, RetirementReason, Session, Store, StoreError, Weakness,
};

use crate::{RawKey, TestEnv, TotpApp, at, test_auth_on};

const PW: &str = "correct horse battery staple";

/// Runs every scenario. `make` returns a fresh, empty store.
pub async fn run<S, F, Fut>(make: F)
where
    S: Store + Clone + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    a_credential_id_belongs_to_one_account(make().await).await;
    only_a_device_bound_key_reaches_aal3(make().await).await;
    codes_by_mail_are_off_by_default_and_count_below_aal2(make().await).await;
    a_short_imported_totp_secret_is_weak(make().await).await;
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: "203.0.113.9".into(),
        browser: "Firefox on Linux".into(),
        ..Default::default()
    }
}

/// An account with an authenticator app and a fresh full session (signed in with the app).
async fn signed_in<S: Store>(e: &TestEnv<S>, email: &str) -> (TotpApp, Session) {
    e.sign_up(email, PW, &client(), at(0)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login(email, PW, &client(), at(0)).await.unwrap()
    else {
        panic!("a new account must enroll")
    };
    let en = e.auth.begin_totp(&session, at(0)).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    e.auth.confirm_totp(&session, &en.flow, &app.code(at(0)), "Phone", at(0)).await.unwrap();
    let LoginStep::Challenge(c) = e.auth.login(email, PW, &client(), at(30)).await.unwrap() else {
        panic!()
    };
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(30)), at(30)).await.unwrap()
    else {
        panic!()
    };
    (app, done.session)
}

/// A new account (`email`, the test password) with an authenticator app and `key`
/// registered: the fresh session, and the key's factor.
///
/// # Panics
/// If any step fails.
pub async fn account_with_key<S: Store>(
    e: &TestEnv<S>,
    email: &str,
    key: &mut RawKey,
) -> (Session, FactorId) {
    let (_, session) = signed_in(e, email).await;
    let done = register(e, &session, key, 40).await.unwrap();
    (session, done.factor.factor)
}

async fn register<S: Store>(
    e: &TestEnv<S>,
    session: &Session,
    key: &mut RawKey,
    t: u64,
) -> Result<mfa_flow::Enrolled, LoginError> {
    let (flow, options) = e.auth.begin_webauthn(session, FactorKind::Passkey, at(t)).await?;
    e.auth.finish_webauthn(session, &flow, &key.register(&options), "Key", at(t)).await
}

/// Someone who registers an authenticator's credential id to their account cannot register
/// it to another (WebAuthn §7.1 step 22): an assertion must name one user.
async fn a_credential_id_belongs_to_one_account<S: Store>(s: S) {
    let e = test_auth_on(s, AuthConfig::new("Example Portal"), ChangeMode::ConfirmNewAddress, 21);
    let (_, alice) = signed_in(&e, "alice@example.com").await;
    let (_, mallory) = signed_in(&e, "mallory@example.com").await;
    let id = vec![0x42; 32];
    let done = register(&e, &alice, &mut RawKey::device_bound(id.clone()), 40).await.unwrap();
    assert!(
        matches!(
            register(&e, &mallory, &mut RawKey::device_bound(id.clone()), 41).await,
            Err(LoginError::Refused(_))
        ),
        "credential ids: a second account cannot register the same credential id"
    );
    let mallorys = e.auth.store().factors(mallory.account).await.unwrap();
    assert!(mallorys.iter().all(|f| f.credential_id().is_none()), "nothing was stored");
    // The store itself refuses it, whatever the caller.
    let alices = e.auth.store().factors(alice.account).await.unwrap();
    let mut copy = alices.iter().find(|f| f.id == done.factor.factor).unwrap().clone();
    copy.id = FactorId(uuid::Uuid::from_u128(0xdead));
    copy.account = mallory.account;
    assert_eq!(
        e.auth.store().add_factor(&copy).await,
        Err(StoreError::Conflict),
        "credential ids: the store keeps them unique across accounts"
    );
}

/// Password and a device-bound key is AAL3; a synced passkey (backup eligible: its private
/// key leaves the device) is AAL2 (NIST SP 800-63B-4 §2.3: AAL3 needs a non-exportable key).
async fn only_a_device_bound_key_reaches_aal3<S: Store>(s: S) {
    let e = test_auth_on(s, AuthConfig::new("Example Portal"), ChangeMode::ConfirmNewAddress, 22);
    for (email, mut key, want) in [
        ("bound@example.com", RawKey::device_bound(vec![1; 16]), Assurance::Aal3),
        ("synced@example.com", RawKey::synced(vec![2; 16]), Assurance::Aal2),
    ] {
        let (_, session) = signed_in(&e, email).await;
        let done = register(&e, &session, &mut key, 40).await.unwrap();
        let LoginStep::Challenge(c) = e.auth.login(email, PW, &client(), at(100)).await.unwrap()
        else {
            panic!()
        };
        let c = if c.method.factor == done.factor.factor {
            c
        } else {
            let who = client();
            let step = e.auth.select_method(&c.flow, done.factor.factor, &who, at(100));
            let LoginStep::Challenge(c) = step.await.unwrap() else { panic!() };
            c
        };
        let Prompt::WebAuthn { options } = c.prompt else { panic!() };
        let LoginStep::Authenticated(signed) =
            e.auth.submit_webauthn(&c.flow, &key.assert(&options), at(100)).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(signed.assurance, want, "assurance of {email}");
    }
}

/// Codes by email are off by default (they do not reach AAL2). An embedder may allow them;
/// a sign-in with one is then AAL1, never fresh for sensitive changes, and no step-up offers
/// them; the methods list calls them weak.
async fn codes_by_mail_are_off_by_default_and_count_below_aal2<S: Store + Clone>(s: S) {
    let off = test_auth_on(s.clone(), AuthConfig::new("Example Portal"), ChangeMode::Immediate, 23);
    let (_, session) = signed_in(&off, "off@example.com").await;
    assert_eq!(
        off.auth.begin_email_code(&session, at(40)).await.unwrap_err(),
        LoginError::MethodUnavailable,
        "codes by email: off by default"
    );
    let mut allowed = AuthConfig::new("Example Portal");
    allowed.policy.retirement = allowed.policy.retirement.allow(FactorKind::EmailCode);
    let e = test_auth_on(s, allowed, ChangeMode::Immediate, 24);
    let (_, session) = signed_in(&e, "mail@example.com").await;
    let flow = e.auth.begin_email_code(&session, at(40)).await.unwrap();
    let code = e.last_code("mail@example.com").unwrap();
    let done = e.auth.confirm_email_code(&session, &flow, &code, at(40)).await.unwrap();
    let mail_factor = done.factor.factor;
    let list = e.auth.factor_list(session.account, at(41)).await.unwrap();
    let listed = list.iter().find(|f| f.method.factor == mail_factor).unwrap();
    assert_eq!(listed.weak, Some(Weakness::BelowAal2), "codes by email: listed as weak");
    // A sign-in with a code by email: AAL1, not fresh.
    let LoginStep::Challenge(c) =
        e.auth.login("mail@example.com", PW, &client(), at(100)).await.unwrap()
    else {
        panic!()
    };
    let LoginStep::Challenge(c) =
        e.auth.select_method(&c.flow, mail_factor, &client(), at(100)).await.unwrap()
    else {
        panic!()
    };
    let code = e.last_code("mail@example.com").unwrap();
    let LoginStep::Authenticated(signed) =
        e.auth.submit_code(&c.flow, &code, at(100)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(signed.assurance, Assurance::Aal1, "codes by email: below AAL2");
    assert_eq!(
        e.auth
            .change_password(&signed.session, PW, "a new long passphrase", at(101))
            .await
            .unwrap_err(),
        LoginError::StepUpRequired,
        "codes by email: no sensitive change on their strength"
    );
    let LoginStep::Challenge(up) =
        e.auth.begin_step_up(&signed.session, &client(), at(102)).await.unwrap()
    else {
        panic!()
    };
    assert!(
        up.method.kind != FactorKind::EmailCode
            && up.alternatives.iter().all(|m| m.kind != FactorKind::EmailCode),
        "codes by email: no step-up offers them"
    );
    assert_eq!(
        e.auth.select_method(&up.flow, mail_factor, &client(), at(103)).await.unwrap_err(),
        LoginError::MethodUnavailable
    );
    assert_eq!(
        AuthConfig::new("x")
            .policy
            .retirement
            .retired(FactorKind::EmailCode, at(0))
            .map(|r| r.reason),
        Some(RetirementReason::BelowAal2)
    );
}

/// An authenticator-app secret under 112 bits (imported from an older system) still signs
/// in, is listed as weak, and the sign-in asks to replace it.
async fn a_short_imported_totp_secret_is_weak<S: Store>(s: S) {
    let e = test_auth_on(s, AuthConfig::new("Example Portal"), ChangeMode::Immediate, 25);
    let (_, session) = signed_in(&e, "old-app@example.com").await;
    let short = mfa_totp::TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
    let mut rng = crate::seeded(3);
    let sealed = e
        .auth
        .services()
        .sealer
        .seal(short.expose_secret(), session.account.0.as_bytes(), "totp", &mut rng)
        .unwrap();
    let id = FactorId(uuid::Uuid::from_u128(0x70_7b));
    let weak = Factor {
        id,
        account: session.account,
        kind: FactorKind::Totp,
        name: "Old app".into(),
        created: 1,
        last_used: None,
        version: 1,
        data: FactorData::Totp {
            sealed_secret: sealed,
            profile: mfa_totp::Profile::DEFAULT,
            last_step: None,
        },
        suspended: None,
    };
    e.auth.store().add_factor(&weak).await.unwrap();
    let list = e.auth.factor_list(session.account, at(50)).await.unwrap();
    assert_eq!(
        list.iter().find(|f| f.method.factor == id).unwrap().weak,
        Some(Weakness::ShortSecret)
    );
    let app = TotpApp::from_base32("JBSWY3DPEHPK3PXP").unwrap();
    let LoginStep::Challenge(c) =
        e.auth.login("old-app@example.com", PW, &client(), at(100)).await.unwrap()
    else {
        panic!()
    };
    let c = if c.method.factor == id {
        c
    } else {
        let who = client();
        let LoginStep::Challenge(c) =
            e.auth.select_method(&c.flow, id, &who, at(100)).await.unwrap()
        else {
            panic!()
        };
        c
    };
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    assert!(
        done.required_actions.contains(&RequiredAction::ReplaceFactor { factor: id }),
        "a weak secret: the sign-in asks to replace it ({:?})",
        done.required_actions
    );
}
