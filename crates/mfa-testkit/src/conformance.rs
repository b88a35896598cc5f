//! The storage conformance suite. Every [`Store`] adapter runs it (in its own tests, with a
//! fresh empty store per call of `make`); it panics with the name of the property that does
//! not hold. The races run 50 tasks on a multi-threaded runtime against clones of one store
//! (clones must share the data, as replicas share a database).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Duration;

use mfa_email_identity::{Canonicalizer, EmailAddress, Username};
use mfa_flow::{
    Account, AccountId, Factor, FactorData, FactorId, FactorKind, ProfileFields, Store, StoreError,
    ThrottlePolicy,
};
use uuid::Uuid;

use crate::at;

mod sessions;

pub use sessions::{
    factor_changes, race_last_factor, race_revocation, session, session_hash, sessions,
};

/// An account for tests.
#[must_use]
pub fn account(n: u128, email: &str, username: Option<&str>) -> Account {
    let email = EmailAddress::parse(email).unwrap();
    Account {
        id: AccountId(Uuid::from_u128(n)),
        version: 1,
        canonical_email: Canonicalizer::new().canonical(&email),
        email,
        username: username.map(|u| Username::parse(u).unwrap()),
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
        created: crate::T0,
        last_factor: None,
        profile: ProfileFields::default(),
        session_epoch: 0,
        had_second_factor: false,
        disabled: false,
        email_unverified: false,
        group: None,
        role: None,
        imported: false,
    }
}

/// A TOTP factor for tests.
#[must_use]
pub fn totp_factor(n: u128, account: AccountId) -> Factor {
    Factor {
        id: FactorId(Uuid::from_u128(n)),
        account,
        kind: FactorKind::Totp,
        name: format!("app {n}"),
        created: crate::T0,
        last_used: None,
        version: 1,
        data: FactorData::Totp {
            sealed_secret: vec![1, 2, 3],
            profile: mfa_totp::Profile::DEFAULT,
            last_step: None,
        },
        suspended: None,
    }
}

/// An imported SMS factor (retired by the default policy), masked.
#[must_use]
pub fn sms_factor(n: u128, account: AccountId) -> Factor {
    Factor {
        id: FactorId(Uuid::from_u128(n)),
        account,
        kind: FactorKind::Sms,
        name: "+81 •••• ••12".into(),
        created: crate::T0,
        last_used: None,
        version: 1,
        data: FactorData::Phone { masked_number: "+81 •••• ••12".into() },
        suspended: None,
    }
}

/// Runs every check. `make` returns a fresh, empty store.
pub async fn run<S, F, Fut>(make: F)
where
    S: Store + Clone + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    accounts(make().await).await;
    factors(make().await).await;
    import_all_or_nothing(make().await).await;
    factor_kinds(make().await).await;
    flows(make().await).await;
    throttle(make().await).await;
    race_totp_step(make().await).await;
    race_email_claim(make().await).await;
    race_flow_take(make().await).await;
    race_factor_update(make().await).await;
    race_lock(make().await).await;
    race_throttle(make().await).await;
    race_admission(make().await).await;
    sessions(make().await).await;
    factor_changes(make().await).await;
    race_revocation(make().await).await;
    race_last_factor(make().await).await;
}

/// Accounts: unique canonical email and username, lookups, compare-and-swap updates.
pub async fn accounts<S: Store>(s: S) {
    let a = account(1, "Ryu@Example.com", Some("Ryu20231130"));
    s.create_account(&a).await.unwrap();
    assert_eq!(s.account(a.id).await.unwrap().as_ref(), Some(&a), "account by id");
    let canon = Canonicalizer::new().canonical(&EmailAddress::parse("ryu@EXAMPLE.com").unwrap());
    assert_eq!(
        s.account_by_email(&canon).await.unwrap().map(|x| x.id),
        Some(a.id),
        "account by canonical email"
    );
    assert_eq!(
        s.account_by_username("ryu20231130").await.unwrap().map(|x| x.id),
        Some(a.id),
        "account by username"
    );
    assert_eq!(s.account_by_username("nobody").await.unwrap(), None, "unknown username");
    let same_email = account(2, "RYU@example.com", None);
    assert_eq!(
        s.create_account(&same_email).await,
        Err(StoreError::Conflict),
        "canonical email is unique"
    );
    let same_username = account(3, "other@example.com", Some("RYU20231130"));
    assert_eq!(
        s.create_account(&same_username).await,
        Err(StoreError::Conflict),
        "username is unique"
    );
    let b = account(4, "b@example.com", None);
    s.create_account(&b).await.unwrap();
    let mut moved = b.clone();
    moved.version = 2;
    moved.email = a.email.clone();
    moved.canonical_email = a.canonical_email.clone();
    assert_eq!(
        s.update_account(&moved).await,
        Err(StoreError::Conflict),
        "update cannot take another's email"
    );
    let mut renamed = b.clone();
    renamed.version = 2;
    renamed.profile.first_name = "B".into();
    s.update_account(&renamed).await.unwrap();
    assert_eq!(
        s.update_account(&renamed).await,
        Err(StoreError::Stale),
        "update compares versions"
    );
    assert_eq!(s.account(b.id).await.unwrap().unwrap().profile.first_name, "B");
}

