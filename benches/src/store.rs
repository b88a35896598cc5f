//! `mfa-store-sql` on its SQLite default: the store's lookups on the login path (account by
//! email, the account's factors) and on every signed-in request (the session by its token's
//! hash, joined with the account's epoch) beside a bare sqlx query of the same shape on the same pool
//! and file, so the figure shows the adapter's overhead (JSON decoding, the version and TOTP
//! step overlay). Operations per second are 1 / the time shown.

use std::hint::black_box;
use std::sync::Arc;

use mfa_flow::{Account, Factor, FactorData, Store};
use mfa_store_sql::SqlStore;
use mfa_testkit::conformance;

use crate::harness::Pair;

fn setup(rt: &tokio::runtime::Runtime) -> Option<(SqlStore, sqlx::SqlitePool, Account)> {
    let path = std::env::temp_dir().join(format!("mfa-bench-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = rt.block_on(SqlStore::connect(&url)).ok()?;
    let SqlStore::Sqlite(pool) = store.clone() else { return None };
    let account = conformance::account(1, "ryu@example.com", None);
    rt.block_on(store.create_account(&account)).ok()?;
    for n in 0..3u128 {
        let f = Factor {
            data: FactorData::Totp {
                sealed_secret: vec![7; 57],
                profile: mfa_totp::Profile::DEFAULT,
                last_step: Some(5),
            },
            ..conformance::totp_factor(10 + n, account.id)
        };
        rt.block_on(store.add_factor(&f)).ok()?;
    }
    Some((store, pool, account))
}

pub(crate) fn pairs() -> Vec<Pair<'static>> {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return Vec::new();
    };
    let rt = Arc::new(rt);
    let Some((store, pool, account)) = setup(&rt) else { return Vec::new() };
    let canonical = account.canonical_email.as_str().to_owned();
    let id = account.id;
    let session = conformance::session(1, &account);
    let hash = conformance::session_hash(1);
    if rt.block_on(store.create_session(&hash, &session)).is_err() {
        return Vec::new();
    }
    let (rt1, rt2, rt3, rt4, rt5, rt6) =
        (rt.clone(), rt.clone(), rt.clone(), rt.clone(), rt.clone(), rt);
    let (s1, s2, s3, p1, p2, p3) =
        (store.clone(), store.clone(), store, pool.clone(), pool.clone(), pool);
    let (h1, h2) = (hash.clone(), hash);
    let (c1, c2) = (account.canonical_email.clone(), canonical);
    vec![
        Pair {
            name: "store-sql: account by email (SQLite)",
            raw_name: "bare sqlx SELECT … WHERE canonical_email",
            raw: Box::new(move || {
                let row = rt1.block_on(
                    sqlx::query("SELECT data, version FROM accounts WHERE canonical_email = $1")
                        .bind(c2.as_str())
                        .fetch_optional(&p1),
                );
                black_box(row.is_ok());
            }),
            lib: Box::new(move || {
                black_box(rt2.block_on(s1.account_by_email(&c1)).is_ok());
            }),
            goal: None,
        },
        Pair {
            name: "store-sql: the account's factors (SQLite)",
            raw_name: "bare sqlx SELECT … WHERE account",
            raw: Box::new(move || {
                let rows = rt3.block_on(
                    sqlx::query("SELECT data, version, totp_last_step FROM factors WHERE account = $1 ORDER BY created, id")
                        .bind(id.to_string())
                        .fetch_all(&p2),
                );
                black_box(rows.is_ok());
            }),
            lib: Box::new(move || {
                black_box(rt4.block_on(s2.factors(id)).is_ok());
            }),
            goal: None,
        },
        Pair {
            name: "store-sql: session by token hash (SQLite)",
            raw_name: "bare sqlx SELECT … JOIN accounts ON epoch",
            raw: Box::new(move || {
                let row = rt5.block_on(
                    sqlx::query("SELECT s.data, s.version, s.epoch FROM sessions s JOIN accounts a ON a.id = s.account WHERE s.token_hash = $1 AND s.epoch = a.session_epoch")
                        .bind(h1.as_str())
                        .fetch_optional(&p3),
                );
                black_box(row.is_ok());
            }),
            lib: Box::new(move || {
                black_box(rt6.block_on(s3.session_by_token(&h2)).is_ok());
            }),
            // Every signed-in request pays this: keep it at the bare query's cost.
            goal: Some(1.25),
        },
    ]
}
