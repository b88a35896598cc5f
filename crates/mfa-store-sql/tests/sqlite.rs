//! The conformance suite on SQLite (a temporary file per store), two pools on one file as
//! replicas, and a reopen that finds everything.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use mfa_flow::{FactorData, Store};
use mfa_store_sql::SqlStore;
use mfa_testkit::{at, conformance};

static N: AtomicU32 = AtomicU32::new(0);

/// A fresh directory for one test's database files, removed by the test when it ends.
fn test_dir(name: &str) -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir =
        std::env::temp_dir().join(format!("mfa-store-sql-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh database file in `dir`.
fn fresh_file(dir: &std::path::Path) -> PathBuf {
    dir.join(format!("{}.db", N.fetch_add(1, Ordering::SeqCst)))
}

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_conforms() {
    let dir = test_dir("conformance");
    conformance::run(|| async { SqlStore::connect(&url(&fresh_file(&dir))).await.unwrap() }).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_on_one_file_race_like_replicas() {
    let dir = test_dir("replicas");
    let path = fresh_file(&dir);
    let a = SqlStore::connect(&url(&path)).await.unwrap();
    let b = SqlStore::connect(&url(&path)).await.unwrap();
    conformance::run_replicas(a, b).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn reopening_the_file_finds_everything() {
    let dir = test_dir("reopen");
    let path = fresh_file(&dir);
    let owner = conformance::account(1, "Ryu@Example.com", Some("Ryu20231130"));
    let factor = conformance::totp_factor(2, owner.id);
    {
        let s = SqlStore::connect(&url(&path)).await.unwrap();
        s.create_account(&owner).await.unwrap();
        s.add_factor(&factor).await.unwrap();
        assert!(s.advance_totp_step(factor.id, 77).await.unwrap());
        s.put_flow("flow", b"state", at(600)).await.unwrap();
        s.update_throttle("t", |x| mfa_flow::ThrottleState {
            failures: x.failures + 3,
            last_failure: 9,
        })
        .await
        .unwrap();
        s.close().await;
    }
    let s = SqlStore::connect(&url(&path)).await.unwrap();
    assert_eq!(s.account(owner.id).await.unwrap().as_ref(), Some(&owner));
    assert_eq!(s.account_by_username("ryu20231130").await.unwrap().map(|a| a.id), Some(owner.id));
    let factors = s.factors(owner.id).await.unwrap();
    assert_eq!(factors.len(), 1);
    let FactorData::Totp { last_step, sealed_secret, .. } = &factors[0].data else {
        panic!("kind")
    };
    assert_eq!(*last_step, Some(77));
    assert_eq!(sealed_secret, &vec![1, 2, 3]);
    assert!(
        !s.advance_totp_step(factor.id, 77).await.unwrap(),
        "the replay guard survives a restart"
    );
    assert_eq!(s.take_flow("flow", at(1)).await.unwrap().as_deref(), Some(&b"state"[..]));
    assert_eq!(s.throttle("t").await.unwrap().failures, 3);
    s.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_memory_url_is_refused() {
    assert!(SqlStore::connect("sqlite::memory:").await.is_err());
    assert!(SqlStore::connect("mysql://x").await.is_err());
}
