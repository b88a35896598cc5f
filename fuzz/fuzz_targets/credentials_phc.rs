//! Stored password hashes (PHC and bcrypt strings) from an untrusted database row: any input
//! gives a typed answer, never a panic, and never a success for a password that was not used.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_credentials::{HashParams, ParamLimits, Password, PasswordHasher};

fuzz_target!(|data: &[u8]| {
    let Ok(stored) = std::str::from_utf8(data) else { return };
    // Small limits keep each run fast; the parser is what is under test.
    let limits = ParamLimits { max_m_kib: 256, max_t: 2, max_p: 2, max_bcrypt_cost: 5 };
    let Ok(hasher) =
        PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).limits(limits).build()
    else {
        return;
    };
    let _ = hasher.needs_rehash(stored);
    if let Ok(pw) = Password::new("fuzz-password") {
        let _ = hasher.verify(&pw, stored);
    }
});
