//! The conformance suite and the recovery scenarios on SQLite (a temporary file per store),
//! two pools on one file as replicas, and a reopen that finds everything.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod common;
use common::group_report_counts;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use mfa_flow::{FactorData, Store};
use mfa_store_sql::SqlStore;
use mfa_testkit::{at, canonical, conformance, flows, groups, recovery};

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
async fn recovery_scenarios_hold_on_sqlite() {
    let dir = test_dir("recovery");
    recovery::run(|| async { SqlStore::connect(&url(&fresh_file(&dir))).await.unwrap() }).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_scenarios_hold_on_sqlite() {
    let dir = test_dir("groups");
    groups::run(|| async { SqlStore::connect(&url(&fresh_file(&dir))).await.unwrap() }).await;
    group_report_counts(SqlStore::connect(&url(&fresh_file(&dir))).await.unwrap()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The attacker model (`mfa_testkit::attacker`), a shorter run on SQLite (a file per run).
#[test]
fn the_attacker_model_holds_on_sqlite() {
    let dir = test_dir("attacker");
    let cases =
        std::env::var("MFA_MODEL_CASES_SQLITE").ok().and_then(|c| c.parse().ok()).unwrap_or(120);
    mfa_testkit::attacker::check(
        || async { SqlStore::connect(&url(&fresh_file(&dir))).await.unwrap() },
        cases,
        20,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flow_scenarios_hold_on_sqlite() {
    let dir = test_dir("flows");
    flows::run(|| async { SqlStore::connect(&url(&fresh_file(&dir))).await.unwrap() }).await;
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

#[tokio::test]
async fn audit_events_are_kept_with_their_client_newest_first() {
    use mfa_flow::{AccountId, AuditEvent, AuditSink as _, FailureReason, SessionClient};
    let dir = test_dir("audit");
    let s = SqlStore::connect(&url(&fresh_file(&dir))).await.unwrap();
    let audit = mfa_store_sql::SqlAudit::spawn(s.clone());
    let account = AccountId(uuid::Uuid::from_u128(5));
    let client = SessionClient { ip: "203.0.113.7".into(), browser: "Firefox on Linux".into() };
    audit.record_from(at(1), AuditEvent::PasswordChanged { account }, &client);
    let failed =
        AuditEvent::LoginFailed { account: Some(account), reason: FailureReason::WrongPassword };
    audit.record(at(2), failed);
    let unknown =
        AuditEvent::LoginFailed { account: None, reason: FailureReason::UnknownIdentifier };
    audit.record(at(3), unknown);
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = s.audit_events(account, &[], 10).await.unwrap();
        if rows.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(rows.len(), 2, "the account's two events (the unknown one has no account)");
    assert_eq!(rows[0].kind, "login_failed");
    assert_eq!((rows[0].ip.as_deref(), rows[0].browser.as_deref()), (None, None));
    assert_eq!(rows[1].kind, "password_changed");
    assert_eq!(rows[1].ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(rows[1].browser.as_deref(), Some("Firefox on Linux"));
    assert_eq!(rows[1].at, mfa_testkit::T0 + 1);
    assert_eq!(s.audit_events(account, &[], 1).await.unwrap().len(), 1, "limit");
    let only = s.audit_events(account, &["password_changed", "x' OR '1'='1"], 10).await.unwrap();
    assert_eq!(only.len(), 1, "filtered by kind, in the query");
    assert_eq!(only[0].kind, "password_changed");
    assert_eq!(audit.dropped(), 0);
    // Swept after the retention period.
    let later = at(0) + std::time::Duration::from_secs(401 * 24 * 3600);
    s.sweep(later).await.unwrap();
    assert!(s.audit_events(account, &[], 10).await.unwrap().is_empty(), "swept");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rows of WebAuthn factors stored before the credential-id column existed get it when the
/// store connects, and then hold their id against every other account.
#[tokio::test]
async fn credential_ids_of_earlier_rows_are_filled_in_on_connect() {
    let dir = test_dir("backfill");
    let file = fresh_file(&dir);
    let store = SqlStore::connect(&url(&file)).await.unwrap();
    let e = mfa_testkit::test_auth_on(
        store,
        mfa_flow::AuthConfig::new("Example Portal"),
        mfa_email_identity::ChangeMode::ConfirmNewAddress,
        7,
    );
    let mut key = mfa_testkit::RawKey::device_bound(vec![9; 20]);
    let (_, factor) = flows::account_with_key(&e, "old@example.com", &mut key).await;
    // As a database of schema version 3 left it.
    let pool = sqlx::SqlitePool::connect(&url(&file)).await.unwrap();
    sqlx::query("UPDATE factors SET credential_id = NULL").execute(&pool).await.unwrap();
    pool.close().await;
    let reopened = SqlStore::connect(&url(&file)).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url(&file)).await.unwrap();
    let (id,): (Option<String>,) =
        sqlx::query_as("SELECT credential_id FROM factors WHERE id = $1")
            .bind(factor.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(id.as_deref(), Some("CQkJCQkJCQkJCQkJCQkJCQkJCQk"));
    let mut copy = reopened
        .factors(
            e.auth
                .store()
                .account_by_email(&canonical("old@example.com"))
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.id == factor)
        .unwrap();
    copy.id = mfa_flow::FactorId(uuid::Uuid::from_u128(77));
    assert_eq!(reopened.add_factor(&copy).await, Err(mfa_flow::StoreError::Conflict));
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[path = "../../mfa-import/tests/common/mod.rs"]
mod import_fixture;

/// The Auth0 fixture import (every field, every refusal, a re-run) on SQLite.
#[tokio::test]
async fn the_import_fixture_on_sqlite() {
    let dir = test_dir("import");
    import_fixture::fixture_import(SqlStore::connect(&url(&fresh_file(&dir))).await.unwrap()).await;
    let _ = std::fs::remove_dir_all(&dir);
}
