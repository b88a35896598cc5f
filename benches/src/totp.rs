//! `mfa-totp`: verifying a code (±1 step, from the secret's bytes as just unsealed, with the
//! replay check) beside the three HMAC-SHA-1 computations it cannot avoid (RustCrypto `hmac`
//! + `sha1`, the same implementation `totp-rs` uses), and beside `totp-rs`'s own `check`.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use mfa_totp::{Profile, TotpCredential, TotpSecret, Window};

use crate::harness::Pair;

const SECRET: [u8; 20] = *b"bench-totp-secret-20";
const T: u64 = 1_800_000_015;

fn three_hmacs() {
    for step in (T / 30 - 1)..=(T / 30 + 1) {
        let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(black_box(&SECRET)) else {
            return;
        };
        mac.update(&step.to_be_bytes());
        black_box(mac.finalize().into_bytes());
    }
}

pub(crate) fn pairs() -> Vec<Pair<'static>> {
    let now = UNIX_EPOCH + Duration::from_secs(T);
    let Ok(secret) = TotpSecret::from_bytes(&SECRET) else { return Vec::new() };
    let code = TotpCredential::new(secret, Profile::DEFAULT).code_at(now).to_string();
    let code2 = code.clone();
    let direct = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::new(SECRET.into()))
        .with_skew(1)
        .build_noncompliant();
    let code3 = code.clone();
    let ours = move |code: &str| {
        let Ok(secret) = TotpSecret::from_bytes(black_box(&SECRET)) else { return };
        let c = TotpCredential::new(secret, Profile::DEFAULT);
        black_box(c.verify(code, now, Window::DEFAULT, Some(T / 30 - 5)).ok());
    };
    vec![
        Pair {
            name: "totp: verify ±1 (secret in, replay check)",
            raw_name: "3 × HMAC-SHA1 (RustCrypto)",
            raw: Box::new(three_hmacs),
            lib: Box::new(move || ours(&code)),
            goal: Some(1.3),
        },
        Pair {
            name: "totp: verify ±1 (secret in, replay check)",
            raw_name: "totp-rs check, skew 1",
            raw: Box::new(move || {
                black_box(direct.check(&code2, T));
            }),
            lib: Box::new(move || ours(&code3)),
            goal: None,
        },
    ]
}
