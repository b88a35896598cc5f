//! `mfa-credentials`: argon2id hash and verify beside argon2's raw `hash_password_into` with
//! the same parameters (and the C reference, with the `c-reference` feature); consuming a
//! recovery code beside one argon2id hash; the hashing pool's memory under a burst.

use std::sync::{Arc, Barrier};

use argon2::{Algorithm, Argon2, Params, Version};
use mfa_credentials::{
    HashParams, HashingPool, KeyRing, Password, PasswordHasher, PoolConfig, RecoveryCodes,
    SecretBytes,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::harness::{Op, Pair};

const PW: &str = "correct horse battery staple";
const SALT: [u8; 16] = *b"bench-salt-16byt";

fn raw_argon2() -> Op<'static> {
    let ctx = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default());
    Box::new(move || {
        let mut out = [0u8; 32];
        let r = ctx.hash_password_into(PW.as_bytes(), &SALT, &mut out);
        std::hint::black_box((r.is_ok(), out));
    })
}

pub(crate) fn pairs() -> Vec<Pair<'static>> {
    let Ok(hasher) = PasswordHasher::builder().params(HashParams::OWASP).build() else {
        return Vec::new();
    };
    let hasher = Arc::new(hasher);
    let Ok(password) = Password::new(PW) else { return Vec::new() };
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let stored = hasher.hash(&password, &mut rng).unwrap_or_default();

    let (h1, p1) = (Arc::clone(&hasher), password.clone());
    let (h2, p2, s2) = (Arc::clone(&hasher), password.clone(), stored.clone());
    let (h3, p3) = (Arc::clone(&hasher), password.clone());
    let pool = PasswordHasher::builder().params(HashParams::OWASP).build().ok().and_then(|h| {
        HashingPool::new(h, PoolConfig { queue: 4, ..PoolConfig::with_workers(1) }).ok()
    });
    let (p4, s4) = (password.clone(), stored.clone());
    let mut v = vec![
        Pair {
            name: "credentials: hash (OWASP argon2id, PHC out)",
            raw_name: "argon2 hash_password_into",
            raw: raw_argon2(),
            lib: Box::new(move || {
                std::hint::black_box(h1.hash(&p1, &mut rng).ok());
            }),
            goal: Some(1.05),
        },
        Pair {
            name: "credentials: verify (PHC in, rehash check)",
            raw_name: "argon2 hash_password_into",
            raw: raw_argon2(),
            lib: Box::new(move || {
                std::hint::black_box(h2.verify(&p2, &s2).ok());
            }),
            goal: Some(1.05),
        },
        Pair {
            name: "credentials: verify unknown account (dummy)",
            raw_name: "argon2 hash_password_into",
            raw: raw_argon2(),
            lib: Box::new(move || {
                std::hint::black_box(h3.verify_unknown_account(&p3).ok());
            }),
            goal: Some(1.05),
        },
    ];
    if let Some(pool) = pool {
        v.push(Pair {
            name: "credentials: verify via pool (owned buffer)",
            raw_name: "argon2 hash_password_into",
            raw: raw_argon2(),
            lib: Box::new(move || {
                let r = pool.verify(p4.clone(), s4.clone()).and_then(|p| p.wait());
                std::hint::black_box(r.ok());
            }),
            goal: Some(1.05),
        });
    }
    // Consuming a recovery code: the slot character picks one stored argon2id hash (of the
    // code's keyed tag); the whole consume is that one verification and some parsing.
    let keys = KeyRing::new(1, SecretBytes::new(vec![7; 32])).ok();
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    if let Some((codes, (shown, set))) = keys.map(|k| RecoveryCodes::new(&k)).and_then(|c| {
        let made = c.generate_with(&hasher, 10, &mut rng).ok()?;
        Some((c, made))
    }) {
        let h6 = Arc::clone(&hasher);
        let code = shown[3].expose_secret().to_owned();
        v.push(Pair {
            name: "credentials: consume a recovery code (one argon2id verify)",
            raw_name: "argon2 hash_password_into",
            raw: raw_argon2(),
            lib: Box::new(move || {
                let mut fresh = set.clone();
                std::hint::black_box(codes.consume_with(&h6, &mut fresh, &code).ok());
            }),
            goal: Some(1.05),
        });
    }
    #[cfg(feature = "c-reference")]
    {
        let (h5, p5) = (Arc::clone(&hasher), password);
        v.push(Pair {
            name: "credentials: verify vs C reference",
            raw_name: "C argon2 (phc-winner, opt.c)",
            raw: Box::new(|| {
                let h = argon2_kdf::Hasher::new()
                    .algorithm(argon2_kdf::Algorithm::Argon2id)
                    .custom_salt(&SALT)
                    .hash_length(32)
                    .iterations(2)
                    .memory_cost_kib(19456)
                    .threads(1)
                    .hash(PW.as_bytes());
                std::hint::black_box(h.is_ok());
            }),
            lib: Box::new(move || {
                std::hint::black_box(h5.verify(&p5, &stored).ok());
            }),
            goal: Some(1.1),
        });
    }
    v
}

/// Resident-set growth under a burst of 100 concurrent requests on a pool of `workers`.
/// Returns (growth in bytes, limit in bytes).
///
/// The peak is the kernel's high-water mark, reset just before the burst (`clear_refs` 5):
/// without the reset it would still hold the peak of the benchmarks that ran earlier in this
/// process, and the growth would be theirs, not the pool's.
pub(crate) fn rss_burst(workers: usize) -> Option<(u64, u64)> {
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        println!("pool burst: cannot reset the peak RSS here; the figure includes earlier runs");
    }
    let before = status_kib("VmRSS:")?;
    let hasher = PasswordHasher::builder().params(HashParams::OWASP).build().ok()?;
    let pool = Arc::new(
        HashingPool::new(hasher, PoolConfig { queue: 100, ..PoolConfig::with_workers(workers) })
            .ok()?,
    );
    let start = Arc::new(Barrier::new(100));
    let threads: Vec<_> = (0..100u8)
        .map(|i| {
            let (pool, start) = (Arc::clone(&pool), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let pw = Password::new(&format!("burst password {i}")).ok()?;
                pool.hash(pw, [i; 16]).ok()?.wait().ok()
            })
        })
        .collect();
    let done = threads.into_iter().filter_map(|t| t.join().ok().flatten()).count();
    let peak = status_kib("VmHWM:")?;
    println!(
        "pool burst: {done}/100 hashed with {workers} workers; peak RSS {} MiB, {} MiB before",
        peak / 1024,
        before / 1024
    );
    let growth = (peak.saturating_sub(before)) * 1024;
    let limit = (workers as u64) * 19 * 1024 * 1024 + 32 * 1024 * 1024;
    Some((growth, limit))
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
