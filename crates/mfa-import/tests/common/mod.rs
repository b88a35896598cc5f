//! The fixture import, on any store: `tests/fixtures/auth0-users.json` covers every field the
//! importer maps and every refusal. Shared by this crate's tests (memory) and mfa-store-sql's
//! (SQLite, PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use mfa_email_identity::ChangeMode;
use mfa_flow::{
    AuthConfig, ClientInfo, FactorData, FactorKind, LoginError, LoginStep, Store, Weakness,
};
use mfa_import::{ImportOptions, Outcome, import};
use mfa_testkit::{at, canonical, seeded, test_auth_on};

/// The fixture (a JSON array in Auth0's bulk-import format).
pub(crate) const FIXTURE: &str = include_str!("../fixtures/auth0-users.json");

/// Every record's expected outcome, by index: `None` imported, `Some(fragment)` refused with
/// a reason containing it.
pub(crate) const EXPECTED: [Option<&str>; 22] = [
    None,
    None,
    None,
    None,
    None,
    None,
    Some("email:"),
    Some("the address repeats record 0"),
    Some("the username repeats record 0"),
    Some("\"md5\" is not supported"),
    Some("password hash:"),
    Some("mfa_factors[0].totp.secret"),
    Some("mfa_factors[0].phone.value"),
    Some("given_name: control characters"),
    Some("family_name: longer than 100"),
    Some("not a user object"),
    Some("not a user object"),
    Some("imitates another address"),
    Some("username:"),
    Some("mfa_factors[0]: one of"),
    Some("both password_hash and custom_password_hash"),
    Some("not a bcrypt hash"),
];

