//! Recovery-code input and stored recovery-code sets: typed errors, never a panic; a code
//! consumed from a parsed set is never accepted twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_credentials::recovery::{normalize, normalize_legacy};
use mfa_credentials::{
    Error, HashParams, KeyRing, PasswordHasher, RecoveryCodeSet, RecoveryCodes, SecretBytes,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = normalize(text);
    let _ = normalize_legacy(text);
    let (set_text, input) = text.split_once('\n').unwrap_or((text, text));
    let Ok(mut set) = RecoveryCodeSet::from_stored(set_text) else { return };
    assert_eq!(RecoveryCodeSet::from_stored(&set.to_stored()).as_ref(), Ok(&set));
    let Ok(ring) = KeyRing::new(set.key_id(), SecretBytes::new(vec![7; 32])) else { return };
    let codes = RecoveryCodes::new(&ring);
    let Ok(hasher) = PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build() else { return };
    if codes.consume_with(&hasher, &mut set, input).is_ok() {
        assert_eq!(codes.consume_with(&hasher, &mut set, input), Err(Error::RecoveryCodeUsed));
    }
});
