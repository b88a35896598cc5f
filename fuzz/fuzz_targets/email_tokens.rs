//! Link tokens, stored ceremony state and typed email codes from untrusted sources: never a
//! panic, never a success for input that was not issued.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use mfa_email_identity::{EmailChangeState, EmailCodeIssuer, TokenHash};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let _ = serde_json::from_str::<EmailChangeState>(input);
    let _ = TokenHash::try_from(input.to_owned());
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let Ok(issuer) = EmailCodeIssuer::new(&[7; 32]) else { return };
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let (code, mut pending) = issuer.issue("acct", now, &mut rng);
    let ok = issuer.verify("acct", &mut pending, input, now).is_ok();
    if ok {
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        // Only the issued code (possibly full-width or spaced) verifies.
        assert!(digits == code.expose_secret() || input.chars().any(|c| !c.is_ascii()));
    }
});
