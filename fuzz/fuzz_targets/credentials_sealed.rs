//! Sealed blobs from an untrusted database row: arbitrary bytes never open (they would need
//! the key) and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_credentials::{KeyRing, SecretBytes, Sealer};

fuzz_target!(|data: &[u8]| {
    let Ok(ring) = KeyRing::new(1, SecretBytes::new(vec![7; 32])) else { return };
    let sealer = Sealer::new(&ring);
    let _ = sealer.needs_reseal(data);
    assert!(sealer.open(data, b"owner", "purpose").is_err());
});
