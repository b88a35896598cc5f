//! `mfa-bench`: every library operation beside the raw primitive under it, interleaved in one
//! process, with the ratio. Absolute times on shared machines drift by 30 % between runs;
//! same-run ratios do not.
//!
//! ```text
//! cargo run --release -p mfa-benches -- [--quick] [--check] [--only NAME] [--rss]
//! ```
//! - `--quick`: few rounds (CI).
//! - `--check`: exit 1 when a ratio exceeds its goal by more than 15 %, or the pool's memory
//!   growth under a burst exceeds its bound.
//! - `--only NAME`: pairs whose name contains NAME.
//! - `--rss`: also run the hashing pool's memory burst (100 requests, 2 workers).
//! - `--import [N]`: also import N Auth0 records (default 100,000) from an NDJSON file,
//!   records per second beside N bare store writes.
#![forbid(unsafe_code)]
// A benchmark reads the clock; the libraries it measures do not.
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout)]

mod credentials;
mod email;
mod flow;
mod harness;
mod import;
mod push;
mod store;
mod totp;
mod webauthn;

use std::time::Duration;

use harness::{Settings, run};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |f: &str| args.iter().any(|a| a == f);
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    let settings = if has("--quick") {
        Settings { rounds: 11, batch_time: Duration::from_millis(20) }
    } else {
        Settings { rounds: 31, batch_time: Duration::from_millis(60) }
    };
    println!(
        "mfa-bench: {} rounds, interleaved; time per operation, median (p25, p75)",
        settings.rounds
    );
    let mut failed = Vec::new();
    let mut pairs = credentials::pairs();
    pairs.extend(email::pairs());
    pairs.extend(totp::pairs());
    pairs.extend(webauthn::pairs());
    pairs.extend(push::pairs());
    pairs.extend(flow::pairs());
    pairs.extend(store::pairs());
    pairs.extend(import::pairs());
    for pair in pairs {
        if only.as_deref().is_some_and(|o| !pair.name.contains(o)) {
            continue;
        }
        let out = run(pair, settings);
        if let Some(goal) = out.goal
            && out.ratio > goal * 1.15
        {
            failed.push(format!("{}: {:.3}× > goal {goal:.2}× + 15 %", out.name, out.ratio));
        }
    }
    if let Some(n) = args
        .iter()
        .position(|a| a == "--import")
        .map(|i| args.get(i + 1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(100_000))
    {
        match import::run_file(n) {
            Some((records, bare)) => println!(
                "import: {n} records at {records:.0} records/s | bare writes {bare:.0}/s | ratio {:.2}× the time",
                bare / records
            ),
            None => failed.push("the import run could not be measured".into()),
        }
    }
    if has("--rss") {
        match credentials::rss_burst(2) {
            Some((growth, limit)) => {
                println!(
                    "pool burst RSS growth: {:.1} MiB (bound N × 19 MiB + 32 MiB = {:.1} MiB)",
                    mib(growth),
                    mib(limit)
                );
                if growth > limit {
                    failed.push(format!(
                        "pool RSS growth {:.1} MiB > {:.1} MiB",
                        mib(growth),
                        mib(limit)
                    ));
                }
            }
            None => failed.push("pool burst could not be measured (/proc/self/status)".into()),
        }
    }
    if has("--check") && !failed.is_empty() {
        for f in &failed {
            println!("CHECK FAILED: {f}");
        }
        std::process::exit(1);
    }
}

#[allow(clippy::cast_precision_loss)]
fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}
