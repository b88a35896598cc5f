//! Typed TOTP codes and imported otpauth URIs / base32 secrets: a value or a typed error,
//! never a panic; a code verifies only if it is the code of a step in the window.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use mfa_totp::{Profile, TotpCredential, TotpSecret, Window, import_uri};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(imported) = import_uri(input) {
        let _ = TotpCredential::new(imported.secret, imported.profile);
    }
    let _ = TotpSecret::from_base32(input);
    let Ok(secret) = TotpSecret::from_bytes(&[3; 20]) else { return };
    let c = TotpCredential::new(secret, Profile::DEFAULT);
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    if let Ok(step) = c.verify(input, now, Window::DEFAULT, None) {
        let code = c.code_at(UNIX_EPOCH + Duration::from_secs(step.0 * 30));
        let typed: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(typed == code.as_str() || !typed.is_ascii());
    }
});
