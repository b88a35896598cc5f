//! The conformance suite on a real PostgreSQL server, and two separate pools racing as two
//! server replicas would. `.ci/extended` starts a throw-away cluster on 127.0.0.1 and runs
//! these with `MFA_TEST_POSTGRES_URL` set; each test gets its own database.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

mod common;
use common::group_report_counts;

use std::sync::atomic::{AtomicU32, Ordering};

use mfa_store_sql::SqlStore;
use mfa_testkit::{conformance, flows, groups, recovery};
use sqlx::Executor as _;

static N: AtomicU32 = AtomicU32::new(0);

fn server() -> String {
    std::env::var("MFA_TEST_POSTGRES_URL").expect("MFA_TEST_POSTGRES_URL (set by .ci/extended)")
}

/// A fresh, empty database on the test server; its URL.
async fn fresh_database() -> String {
    let base = server();
    let name = format!("mfa_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres")).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).await.unwrap();
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    admin.close().await;
    format!("{base}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a PostgreSQL server: run by .ci/extended"]
async fn postgres_conforms() {
    conformance::run(|| async { SqlStore::connect(&fresh_database().await).await.unwrap() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a PostgreSQL server: run by .ci/extended"]
async fn recovery_scenarios_hold_on_postgres() {
    recovery::run(|| async { SqlStore::connect(&fresh_database().await).await.unwrap() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a PostgreSQL server: run by .ci/extended"]
async fn group_scenarios_hold_on_postgres() {
    groups::run(|| async { SqlStore::connect(&fresh_database().await).await.unwrap() }).await;
    let store = SqlStore::connect(&fresh_database().await).await.unwrap();
    group_report_counts(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a PostgreSQL server: run by .ci/extended"]
async fn flow_scenarios_hold_on_postgres() {
    flows::run(|| async { SqlStore::connect(&fresh_database().await).await.unwrap() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a PostgreSQL server: run by .ci/extended"]
async fn two_pools_race_like_two_replicas() {
    let url = fresh_database().await;
    let a = SqlStore::connect(&url).await.unwrap();
    let b = SqlStore::connect(&url).await.unwrap();
    conformance::run_replicas(a, b).await;
}

#[path = "../../mfa-import/tests/common/mod.rs"]
mod import_fixture;

/// The Auth0 fixture import (every field, every refusal, a re-run) on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a PostgreSQL server: run by .ci/extended"]
async fn the_import_fixture_on_postgres() {
    import_fixture::fixture_import(SqlStore::connect(&fresh_database().await).await.unwrap()).await;
}

/// Sends hints from `from` until one reaches `rx` (the listener may still be subscribing).
async fn until_delivered(
    from: &mfa_store_sql::PgPushChannel,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, mfa_push::PushHint)>,
    hint: &mfa_push::PushHint,
) -> bool {
    use mfa_flow::PushSender as _;
    for _ in 0..100 {
        from.send("token-1", hint).await.unwrap();
        if let Ok(Some((token, got))) =
            tokio::time::timeout(std::time::Duration::from_millis(200), rx.recv()).await
        {
            assert_eq!((token.as_str(), &got), ("token-1", hint));
            return true;
        }
    }
    false
}

/// A hint sent by one replica reaches the listener of another (LISTEN/NOTIFY), and still does
/// after the listener's connection was cut (it listens again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a PostgreSQL server: run by .ci/extended"]
async fn push_hints_reach_every_replica_and_survive_a_lost_connection() {
    let url = fresh_database().await;
    let (SqlStore::Postgres(a), SqlStore::Postgres(b)) =
        (SqlStore::connect(&url).await.unwrap(), SqlStore::connect(&url).await.unwrap())
    else {
        panic!("postgres")
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let listening = mfa_store_sql::PgPushChannel::new(b).listen(move |t, h| {
        let _ = tx.send((t, h));
    });
    let sender = mfa_store_sql::PgPushChannel::new(a.clone());
    let hint = mfa_push::PushHint { device_id: vec![1; 16], challenge_id: vec![2; 16] };
    assert!(until_delivered(&sender, &mut rx, &hint).await, "replica B hears replica A");
    // Cut the listener's connection, as a restart of the database or a network blip would.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")
        .execute(&a)
        .await
        .unwrap();
    while rx.try_recv().is_ok() {}
    assert!(until_delivered(&sender, &mut rx, &hint).await, "the listener listens again");
    listening.abort();
}

/// One sweep at a time across replicas: while one holds the advisory lock, another skips.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs a PostgreSQL server: run by .ci/extended"]
async fn one_sweep_at_a_time_across_replicas() {
    let url = fresh_database().await;
    let a = SqlStore::connect(&url).await.unwrap();
    let b = SqlStore::connect(&url).await.unwrap();
    let SqlStore::Postgres(pool) = &a else { panic!("postgres") };
    let mut held = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(mfa_store_sql::SWEEP_LOCK)
        .execute(&mut *held)
        .await
        .unwrap();
    let now = std::time::SystemTime::now();
    assert_eq!(b.sweep_once(now).await.unwrap(), None, "another replica is sweeping");
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(mfa_store_sql::SWEEP_LOCK)
        .execute(&mut *held)
        .await
        .unwrap();
    assert!(b.sweep_once(now).await.unwrap().is_some(), "free again");
    assert!(a.sweep_once(now).await.unwrap().is_some(), "and the lock was released");
}