/// Factors: add, list per account, compare-and-swap update, remove only one's own, TOTP step.
pub async fn factors<S: Store>(s: S) {
    let a = account(1, "a@example.com", None);
    let b = account(2, "b@example.com", None);
    s.create_account(&a).await.unwrap();
    s.create_account(&b).await.unwrap();
    let f = totp_factor(10, a.id);
    s.add_factor(&f).await.unwrap();
    assert_eq!(s.add_factor(&f).await, Err(StoreError::Conflict), "factor id is unique");
    assert_eq!(s.factors(a.id).await.unwrap().len(), 1);
    assert!(s.factors(b.id).await.unwrap().is_empty(), "factors are per account");
    assert!(!s.remove_factor(b.id, f.id).await.unwrap(), "another account cannot remove it");
    assert!(s.advance_totp_step(f.id, 100).await.unwrap(), "first step");
    assert!(!s.advance_totp_step(f.id, 100).await.unwrap(), "same step refused");
    assert!(!s.advance_totp_step(f.id, 99).await.unwrap(), "older step refused");
    assert!(s.advance_totp_step(f.id, 101).await.unwrap(), "newer step");
    let stored = s.factors(a.id).await.unwrap().remove(0);
    let FactorData::Totp { last_step, .. } = &stored.data else { panic!("kind changed") };
    assert_eq!(*last_step, Some(101), "step persisted");
    let mut renamed = stored.clone();
    renamed.name = "renamed".into();
    renamed.version += 1;
    s.update_factor(&renamed).await.unwrap();
    assert_eq!(
        s.update_factor(&renamed).await,
        Err(StoreError::Stale),
        "factor update compares versions"
    );
    assert!(s.remove_factor(a.id, f.id).await.unwrap());
    assert!(s.factors(a.id).await.unwrap().is_empty());
}

/// An account created with its factors (an import) is written whole or not at all.
pub async fn import_all_or_nothing<S: Store>(s: S) {
    let a = account(1, "a@example.com", Some("legacy_a"));
    let existing = account(2, "taken@example.com", Some("taken_name"));
    s.create_account(&existing).await.unwrap();
    s.add_factor(&totp_factor(20, existing.id)).await.unwrap();
    // A factor id that exists: nothing of the record is written.
    let clash = [totp_factor(10, a.id), totp_factor(20, a.id)];
    assert_eq!(s.create_account_with_factors(&a, &clash).await, Err(StoreError::Conflict));
    assert_eq!(s.account(a.id).await.unwrap(), None, "import: no half-written account");
    assert!(s.factors(a.id).await.unwrap().is_empty(), "import: no orphan factor");
    // A taken username or address: nothing either.
    let mut b = account(3, "b@example.com", Some("taken_name"));
    assert_eq!(
        s.create_account_with_factors(&b, &[totp_factor(30, b.id)]).await,
        Err(StoreError::Conflict)
    );
    b = account(3, "TAKEN@example.com", None);
    assert_eq!(
        s.create_account_with_factors(&b, &[totp_factor(30, b.id)]).await,
        Err(StoreError::Conflict)
    );
    assert!(s.factors(b.id).await.unwrap().is_empty());
    // The whole record.
    let whole = [totp_factor(10, a.id), sms_factor(11, a.id)];
    s.create_account_with_factors(&a, &whole).await.unwrap();
    assert_eq!(s.account(a.id).await.unwrap().map(|x| x.id), Some(a.id));
    assert_eq!(s.factors(a.id).await.unwrap().len(), 2, "import: every factor");
}