/// Imports the fixture (a dry run first), checks every outcome and the accounts written,
/// then imports it again: nothing changes.
pub(crate) async fn fixture_import<S: Store>(store: S) {
    let e = test_auth_on(store, AuthConfig::new("Example Portal"), ChangeMode::Immediate, 31);
    let mut rng = seeded(4);
    let dry = ImportOptions { dry_run: true, ..ImportOptions::default() };
    let mut ticks = 0;
    let report = import(&e.auth, FIXTURE.as_bytes(), &dry, at(0), &mut rng, |_| ticks += 1).await;
    assert_eq!(ticks, EXPECTED.len(), "progress after every record");
    assert_eq!(report.records, EXPECTED.len());
    assert!(
        e.auth.store().account_by_email(&canonical("ryu@example.com")).await.unwrap().is_none(),
        "a dry run writes nothing"
    );
    let refused = EXPECTED.iter().filter(|x| x.is_some()).count();
    assert_eq!(
        (report.imported, report.existing, report.refused),
        (EXPECTED.len() - refused, 0, refused),
        "{report}"
    );
    for (i, want) in EXPECTED.iter().enumerate() {
        let listed = report.listed.iter().find(|l| l.index == i);
        match (want, listed) {
            (None, None) => {}
            (Some(fragment), Some(l)) => match &l.outcome {
                Outcome::Refused(why) => assert!(why.contains(fragment), "record {i}: {why}"),
                other => panic!("record {i}: {other:?}"),
            },
            (want, got) => panic!("record {i}: expected {want:?}, got {got:?}"),
        }
    }
    let text = report.to_string();
    for secret in
        ["JBSWY3DPEHPK3PXP", "izOyq2ct91W0Yg", "5f4dcc3b5aa765d61d8327deb882cf99", "+81312345678"]
    {
        assert!(!text.contains(secret), "the report holds no secret: {text}");
    }

    // The real import: the same outcomes, and the accounts as mapped.
    let real = ImportOptions::default();
    let report = import(&e.auth, FIXTURE.as_bytes(), &real, at(0), &mut rng, |_| {}).await;
    assert_eq!((report.imported, report.refused), (EXPECTED.len() - refused, refused), "{report}");
    let s = e.auth.store();
    let ryu = s.account_by_email(&canonical("ryu@example.com")).await.unwrap().unwrap();
    assert_eq!(ryu.username.as_ref().map(|u| u.as_typed()), Some("Ryu20231130"));
    assert_eq!(
        (ryu.profile.first_name.as_str(), ryu.profile.last_name.as_str()),
        ("Ryuko", "Konaka")
    );
    assert!(ryu.password_hash.starts_with("$2a$10$"), "bcrypt kept until the first sign-in");
    assert!(ryu.had_second_factor && !ryu.disabled && !ryu.email_unverified);
    let factors = s.factors(ryu.id).await.unwrap();
    assert_eq!(factors.len(), 1);
    assert_eq!(factors[0].kind, FactorKind::Sms);
    assert!(
        matches!(&factors[0].data, FactorData::Phone { masked_number } if masked_number == "+81 •••• ••78")
    );
    let stored_json = serde_json::to_string(&factors[0]).unwrap();
    assert!(!stored_json.contains("312345678"), "the number is not kept beyond the mask");
    let totp = s.account_by_email(&canonical("totp@example.com")).await.unwrap().unwrap();
    let list = e.auth.factor_list(totp.id, at(1)).await.unwrap();
    assert_eq!((list.len(), list[0].method.kind, list[0].weak), (1, FactorKind::Totp, None));
    let weak = s.account_by_email(&canonical("weak-app@example.com")).await.unwrap().unwrap();
    let list = e.auth.factor_list(weak.id, at(1)).await.unwrap();
    assert_eq!(list[0].weak, Some(Weakness::ShortSecret), "an 80-bit secret is weak");
    let unverified =
        s.account_by_email(&canonical("unverified@example.com")).await.unwrap().unwrap();
    assert!(unverified.email_unverified);
    let blocked = s.account_by_email(&canonical("blocked@example.com")).await.unwrap().unwrap();
    assert!(blocked.disabled);
    assert!(
        s.account_by_email(&canonical("md5@example.com")).await.unwrap().is_none(),
        "a refused record writes nothing"
    );

    // Sign-ins: the blocked account is refused after its password. The unverified one (whose
    // source never checked that its creator held the mailbox) is asked to confirm the
    // address; the link hands the account to the mailbox: the imported password and factor
    // are dropped and the mailbox holder chooses a password.
    let c = ClientInfo::default();
    assert_eq!(
        e.auth.login("blocked@example.com", "password", &c, at(10)).await.unwrap_err(),
        LoginError::AccountDisabled
    );
    assert_eq!(
        e.auth.login("blocked@example.com", "wrong", &c, at(10)).await.unwrap_err(),
        LoginError::InvalidCredentials
    );
    assert_eq!(s.factors(unverified.id).await.unwrap().len(), 1, "the imported factor");
    assert_eq!(
        e.auth.login("unverified@example.com", "password", &c, at(10)).await.unwrap_err(),
        LoginError::AddressUnconfirmed
    );
    let Some(mfa_email_identity::Notice::ConfirmAddress { link, .. }) =
        e.outbox.last_to("unverified@example.com")
    else {
        panic!("a confirmation link is mailed")
    };
    let token = link.rsplit_once("#token=").unwrap().1;
    let grant = e.auth.confirm_address(token, at(11)).await.unwrap();
    assert!(s.factors(unverified.id).await.unwrap().is_empty(), "the imported factor is dropped");
    assert_eq!(
        e.auth.login("unverified@example.com", "password", &c, at(12)).await.unwrap_err(),
        LoginError::InvalidCredentials,
        "the imported password is dropped"
    );
    assert!(e.auth.confirm_address(token, at(12)).await.is_err(), "the link works once");
    e.auth
        .complete_password_reset(grant.expose_secret(), "the owner's own passphrase", &c, at(13))
        .await
        .unwrap();
    assert!(matches!(
        e.auth.login("unverified@example.com", "the owner's own passphrase", &c, at(14)).await,
        Ok(LoginStep::MustEnroll { session, .. }) if session.proof == mfa_flow::EnrollmentProof::NotRequired
    ));

    // Again: nothing changes; every imported record is skipped as existing.
    let before = s.account_by_email(&canonical("ryu@example.com")).await.unwrap().unwrap();
    let again = import(&e.auth, FIXTURE.as_bytes(), &real, at(20), &mut rng, |_| {}).await;
    assert_eq!((again.imported, again.existing), (0, EXPECTED.len() - refused), "{again}");
    let after = s.account_by_email(&canonical("ryu@example.com")).await.unwrap().unwrap();
    assert_eq!(before, after, "never merged");
}
