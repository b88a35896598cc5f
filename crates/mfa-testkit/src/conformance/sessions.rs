//! Sessions, epoch-guarded factor changes, and their races: a revocation that returned is
//! never outlived by a write of an old session, and two removals cannot take an account's
//! last two factors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mfa_flow::{
    Account, Assurance, EnrollmentProof, FactorChange, FactorId, Session, SessionClient, SessionId,
    Store, StoreError,
};
use uuid::Uuid;

use super::{account, race, totp_factor};

/// A session of `account` under its current epoch, numbered `n` (ids and token hashes
/// derive from `n`).
#[must_use]
pub fn session(n: u8, account: &Account) -> Session {
    let id = SessionId::parse(&format!("{:0>22}", format!("s{n}"))).unwrap();
    Session {
        id,
        account: account.id,
        epoch: account.session_epoch,
        version: 1,
        created: crate::T0,
        last_seen: crate::T0,
        expires: crate::T0 + 86_400,
        password_at: crate::T0,
        second_factor_at: Some(crate::T0),
        second_factor: None,
        assurance: Assurance::Aal2,
        factor: None,
        enrollment_only: false,
        forced_enrollment: false,
        proof: EnrollmentProof::NotRequired,
        enrolled: Vec::new(),
        client: SessionClient { ip: "203.0.113.7".into(), browser: "Firefox on Linux".into() },
        facts: None,
        acting: None,
    }
}

/// The token hash session `n` is stored under in these checks.
#[must_use]
pub fn session_hash(n: u8) -> String {
    format!("token-hash-{n}")
}

async fn bump_epoch<S: Store>(s: &S, id: mfa_flow::AccountId) -> Account {
    let mut a = s.account(id).await.unwrap().unwrap();
    a.session_epoch += 1;
    a.version += 1;
    s.update_account(&a).await.unwrap();
    a
}

/// Sessions: stored under their token hash, found by token and by id, updated by
/// compare-and-swap, listed, ended one or all-but-one; an epoch bump hides every session of
/// the old epoch at once and refuses new ones made under it.
pub async fn sessions<S: Store>(s: S) {
    let a = account(1, "sessions@example.com", None);
    s.create_account(&a).await.unwrap();
    let other = account(2, "other@example.com", None);
    s.create_account(&other).await.unwrap();
    let one = session(1, &a);
    s.create_session(&session_hash(1), &one).await.unwrap();
    assert_eq!(
        s.create_session(&session_hash(1), &session(9, &a)).await,
        Err(StoreError::Conflict),
        "a token hash is unique"
    );
    assert_eq!(s.session_by_token(&session_hash(1)).await.unwrap().as_ref(), Some(&one));
    assert_eq!(s.session(&one.id).await.unwrap().as_ref(), Some(&one));
    assert_eq!(s.session_by_token("no such hash").await.unwrap(), None);
    let mut next = one.clone();
    next.version += 1;
    next.last_seen += 60;
    s.update_session(&next).await.unwrap();
    assert_eq!(s.update_session(&next).await, Err(StoreError::Stale), "compare-and-swap");
    assert_eq!(s.session(&one.id).await.unwrap().map(|x| x.last_seen), Some(next.last_seen));
    s.create_session(&session_hash(2), &session(2, &a)).await.unwrap();
    s.create_session(&session_hash(3), &session(3, &a)).await.unwrap();
    s.create_session(&session_hash(4), &session(4, &other)).await.unwrap();
    assert_eq!(s.sessions(a.id).await.unwrap().len(), 3, "listed per account");
    assert_eq!(s.end_sessions(a.id, Some(&session(2, &a).id), None).await.unwrap(), 1);
    assert_eq!(s.session_by_token(&session_hash(2)).await.unwrap(), None, "ended");
    assert_eq!(s.end_sessions(a.id, None, Some(&one.id)).await.unwrap(), 1, "all but one");
    assert_eq!(s.sessions(a.id).await.unwrap().len(), 1);
    assert_eq!(s.sessions(other.id).await.unwrap().len(), 1, "another account's untouched");

    // Revocation by epoch: the old session is gone at once, and cannot be written or remade.
    let a2 = bump_epoch(&s, a.id).await;
    assert_eq!(s.session_by_token(&session_hash(1)).await.unwrap(), None, "revoked");
    assert_eq!(s.session(&one.id).await.unwrap(), None, "revoked");
    assert!(s.sessions(a.id).await.unwrap().is_empty());
    let mut stale = next.clone();
    stale.version += 1;
    assert_eq!(s.update_session(&stale).await, Err(StoreError::NotFound), "no write");
    assert_eq!(
        s.create_session(&session_hash(5), &session(5, &a)).await,
        Err(StoreError::Revoked),
        "no session under an old epoch"
    );
    // Carried over to the new epoch (the session that made the change).
    let mut kept = stale.clone();
    kept.epoch = a2.session_epoch;
    s.update_session(&kept).await.unwrap();
    assert_eq!(s.session(&one.id).await.unwrap().map(|x| x.epoch), Some(a2.session_epoch));
    assert!(s.sweep(crate::at(86_400)).await.unwrap() >= 1, "expired sessions swept");
    assert_eq!(s.session(&one.id).await.unwrap(), None, "swept");
}

