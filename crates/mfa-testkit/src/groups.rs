//! A rollout by organization, on any [`Store`]: two organizations on different dates (one
//! refusing usernames, one still warning; SMS retired early for a pilot group, codes by
//! email allowed for it alone; a shorter step-up for administrators), played through the
//! real [`mfa_flow::Auth`] with a [`GroupTable`]. Every store runs it (memory here, SQLite
//! and PostgreSQL in `mfa-store-sql`), with a fresh store per scenario.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;

use mfa_email_identity::{ChangeMode, Username};
use mfa_flow::{
    Account, AuditEvent, AuthConfig, ClientInfo, FactorKind, GroupTable, Label, LoginError,
    LoginStep, Store, Unavailable, UsernamePolicy, Warning,
};

use crate::{TestEnv, TotpApp, at, canonical, test_auth_on};

const PW: &str = "correct horse battery staple";

/// Day `n` after the scenario's start (Unix seconds).
const fn day(n: u64) -> u64 {
    n * 86_400
}

/// Day `n`'s seconds as the table and the pages write them (Unix seconds).
fn unix(seconds: u64) -> u64 {
    at(seconds).duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The table of the scenario: usernames warned for everyone from day 0 and refused by
/// default from day 300; `acme` refuses them from day 10, `globex` keeps the default;
/// `pilot` loses SMS (already retired for all) … and authenticator apps from day 20 but may
/// use codes by email; administrators must have stepped up within 2 minutes.
#[must_use]
pub fn table() -> GroupTable {
    let default = mfa_flow::Policy {
        usernames: UsernamePolicy { warn_from: Some(at(0)), refuse_from: Some(at(day(300))) },
        ..mfa_flow::Policy::default()
    };
    GroupTable::from_json(
        default,
        &format!(
            r#"{{
              "groups": {{
                "acme": {{ "usernames_refused_from": {acme} }},
                "pilot": {{ "retire": {{ "totp": {{ "from": {pilot}, "reason": "withdrawn" }} }},
                            "allow": ["email_code"] }}
              }},
              "roles": {{ "admin": {{ "step_up_max_age_seconds": 120 }} }}
            }}"#,
            acme = unix(day(10)),
            pilot = unix(day(20)),
        ),
    )
    .unwrap()
}

/// Runs every scenario. `make` returns a fresh, empty store.
pub async fn run<S, F, Fut>(make: F)
where
    S: Store + Clone + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    two_organizations_on_their_own_dates(make().await).await;
    a_refusal_never_tells_a_stranger_the_group(make().await).await;
    a_pilot_group_loses_a_kind_first(make().await).await;
    administrators_step_up_more_often(make().await).await;
    labels_live_in_the_store_and_end_sessions(make().await).await;
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: "203.0.113.7".into(),
        browser: "Firefox on Linux".into(),
        ..Default::default()
    }
}

fn env<S: Store>(store: S) -> TestEnv<S> {
    let mut config = AuthConfig::new("Example Portal");
    config.rules = Some(Arc::new(table()));
    test_auth_on(store, config, ChangeMode::Immediate, 21)
}

/// A confirmed account with an authenticator app, in `group` with a legacy `username`.
async fn member<S: Store>(
    e: &TestEnv<S>,
    email: &str,
    username: &str,
    group: Option<&str>,
) -> (Account, TotpApp) {
    e.sign_up(email, PW, &client(), at(0)).await.unwrap();
    let LoginStep::MustEnroll { session, .. } =
        e.auth.login(email, PW, &client(), at(0)).await.unwrap()
    else {
        panic!("{email}: a new account enrolls")
    };
    let en = e.auth.begin_totp(&session, at(1)).await.unwrap();
    let app = TotpApp::scan(&en.uri).unwrap();
    e.auth.confirm_totp(&session, &en.flow, &app.code(at(1)), "Phone", at(1)).await.unwrap();
    let mut a = account(e, email).await;
    a.username = Some(Username::parse(username).unwrap());
    a.version += 1;
    e.auth.store().update_account(&a).await.unwrap();
    if let Some(g) = group {
        e.auth.set_labels(a.id, Some(Label::new(g).unwrap()), None, at(2)).await.unwrap();
    }
    (account(e, email).await, app)
}

async fn account<S: Store>(e: &TestEnv<S>, email: &str) -> Account {
    e.auth.store().account_by_email(&canonical(email)).await.unwrap().unwrap()
}

