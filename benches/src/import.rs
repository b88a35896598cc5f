//! `mfa-import`: one Auth0 record imported (parse, the bcrypt hash checked, a TOTP secret
//! sealed, the address and username looked up, the account and its two factors written in
//! one transaction) beside the bare store write of the same account and factors on the same
//! SQLite file. With `--import N`, a test-size run: N records streamed from an NDJSON file,
//! records per second beside N bare writes.

use std::cell::Cell;
use std::hint::black_box;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mfa_email_identity::ChangeMode;
use mfa_flow::{Account, AuthConfig, Factor, Store};
use mfa_import::{ImportOptions, import};
use mfa_store_sql::SqlStore;
use mfa_testkit::{TestEnv, conformance, seeded, test_auth_on};

use crate::harness::Pair;

fn record(n: u64) -> String {
    format!(
        r#"{{"email":"user{n}@example.com","email_verified":true,"username":"legacy_{n}","password_hash":"$2b$04$0WsJ8bk6AQcJzbnUzg1ThOHMrYjT42PZwN49Du.w8d0jPZsoQh6yG","mfa_factors":[{{"totp":{{"secret":"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}}}},{{"phone":{{"value":"+81312345678"}}}}]}}"#
    )
}

fn bare(n: u64) -> (Account, Vec<Factor>) {
    let n128 = u128::from(n);
    let a = conformance::account(1_000_000 + n128, &format!("bare{n}@example.com"), None);
    let factors = vec![
        conformance::totp_factor(10_000_000 + 2 * n128, a.id),
        conformance::sms_factor(10_000_001 + 2 * n128, a.id),
    ];
    (a, factors)
}

fn env(rt: &tokio::runtime::Runtime, name: &str) -> Option<TestEnv<SqlStore>> {
    let path = std::env::temp_dir().join(format!("mfa-bench-{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = rt.block_on(SqlStore::connect(&format!("sqlite://{}?mode=rwc", path.display())));
    Some(test_auth_on(store.ok()?, AuthConfig::new("Bench"), ChangeMode::Immediate, 9))
}

pub(crate) fn pairs() -> Vec<Pair<'static>> {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return Vec::new();
    };
    let rt = Arc::new(rt);
    let Some(e) = env(&rt, "import") else { return Vec::new() };
    let e = Arc::new(e);
    let (rt1, rt2, e1, e2) = (rt.clone(), rt, e.clone(), e);
    let next = Cell::new(0u64);
    let next_bare = Cell::new(0u64);
    let mut rng = seeded(5);
    vec![Pair {
        name: "import: one Auth0 record (account + TOTP + phone)",
        raw_name: "store: the same account + 2 factors written",
        raw: Box::new(move || {
            let n = next_bare.get();
            next_bare.set(n + 1);
            let (a, f) = bare(n);
            black_box(rt1.block_on(e1.auth.store().create_account_with_factors(&a, &f)).is_ok());
        }),
        lib: Box::new(move || {
            let n = next.get();
            next.set(n + 1);
            let r = record(n);
            let options = ImportOptions::default();
            let report = rt2.block_on(import(
                &e2.auth,
                r.as_bytes(),
                &options,
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
                &mut rng,
                |_| {},
            ));
            black_box(report.imported);
        }),
        goal: None,
    }]
}

/// The test-size run: `n` records from an NDJSON file beside `n` bare writes. Prints both
/// rates and their ratio; `None` if it could not run.
pub(crate) fn run_file(n: u64) -> Option<(f64, f64)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let e = env(&rt, "import-file")?;
    let path = std::env::temp_dir().join(format!("mfa-bench-users-{}.ndjson", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).ok()?);
    for i in 0..n {
        writeln!(file, "{}", record(i)).ok()?;
    }
    file.flush().ok()?;
    drop(file);
    let input = std::io::BufReader::new(std::fs::File::open(&path).ok()?);
    let started = Instant::now();
    let report = rt.block_on(import(
        &e.auth,
        input,
        &ImportOptions::default(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        &mut seeded(6),
        |_| {},
    ));
    let imported = started.elapsed();
    let _ = std::fs::remove_file(&path);
    if report.imported as u64 != n {
        println!("import: only {} of {n} imported: {report}", report.imported);
        return None;
    }
    let bare_env = env(&rt, "import-bare")?;
    let started = Instant::now();
    for i in 0..n {
        let (a, f) = bare(i);
        rt.block_on(bare_env.auth.store().create_account_with_factors(&a, &f)).ok()?;
    }
    let bare_time = started.elapsed();
    Some((n as f64 / imported.as_secs_f64(), n as f64 / bare_time.as_secs_f64()))
}