/// Flow records: single take, expiry honoured before any sweep, locks, sweep.
pub async fn flows<S: Store>(s: S) {
    s.put_flow("k", b"v", at(60)).await.unwrap();
    assert_eq!(s.get_flow("k", at(0)).await.unwrap().as_deref(), Some(&b"v"[..]), "get");
    assert_eq!(s.take_flow("k", at(0)).await.unwrap().as_deref(), Some(&b"v"[..]), "take");
    assert_eq!(s.take_flow("k", at(0)).await.unwrap(), None, "taken once");
    s.put_flow("old", b"v", at(60)).await.unwrap();
    assert_eq!(s.get_flow("old", at(60)).await.unwrap(), None, "expired is invisible");
    assert_eq!(s.take_flow("old", at(61)).await.unwrap(), None, "expired cannot be taken");
    s.put_flow_new("lock", b"1", at(30), at(0)).await.unwrap();
    assert_eq!(
        s.put_flow_new("lock", b"2", at(40), at(10)).await,
        Err(StoreError::Conflict),
        "lock held"
    );
    s.put_flow_new("lock", b"3", at(90), at(30)).await.unwrap();
    s.put_flow("stale", b"v", at(5)).await.unwrap();
    assert!(s.sweep(at(100)).await.unwrap() >= 1, "sweep removes expired records");
}

/// Throttle counters: read and atomic update.
pub async fn throttle<S: Store>(s: S) {
    let p = ThrottlePolicy::default();
    assert_eq!(s.throttle("t").await.unwrap().failures, 0);
    let st = s.update_throttle("t", move |x| p.fail(x, at(0))).await.unwrap();
    assert_eq!(st.failures, 1);
    assert_eq!(s.throttle("t").await.unwrap(), st, "persisted");
}

async fn race<S, T, F, Fut>(s: &S, n: usize, f: F) -> Vec<T>
where
    S: Store + Clone + 'static,
    T: Send + 'static,
    F: Fn(S, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let fut = f(s.clone(), i);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// 50 concurrent submissions of one TOTP step: exactly one succeeds.
pub async fn race_totp_step<S: Store + Clone + 'static>(s: S) {
    let a = account(1, "a@example.com", None);
    s.create_account(&a).await.unwrap();
    let f = totp_factor(10, a.id);
    s.add_factor(&f).await.unwrap();
    let wins =
        race(&s, 50, move |s, _| async move { s.advance_totp_step(f.id, 1000).await.unwrap() })
            .await;
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "one TOTP code, exactly one success");
}

/// 50 accounts claiming one email at once: exactly one.
pub async fn race_email_claim<S: Store + Clone + 'static>(s: S) {
    let wins = race(&s, 50, |s, i| async move {
        let a = account(100 + i as u128, "claimed@example.com", None);
        s.create_account(&a).await
    })
    .await;
    assert_eq!(wins.iter().filter(|w| w.is_ok()).count(), 1, "one email, exactly one account");
    assert!(wins.iter().all(|w| w.is_ok() || *w == Err(StoreError::Conflict)));
    // And two existing accounts changing to one address.
    let b = account(1, "b@example.com", None);
    let c = account(2, "c@example.com", None);
    s.create_account(&b).await.unwrap();
    s.create_account(&c).await.unwrap();
    let target = EmailAddress::parse("target@example.com").unwrap();
    let wins = race(&s, 2, move |s, i| {
        let mut x = if i == 0 { b.clone() } else { c.clone() };
        x.version += 1;
        x.canonical_email = Canonicalizer::new().canonical(&target);
        x.email = target.clone();
        async move { s.update_account(&x).await }
    })
    .await;
    assert_eq!(wins.iter().filter(|w| w.is_ok()).count(), 1, "one email, exactly one change wins");
}

/// One flow taken by 50 tasks at once: exactly one gets it.
pub async fn race_flow_take<S: Store + Clone + 'static>(s: S) {
    s.put_flow("flow", b"state", at(600)).await.unwrap();
    let got = race(&s, 50, |s, _| async move { s.take_flow("flow", at(1)).await.unwrap() }).await;
    assert_eq!(got.iter().filter(|g| g.is_some()).count(), 1, "one flow, taken once");
}

/// 50 compare-and-swap updates from one version: exactly one wins.
pub async fn race_factor_update<S: Store + Clone + 'static>(s: S) {
    let a = account(1, "a@example.com", None);
    s.create_account(&a).await.unwrap();
    let f = totp_factor(10, a.id);
    s.add_factor(&f).await.unwrap();
    let wins = race(&s, 50, move |s, i| {
        let mut g = f.clone();
        g.version += 1;
        g.name = format!("n{i}");
        async move { s.update_factor(&g).await }
    })
    .await;
    assert_eq!(wins.iter().filter(|w| w.is_ok()).count(), 1, "one version, one update");
}