/// Day 15: `acme` refuses usernames, `globex` (the default) still warns and says when it
/// will refuse; the pages' dates are each account's own; both sign in by address.
async fn two_organizations_on_their_own_dates<S: Store>(store: S) {
    let e = env(store);
    let (acme, _) = member(&e, "ryu@acme.example", "Ryu20231130", Some("acme")).await;
    let (globex, _) = member(&e, "ken@globex.example", "Ken1999", Some("globex")).await;
    let t = at(day(15));
    assert_eq!(
        e.auth.login("Ryu20231130", PW, &client(), t).await.unwrap_err(),
        LoginError::UsernameRefused,
        "acme refuses usernames from day 10"
    );
    let LoginStep::Challenge(c) = e.auth.login("Ken1999", PW, &client(), t).await.unwrap() else {
        panic!("globex still signs in by username")
    };
    assert_eq!(c.warnings, vec![Warning::UsernameDeprecated]);
    assert_eq!(c.username_refused_from, Some(unix(day(300))), "globex's own refusal date");
    assert_eq!(e.auth.rules_for(&acme, t).username_refused_from, Some(unix(day(10))));
    assert_eq!(e.auth.rules_for(&globex, t).username_refused_from, Some(unix(day(300))));
    // Before acme's date its username still worked, with acme's date on the warning.
    let LoginStep::Challenge(c) =
        e.auth.login("Ryu20231130", PW, &client(), at(day(5))).await.unwrap()
    else {
        panic!("acme warned before day 10")
    };
    assert_eq!(c.username_refused_from, Some(unix(day(10))));
    for email in ["ryu@acme.example", "ken@globex.example"] {
        assert!(
            matches!(e.auth.login(email, PW, &client(), t).await, Ok(LoginStep::Challenge(_))),
            "{email} signs in by address"
        );
    }
    let refused = e.audit.events().into_iter().any(|ev| {
        matches!(ev, AuditEvent::LegacyUsernameUsed { account: Some(a), decision: mfa_flow::UsernameDecision::Refuse } if a == acme.id)
    });
    assert!(refused, "the refusal is audited for acme's account");
}

/// A stranger who tries usernames with a wrong password meets one answer whatever the
/// group (or no account): the group's decision counts only after the password verified.
async fn a_refusal_never_tells_a_stranger_the_group<S: Store>(store: S) {
    let e = env(store);
    member(&e, "ryu@acme.example", "Ryu20231130", Some("acme")).await;
    member(&e, "ken@globex.example", "Ken1999", Some("globex")).await;
    let stranger = ClientInfo { ip: "198.51.100.9".into(), ..client() };
    let t = at(day(15));
    let mut answers = Vec::new();
    for u in ["Ryu20231130", "Ken1999", "Nobody42"] {
        answers.push(e.auth.login(u, "not the password", &stranger, t).await.unwrap_err());
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "one answer for all: {answers:?}");
    assert_eq!(answers[0], LoginError::InvalidCredentials);
    // After the default's date every username is refused before any account is known.
    let late = at(day(301));
    for u in ["Ryu20231130", "Ken1999", "Nobody42"] {
        assert_eq!(
            e.auth.login(u, "not the password", &stranger, late).await.unwrap_err(),
            LoginError::UsernameRefused,
            "{u}"
        );
    }
}

/// `pilot` loses authenticator apps on day 20 (listed with the reason, and ahead of time
/// with the date) and may use codes by email, which nobody else may.
async fn a_pilot_group_loses_a_kind_first<S: Store>(store: S) {
    let e = env(store);
    let (pilot, _) = member(&e, "ann@pilot.example", "Ann7", Some("pilot")).await;
    let (other, app) = member(&e, "bob@other.example", "Bob8", None).await;
    let before = e.auth.rules_for(&pilot, at(day(19)));
    let totp = before.kinds.iter().find(|k| k.kind == FactorKind::Totp).unwrap();
    assert!(totp.available && totp.retires == Some(unix(day(20))), "announced ahead: {totp:?}");
    let after = e.auth.rules_for(&pilot, at(day(21)));
    assert!(!after.kinds.iter().find(|k| k.kind == FactorKind::Totp).unwrap().available);
    assert!(after.kinds.iter().find(|k| k.kind == FactorKind::EmailCode).unwrap().available);
    let others = e.auth.rules_for(&other, at(day(21)));
    assert!(!others.kinds.iter().find(|k| k.kind == FactorKind::EmailCode).unwrap().available);
    assert!(others.kinds.iter().find(|k| k.kind == FactorKind::Totp).unwrap().available);
    // At the next sign-in the pilot's app is struck out (it must enroll another kind); the
    // other account goes on with its app.
    match e.auth.login("ann@pilot.example", PW, &client(), at(day(21))).await.unwrap() {
        LoginStep::MustEnroll { unavailable, enrollable, .. } => {
            assert!(
                unavailable.iter().any(|u| u.kind == FactorKind::Totp
                    && matches!(u.reason, Unavailable::Retired { .. }))
            );
            assert!(!enrollable.contains(&FactorKind::Totp));
            assert!(enrollable.contains(&FactorKind::EmailCode));
        }
        other => panic!("the pilot's only factor is retired: {other:?}"),
    }
    let LoginStep::Challenge(c) =
        e.auth.login("bob@other.example", PW, &client(), at(day(21))).await.unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        e.auth.submit_code(&c.flow, &app.code(at(day(21))), at(day(21))).await,
        Ok(LoginStep::Authenticated(_))
    ));
}

