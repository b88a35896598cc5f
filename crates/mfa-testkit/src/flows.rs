//! Flow properties that rest on a store's guarantees, on any [`Store`]: a WebAuthn
//! credential id belongs to one account, and a WebAuthn sign-in reaches AAL3 only with a
//! device-bound credential. Every store runs them (memory here, SQLite and PostgreSQL in
//! `mfa-store-sql`); panics name the property that does not hold.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use mfa_email_identity::ChangeMode;
use mfa_flow::{
    Assurance, AuthConfig, ClientInfo, FactorKind, LoginError, LoginStep, Prompt, Session, Store,
    StoreError,
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
) -> (Session, mfa_flow::FactorId) {
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
    copy.id = mfa_flow::FactorId(uuid::Uuid::from_u128(0xdead));
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
