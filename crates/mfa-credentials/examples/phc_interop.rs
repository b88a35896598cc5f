//! Interoperability driver for the extended CI suite (`.ci/interop/credentials.py`).
//!
//! - `phc_interop make N SEED`: prints N lines `password<TAB>phc` hashed here (OWASP
//!   parameters, a seeded generator so a failure can be replayed).
//! - `phc_interop verify`: reads `password<TAB>phc` lines made elsewhere on stdin and verifies
//!   each; prints `ok N` or the failing line number and exits 1.
//! - `phc_interop cost N`: verifies one OWASP-parameter hash N times on this thread and
//!   prints the median seconds of one (the raw cost the load test's login ceiling is built
//!   from: cores ÷ this).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::BufRead;

use mfa_credentials::{Password, PasswordHasher};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hasher = PasswordHasher::builder().build()?;
    match args.first().map(String::as_str) {
        Some("make") => {
            let n: usize = args.get(1).map_or(Ok(10), |s| s.parse())?;
            let seed: u64 = args.get(2).map_or(Ok(1), |s| s.parse())?;
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let alphabet: Vec<char> = "abcXYZ019 !#-_パスワード日本éü".chars().collect();
            for _ in 0..n {
                let len = 8 + (rng.next_u32() % 24) as usize;
                let pw: String = (0..len)
                    .map(|_| alphabet[(rng.next_u32() as usize) % alphabet.len()])
                    .collect();
                let pw = pw.trim().to_owned() + "x";
                println!("{pw}\t{}", hasher.hash(&Password::new(&pw)?, &mut rng)?);
            }
        }
        Some("verify") => {
            let mut n = 0;
            for (i, line) in std::io::stdin().lock().lines().enumerate() {
                let line = line?;
                let Some((pw, phc)) = line.split_once('\t') else { continue };
                if let Err(e) = hasher.verify(&Password::new(pw)?, phc) {
                    println!("line {}: {e}", i + 1);
                    std::process::exit(1);
                }
                n += 1;
            }
            println!("ok {n}");
        }
        Some("cost") => {
            let n: usize = args.get(1).map_or(Ok(15), |s| s.parse())?;
            let mut rng = ChaCha20Rng::seed_from_u64(7);
            let pw = Password::new("correct horse battery staple")?;
            let phc = hasher.hash(&pw, &mut rng)?;
            let mut times: Vec<f64> = (0..n.max(1))
                .map(|_| {
                    #[allow(clippy::disallowed_methods)] // Measuring is the point here.
                    let t = std::time::Instant::now();
                    let ok = hasher.verify(&pw, &phc).is_ok();
                    assert!(ok, "the hash made here verifies");
                    t.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!("{:.6}", times[times.len() / 2]);
        }
        _ => {
            eprintln!("usage: phc_interop make N SEED | phc_interop verify | phc_interop cost N");
            std::process::exit(2);
        }
    }
    Ok(())
}
