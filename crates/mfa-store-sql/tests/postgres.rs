//! The conformance suite on a real PostgreSQL server, and two separate pools racing as two
//! server replicas would. `.ci/extended` starts a throw-away cluster on 127.0.0.1 and runs
//! these with `MFA_TEST_POSTGRES_URL` set; each test gets its own database.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::sync::atomic::{AtomicU32, Ordering};

use mfa_store_sql::SqlStore;
use mfa_testkit::{conformance, flows, recovery};
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