/// 50 tasks taking one lock: exactly one.
pub async fn race_lock<S: Store + Clone + 'static>(s: S) {
    let wins =
        race(&s, 50, |s, _| async move { s.put_flow_new("lock", b"x", at(90), at(0)).await }).await;
    assert_eq!(wins.iter().filter(|w| w.is_ok()).count(), 1, "one lock holder");
}

/// 50 concurrent failures are all counted.
pub async fn race_throttle<S: Store + Clone + 'static>(s: S) {
    let p = ThrottlePolicy { half_life: Duration::from_secs(86_400), ..ThrottlePolicy::default() };
    race(&s, 50, move |s, _| async move {
        s.update_throttle("t", move |x| p.fail(x, at(0))).await.unwrap()
    })
    .await;
    assert_eq!(s.throttle("t").await.unwrap().failures, 50, "no lost increments");
}

/// Count first, then verify: 200 concurrent attempts, each admitted only while the count is
/// under the policy's free attempts, in the same atomic step that counts it. The decision of
/// the closure's last run (the one stored) is the one that holds: exactly `free` admitted.
pub async fn race_admission<S: Store + Clone + 'static>(s: S) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let p = ThrottlePolicy::default();
    let admitted = race(&s, 200, move |s, _| async move {
        let admitted = AtomicBool::new(false);
        s.update_throttle("admission", |x| {
            let free = p.wait(x, at(0)).is_zero();
            admitted.store(free, Ordering::SeqCst);
            if free { p.fail(x, at(0)) } else { x }
        })
        .await
        .unwrap();
        admitted.load(Ordering::SeqCst)
    })
    .await;
    let n = admitted.iter().filter(|a| **a).count();
    assert_eq!(n, p.free as usize, "exactly the free attempts are admitted, however many race");
    assert_eq!(s.throttle("admission").await.unwrap().failures, p.free);
}

/// Two replicas (`a`, `b`: separate pools on one database) racing: one TOTP step, one email,
/// one flow — each won exactly once across both.
pub async fn run_replicas<S: Store + Clone + 'static>(a: S, b: S) {
    let owner = account(1, "replica@example.com", None);
    a.create_account(&owner).await.unwrap();
    let f = totp_factor(10, owner.id);
    a.add_factor(&f).await.unwrap();
    a.put_flow("replica-flow", b"x", at(600)).await.unwrap();
    let stores = [a, b];
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50usize {
        let s = stores[i % 2].clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let step = s.advance_totp_step(f.id, 5000).await.unwrap();
            let claim = s
                .create_account(&account(1000 + i as u128, "contested@example.com", None))
                .await
                .is_ok();
            let taken = s.take_flow("replica-flow", at(1)).await.unwrap().is_some();
            (step, claim, taken)
        }));
    }
    let mut totals = (0, 0, 0);
    for t in tasks {
        let (s, c, k) = t.await.unwrap();
        totals.0 += usize::from(s);
        totals.1 += usize::from(c);
        totals.2 += usize::from(k);
    }
    assert_eq!(
        totals,
        (1, 1, 1),
        "across replicas: one TOTP success, one email claim, one flow take"
    );
    let [a, b] = stores;
    sessions::last_factor_across(a, b).await;
}

/// Every kind of factor data survives the store (adapters that serialize must handle each).
pub async fn factor_kinds<S: Store>(s: S) {
    let a = account(1, "kinds@example.com", None);
    s.create_account(&a).await.unwrap();
    let datas = [
        (FactorKind::RecoveryCodes, FactorData::RecoveryCodes { stored: "rc1$1$x$y".into() }),
        (FactorKind::EmailCode, FactorData::EmailCode),
        (FactorKind::Sms, FactorData::Phone { masked_number: "+81 •••• ••12".into() }),
        (
            FactorKind::Totp,
            FactorData::Totp {
                sealed_secret: vec![9; 40],
                profile: mfa_totp::Profile::DEFAULT,
                last_step: Some(42),
            },
        ),
    ];
    for (i, (kind, data)) in datas.into_iter().enumerate() {
        let f = Factor { kind, data, ..totp_factor(100 + i as u128, a.id) };
        s.add_factor(&f).await.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
    let back = s.factors(a.id).await.unwrap();
    assert_eq!(back.len(), 4, "every kind stored");
    assert!(
        back.iter().any(
            |f| matches!(&f.data, FactorData::RecoveryCodes { stored } if stored == "rc1$1$x$y")
        )
    );
    assert!(back.iter().any(|f| matches!(&f.data, FactorData::Totp { last_step: Some(42), .. })));
}