/// An administrator's session is fresh for 2 minutes after its second factor, everyone
/// else's for the default 10.
async fn administrators_step_up_more_often<S: Store + Clone>(store: S) {
    let e = env(store);
    let (admin, admin_app) = member(&e, "root@acme.example", "Root1", Some("acme")).await;
    e.auth
        .set_labels(admin.id, admin.group.clone(), Some(Label::new("admin").unwrap()), at(3))
        .await
        .unwrap();
    let (_, user_app) = member(&e, "joe@acme.example", "Joe2", Some("acme")).await;
    let t = 1_000;
    let mut sessions = Vec::new();
    for (email, app) in [("root@acme.example", &admin_app), ("joe@acme.example", &user_app)] {
        let LoginStep::Challenge(c) = e.auth.login(email, PW, &client(), at(t)).await.unwrap()
        else {
            panic!()
        };
        let LoginStep::Authenticated(done) =
            e.auth.submit_code(&c.flow, &app.code(at(t)), at(t)).await.unwrap()
        else {
            panic!()
        };
        sessions.push(done.session);
    }
    assert!(e.auth.is_fresh(&sessions[0], at(t + 100)));
    assert!(!e.auth.is_fresh(&sessions[0], at(t + 200)), "admin: 2 minutes");
    assert!(e.auth.is_fresh(&sessions[1], at(t + 500)), "others: 10 minutes");
    assert_eq!(
        e.auth
            .change_password(&sessions[0], PW, "another long passphrase", at(t + 200))
            .await
            .unwrap_err(),
        LoginError::StepUpRequired,
        "the admin's sensitive change asks for a fresh factor"
    );
    // The operator tightens the administrators' step-up to a minute and restarts: the live
    // session follows the rules in force, not the ones it was made under.
    let mut tighter = AuthConfig::new("Example Portal");
    let table = GroupTable::from_json(
        mfa_flow::Policy::default(),
        r#"{"roles": {"admin": {"step_up_max_age_seconds": 60}}}"#,
    )
    .unwrap();
    tighter.rules = Some(Arc::new(table));
    let restarted = test_auth_on(e.auth.store().clone(), tighter, ChangeMode::Immediate, 22);
    assert!(restarted.auth.is_fresh(&sessions[0], at(t + 50)));
    assert!(!restarted.auth.is_fresh(&sessions[0], at(t + 100)), "a minute now, not two");
}

/// Group and role are stored with the account; changing them ends its sessions.
async fn labels_live_in_the_store_and_end_sessions<S: Store>(store: S) {
    let e = env(store);
    let (a, app) = member(&e, "ryu@acme.example", "Ryu20231130", None).await;
    assert_eq!(a.group, None);
    let LoginStep::Challenge(c) =
        e.auth.login("ryu@acme.example", PW, &client(), at(100)).await.unwrap()
    else {
        panic!()
    };
    let LoginStep::Authenticated(done) =
        e.auth.submit_code(&c.flow, &app.code(at(100)), at(100)).await.unwrap()
    else {
        panic!()
    };
    let token = done.session_token.expose_secret().to_owned();
    assert!(e.auth.session(&token, at(101)).await.is_ok());
    let acme = Label::new("ACME").unwrap();
    assert_eq!(acme.as_str(), "acme");
    e.auth.set_labels(a.id, Some(acme.clone()), Label::new("admin").ok(), at(102)).await.unwrap();
    let stored = account(&e, "ryu@acme.example").await;
    assert_eq!(stored.group, Some(acme));
    assert_eq!(stored.role.as_ref().map(Label::as_str), Some("admin"));
    assert_eq!(
        e.auth.session(&token, at(103)).await.unwrap_err(),
        LoginError::NotSignedIn,
        "a new group or role ends the sessions made under the old one"
    );
    assert!(e.audit.events().iter().any(|ev| matches!(ev, AuditEvent::LabelsChanged { .. })));
}