/// Factor changes under a session epoch: applied while it holds, refused after.
pub async fn factor_changes<S: Store>(s: S) {
    let a = account(1, "changes@example.com", None);
    s.create_account(&a).await.unwrap();
    let f1 = totp_factor(10, a.id);
    let f2 = totp_factor(11, a.id);
    s.change_factors(a.id, 0, &FactorChange::Add(f1.clone())).await.unwrap();
    s.change_factors(a.id, 0, &FactorChange::Add(f2.clone())).await.unwrap();
    let mut renamed = f1.clone();
    renamed.version += 1;
    renamed.name = "renamed".into();
    s.change_factors(a.id, 0, &FactorChange::Update(renamed.clone())).await.unwrap();
    assert_eq!(
        s.change_factors(a.id, 0, &FactorChange::Update(renamed.clone())).await,
        Err(StoreError::Stale)
    );
    let remove = |f: FactorId, keep: Vec<FactorId>| FactorChange::Remove {
        factor: f,
        keep_one_of: Some(keep),
    };
    assert_eq!(
        s.change_factors(a.id, 0, &remove(f1.id, vec![FactorId(Uuid::from_u128(99))])).await,
        Err(StoreError::LastFactor),
        "none of the factors to keep exists"
    );
    assert_eq!(
        s.change_factors(a.id, 0, &remove(f1.id, vec![f1.id])).await,
        Err(StoreError::LastFactor),
        "the factor removed does not count as kept"
    );
    assert_eq!(
        s.change_factors(a.id, 0, &remove(FactorId(Uuid::from_u128(98)), vec![f2.id])).await,
        Err(StoreError::NotFound)
    );
    bump_epoch(&s, a.id).await;
    assert_eq!(
        s.change_factors(a.id, 0, &remove(f1.id, vec![f2.id])).await,
        Err(StoreError::Revoked),
        "an old epoch writes nothing"
    );
    assert_eq!(
        s.change_factors(a.id, 0, &FactorChange::Add(totp_factor(12, a.id))).await,
        Err(StoreError::Revoked)
    );
    s.change_factors(a.id, 1, &remove(f1.id, vec![f2.id])).await.unwrap();
    assert_eq!(s.factors(a.id).await.unwrap().len(), 1);
    assert_eq!(
        s.change_factors(mfa_flow::AccountId(Uuid::from_u128(404)), 0, &FactorChange::Add(f1))
            .await,
        Err(StoreError::NotFound)
    );
}

/// Writes of an old session racing its revocation: every write that started after the
/// revocation returned is refused (session updates and factor changes alike).
pub async fn race_revocation<S: Store + Clone + 'static>(s: S) {
    let a = account(1, "race-revoke@example.com", None);
    s.create_account(&a).await.unwrap();
    let old = session(1, &a);
    s.create_session(&session_hash(1), &old).await.unwrap();
    let revoked = Arc::new(AtomicBool::new(false));
    let flag = revoked.clone();
    let results = race(&s, 40, move |s, i| {
        let flag = flag.clone();
        let old = old.clone();
        async move {
            if i == 0 {
                // The revocation: one atomic epoch bump.
                tokio::task::yield_now().await;
                bump_epoch(&s, old.account).await;
                flag.store(true, Ordering::SeqCst);
                return Vec::new();
            }
            let mut late_wins = Vec::new();
            for k in 0..20u64 {
                let started_after = flag.load(Ordering::SeqCst);
                let mut touched = old.clone();
                touched.version = old.version + 1 + k;
                touched.last_seen += k;
                // Whatever version is current, an old-epoch write must fail once revoked.
                let wrote = s.update_session(&touched).await.is_ok();
                let factor = totp_factor(1_000 + u128::from(k) * 100 + i as u128, old.account);
                let added =
                    s.change_factors(old.account, old.epoch, &FactorChange::Add(factor)).await;
                if started_after && (wrote || added.is_ok()) {
                    late_wins.push((i, k));
                }
                if started_after {
                    assert!(matches!(added, Err(StoreError::Revoked)), "{added:?}");
                }
                tokio::task::yield_now().await;
            }
            late_wins
        }
    })
    .await;
    let late: Vec<_> = results.into_iter().flatten().collect();
    assert!(late.is_empty(), "writes after the revocation returned: {late:?}");
    assert_eq!(s.session_by_token(&session_hash(1)).await.unwrap(), None);
}

/// Removing an account's two factors at once from 50 tasks (half each): exactly one removal
/// succeeds, one factor remains.
pub async fn race_last_factor<S: Store + Clone + 'static>(s: S) {
    let a = account(1, "race-last@example.com", None);
    s.create_account(&a).await.unwrap();
    let (x, y) = (totp_factor(10, a.id), totp_factor(11, a.id));
    s.add_factor(&x).await.unwrap();
    s.add_factor(&y).await.unwrap();
    let (xi, yi) = (x.id, y.id);
    let results = race(&s, 50, move |s, i| async move {
        let (target, keep) = if i % 2 == 0 { (xi, yi) } else { (yi, xi) };
        s.change_factors(
            a.id,
            0,
            &FactorChange::Remove { factor: target, keep_one_of: Some(vec![keep]) },
        )
        .await
    })
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "one removal wins");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::LastFactor | StoreError::NotFound)))
    );
    assert_eq!(s.factors(a.id).await.unwrap().len(), 1, "the last factor stays");
}

/// The last-factor race across two replicas.
pub(super) async fn last_factor_across<S: Store + Clone + 'static>(a: S, b: S) {
    let owner = account(7, "replica-last@example.com", None);
    a.create_account(&owner).await.unwrap();
    let (x, y) = (totp_factor(70, owner.id), totp_factor(71, owner.id));
    a.add_factor(&x).await.unwrap();
    a.add_factor(&y).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut tasks = Vec::new();
    for (s, target, keep) in [(a.clone(), x.id, y.id), (b, y.id, x.id)] {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            s.change_factors(
                owner.id,
                0,
                &FactorChange::Remove { factor: target, keep_one_of: Some(vec![keep]) },
            )
            .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap().is_ok());
    }
    assert_eq!(wins, 1, "across replicas: one of two last-factor removals");
    assert_eq!(a.factors(owner.id).await.unwrap().len(), 1);
}
