//! Password hashing: reference fixtures, rehash decisions, peppers, bad input, properties.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mfa_credentials::{
    Error, HashFormatError, HashParams, ParamLimits, Password, PasswordHasher, Pepper,
    RehashReason, SecretBytes,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn pw(s: &str) -> Password {
    Password::new(s).unwrap()
}

fn fast() -> PasswordHasher {
    PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build().unwrap()
}

fn fixtures(name: &str) -> Vec<(String, String)> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (p, h) = l.split_once('\t').unwrap();
            (p.to_owned(), h.to_owned())
        })
        .collect()
}

/// PHC strings made by the C reference implementation (tests/fixtures/make-fixtures.sh)
/// verify here, and each one-bit change of password or hash does not.
#[test]
fn c_reference_hashes_verify() {
    let hasher = PasswordHasher::builder().build().unwrap(); // OWASP
    let rows = fixtures("argon2-c-reference.tsv");
    assert_eq!(rows.len(), 7);
    for (password, stored) in &rows {
        let v = hasher.verify(&pw(password), stored).unwrap_or_else(|e| panic!("{stored}: {e}"));
        let expected = if stored.starts_with("$argon2i$")
            || stored.starts_with("$argon2d$")
            || stored.contains("v=16")
        {
            Some(RehashReason::WeakerArgon2Variant)
        } else if stored.contains("m=19456,t=2") {
            None
        } else {
            Some(RehashReason::WeakerParams)
        };
        assert_eq!(v.rehash, expected, "{stored}");
        let mut wrong = password.clone();
        wrong.push('!');
        assert_eq!(hasher.verify(&pw(&wrong), stored), Err(Error::PasswordMismatch));
        // Flip one character of the hash output (the last field).
        let (head, out) = stored.rsplit_once('$').unwrap();
        let flipped: String = out
            .chars()
            .enumerate()
            .map(|(i, c)| if i == 3 { if c == 'A' { 'B' } else { 'A' } } else { c })
            .collect();
        assert_eq!(
            hasher.verify(&pw(password), &format!("{head}${flipped}")),
            Err(Error::PasswordMismatch)
        );
    }
}

/// Our output for the C reference's inputs is byte-for-byte the C reference's PHC string.
#[test]
fn our_phc_string_equals_the_c_reference() {
    let (password, stored) = &fixtures("argon2-c-reference.tsv")[0];
    let hasher = PasswordHasher::builder().build().unwrap();
    // The fixture's salt is "somesaltsomesalt"; feed the same 16 bytes as the "random" salt.
    struct Fixed;
    impl rand_core::TryRng for Fixed {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.copy_from_slice(&b"somesaltsomesalt"[..dst.len()]);
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Fixed {}
    assert_eq!(&hasher.hash(&pw(password), &mut Fixed).unwrap(), stored);
}

#[test]
fn bcrypt_imports_verify_and_always_ask_for_upgrade() {
    let hasher = fast();
    for (password, stored) in fixtures("bcrypt-reference.tsv") {
        let v = hasher.verify(&pw(&password), &stored).unwrap();
        assert_eq!(v.rehash, Some(RehashReason::LegacyAlgorithm), "{stored}");
        assert_eq!(hasher.needs_rehash(&stored), Ok(Some(RehashReason::LegacyAlgorithm)));
        assert_eq!(hasher.verify(&pw("not it"), &stored), Err(Error::PasswordMismatch));
    }
    // bcrypt reads 72 bytes: the 72-byte fixture with any suffix verifies, but is reported as
    // truncated (never to be rehashed as typed).
    let (long, stored) = fixtures("bcrypt-reference.tsv")
        .into_iter()
        .find(|(p, _)| p.len() == 72)
        .expect("a 72-byte fixture");
    assert_eq!(
        hasher.verify(&pw(&long), &stored).unwrap().rehash,
        Some(RehashReason::LegacyAlgorithm)
    );
    let v = hasher.verify(&pw(&format!("{long}anything at all")), &stored).unwrap();
    assert_eq!(v.rehash, Some(RehashReason::LegacyTruncated));
    // OpenBSD's published vector (also in every bcrypt implementation's tests).
    let openbsd = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    assert!(hasher.verify(&pw("U*U"), openbsd).is_ok());
}

#[test]
fn rehash_reasons() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let weak = fast().hash(&pw("pw-one-two"), &mut rng).unwrap();
    let stronger =
        PasswordHasher::builder().params(HashParams { m_kib: 128, t: 2, p: 1 }).build().unwrap();
    assert_eq!(
        stronger.verify(&pw("pw-one-two"), &weak).unwrap().rehash,
        Some(RehashReason::WeakerParams)
    );
    assert_eq!(fast().verify(&pw("pw-one-two"), &weak).unwrap().rehash, None);
    // Fewer lanes is not weaker.
    let p2 =
        PasswordHasher::builder().params(HashParams { m_kib: 64, t: 1, p: 2 }).build().unwrap();
    assert_eq!(p2.verify(&pw("pw-one-two"), &weak).unwrap().rehash, None);
}

fn pepper(id: &[u8], b: u8) -> Pepper {
    Pepper::new(id, SecretBytes::new(vec![b; 32])).unwrap()
}

#[test]
fn peppers_rotate() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let p = HashParams::DANGER_TEST_MINIMUM;
    let old = PasswordHasher::builder().params(p).pepper(pepper(b"p1", 1)).build().unwrap();
    let stored = old.hash(&pw("peppered pw"), &mut rng).unwrap();
    assert!(stored.contains(",keyid="), "{stored}");
    let new = PasswordHasher::builder()
        .params(p)
        .pepper(pepper(b"p2", 2))
        .old_pepper(pepper(b"p1", 1))
        .build()
        .unwrap();
    assert_eq!(
        new.verify(&pw("peppered pw"), &stored).unwrap().rehash,
        Some(RehashReason::PepperRotated)
    );
    let rehashed = new.hash(&pw("peppered pw"), &mut rng).unwrap();
    assert_eq!(new.verify(&pw("peppered pw"), &rehashed).unwrap().rehash, None);
    // Without the pepper the hash cannot be checked; with the wrong secret under that id it fails.
    assert_eq!(fast().verify(&pw("peppered pw"), &stored), Err(Error::UnknownPepper));
    let impostor = PasswordHasher::builder().params(p).pepper(pepper(b"p1", 9)).build().unwrap();
    assert_eq!(impostor.verify(&pw("peppered pw"), &stored), Err(Error::PasswordMismatch));
    // An unpeppered hash under a peppered hasher verifies and asks for the pepper.
    let plain = fast().hash(&pw("plain pw"), &mut rng).unwrap();
    assert_eq!(
        new.verify(&pw("plain pw"), &plain).unwrap().rehash,
        Some(RehashReason::PepperRotated)
    );
    // Duplicate ids and bad ids are refused when building.
    assert!(
        PasswordHasher::builder()
            .pepper(pepper(b"p1", 1))
            .old_pepper(pepper(b"p1", 2))
            .build()
            .is_err()
    );
    assert_eq!(Pepper::new(b"", SecretBytes::new(vec![0; 32])).err(), Some(Error::InvalidKey));
    assert_eq!(
        Pepper::new(b"123456789", SecretBytes::new(vec![0; 32])).err(),
        Some(Error::InvalidKey)
    );
    assert_eq!(Pepper::new(b"p", SecretBytes::new(vec![0; 8])).err(), Some(Error::InvalidKey));
    assert!(!format!("{:?}", pepper(b"p1", 0x41)).contains("65"));
}

#[test]
fn unknown_account_answers_like_a_wrong_password() {
    let hasher = fast();
    let stored = hasher.hash(&pw("the right one"), &mut ChaCha20Rng::from_seed([4; 32])).unwrap();
    // The same answer …
    let before = hasher.work();
    assert_eq!(hasher.verify(&pw("anything"), &stored), Err(Error::PasswordMismatch));
    let wrong = hasher.work() - before;
    let before = hasher.work();
    assert_eq!(hasher.verify_unknown_account(&pw("anything")), Err(Error::PasswordMismatch));
    let unknown = hasher.work() - before;
    // … for the same work: one argon2 run at the current parameters, counted, not timed.
    assert_eq!(wrong, unknown);
    assert_eq!(unknown.runs, 1);
    assert_eq!(unknown.kib_passes, 64);
}

#[test]
fn malformed_and_hostile_stored_hashes_are_typed_errors() {
    let h = fast();
    let p = pw("password");
    let malformed = |k| Err(Error::MalformedHash(k));
    let cases: &[(&str, Result<mfa_credentials::Verified, Error>)] = &[
        ("", malformed(HashFormatError::Syntax)),
        ("plaintext", malformed(HashFormatError::Syntax)),
        ("$", malformed(HashFormatError::Syntax)),
        ("$argon2id", malformed(HashFormatError::Params)),
        ("$argon2id$v=19$m=19456,t=2,p=1", malformed(HashFormatError::Salt)),
        (
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA",
            malformed(HashFormatError::Output),
        ),
        (
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            malformed(HashFormatError::Syntax),
        ),
        (
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAA",
            Err(Error::MalformedHash(HashFormatError::Syntax)),
        ),
        (
            "$argon2id$v=20$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            malformed(HashFormatError::Version),
        ),
        (
            "$argon2id$v=19$m=x,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            malformed(HashFormatError::Params),
        ),
        (
            "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            Err(Error::ParamsOutOfBounds),
        ),
        // A duplicate: argon2 would use the last (4 GiB) while a check of the first passes.
        (
            "$argon2id$v=19$m=64,t=1,p=1,m=4194304$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            malformed(HashFormatError::Params),
        ),
        (
            "$argon2id$v=19$t=1,m=64,p=1,t=4000000000$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            malformed(HashFormatError::Params),
        ),
        // An unknown parameter.
        (
            "$argon2id$v=19$m=64,t=1,p=1,x=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            malformed(HashFormatError::Params),
        ),
        (
            "$argon2id$v=19$m=19456,t=4000000000,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            Err(Error::ParamsOutOfBounds),
        ),
        (
            "$argon2id$v=19$m=19456,t=2,p=255$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            Err(Error::ParamsOutOfBounds),
        ),
        (
            "$argon2id$v=19$m=1,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            malformed(HashFormatError::Params),
        ),
        (
            "$argon2id$v=19$t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE",
            malformed(HashFormatError::Params),
        ),
        (
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            Err(Error::UnsupportedAlgorithm),
        ),
        (
            "$pbkdf2-sha256$i=29000,l=32$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            Err(Error::UnsupportedAlgorithm),
        ),
        ("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", Err(Error::UnsupportedAlgorithm)),
        (
            "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            Err(Error::UnsupportedAlgorithm),
        ),
        (
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
            malformed(HashFormatError::Syntax),
        ),
        (
            "$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWW",
            malformed(HashFormatError::Syntax),
        ),
        (
            "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            malformed(HashFormatError::Params),
        ),
        (
            "$2a$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            Err(Error::ParamsOutOfBounds),
        ),
        (
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!",
            malformed(HashFormatError::Syntax),
        ),
    ];
    for (stored, expected) in cases {
        assert_eq!(&h.verify(&p, stored), expected, "{stored:?}");
    }
    // A hash with a pepper key id nobody configured.
    let unknown = "$argon2id$v=19$m=64,t=1,p=1,keyid=cDk$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE";
    assert_eq!(h.verify(&p, unknown), Err(Error::UnknownPepper));
    // Limits are configurable.
    let strict = PasswordHasher::builder()
        .params(HashParams::DANGER_TEST_MINIMUM)
        .limits(ParamLimits { max_m_kib: 1024, ..ParamLimits::default() })
        .build()
        .unwrap();
    let c_ref = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE";
    assert_eq!(strict.verify(&pw("password"), c_ref), Err(Error::ParamsOutOfBounds));
    // Params beyond the limits cannot be configured either.
    assert!(
        PasswordHasher::builder()
            .params(HashParams { m_kib: 4 << 20, t: 2, p: 1 })
            .build()
            .is_err()
    );
    assert!(PasswordHasher::builder().params(HashParams { m_kib: 1, t: 1, p: 1 }).build().is_err());
}

#[test]
fn password_input_bounds() {
    assert_eq!(Password::new("").err(), Some(Error::PasswordEmpty));
    let mib = "a".repeat(1 << 20);
    assert_eq!(Password::new(&mib).err(), Some(Error::PasswordTooLong { max: 1024 }));
    assert!(Password::new(&"a".repeat(1024)).is_ok());
    assert!(Password::new(&"a".repeat(1025)).is_err());
    assert_eq!(format!("{:?}", pw("hunter2")), "Password([REDACTED])");
}

/// The same password typed in two Unicode forms verifies (NFKC before hashing).
#[test]
fn normalization_before_hashing() {
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let h = fast();
    let stored = h.hash(&pw("Ｐａｓｓ ﬁle é"), &mut rng).unwrap(); // fullwidth, ligature, composed é
    assert!(h.verify(&pw("Pass file e\u{301}"), &stored).is_ok()); // ASCII, decomposed é
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn round_trip_and_different_password_never_verifies(a in "\\PC{1,40}", b in "\\PC{1,40}", seed: [u8; 32]) {
        let h = fast();
        let mut rng = ChaCha20Rng::from_seed(seed);
        let stored = h.hash(&pw(&a), &mut rng).unwrap();
        prop_assert!(h.verify(&pw(&a), &stored).is_ok());
        if pw(&a).expose_normalized() != pw(&b).expose_normalized() {
            prop_assert_eq!(h.verify(&pw(&b), &stored), Err(Error::PasswordMismatch));
        }
    }

    /// Any stored string is a typed refusal — never a panic, never a success for a password
    /// nobody hashed.
    #[test]
    fn arbitrary_stored_strings_never_panic(s in "\\PC{0,120}", t in "\\$(argon2(id|i|d)|2[abxy])\\$[ -~]{0,100}") {
        let h = fast();
        for stored in [&s, &t] {
            let r = h.verify(&pw("x"), stored);
            prop_assert!(
                matches!(
                    r,
                    Err(Error::MalformedHash(_)
                        | Error::UnsupportedAlgorithm
                        | Error::ParamsOutOfBounds
                        | Error::UnknownPepper
                        | Error::PasswordMismatch)
                ),
                "{stored:?}: {r:?}"
            );
        }
        if let Err(e) = h.needs_rehash(&t) {
            prop_assert!(
                matches!(e, Error::MalformedHash(_) | Error::UnsupportedAlgorithm | Error::ParamsOutOfBounds | Error::UnknownPepper),
                "{t:?}: {e:?}"
            );
        }
    }
}

/// The hasher's one reusable buffer: concurrent calls that find it busy use their own, and
/// every result is right (the buffer is wiped and reused, never shared mid-hash).
#[test]
fn concurrent_direct_calls_share_the_spare_buffer_safely() {
    let hasher = std::sync::Arc::new(
        PasswordHasher::builder().params(HashParams { m_kib: 256, t: 1, p: 1 }).build().unwrap(),
    );
    let threads: Vec<_> = (0..8u8)
        .map(|i| {
            let h = std::sync::Arc::clone(&hasher);
            std::thread::spawn(move || {
                let mut rng = ChaCha20Rng::from_seed([i; 32]);
                let pw = Password::new(&format!("password {i}")).unwrap();
                for _ in 0..5 {
                    let stored = h.hash(&pw, &mut rng).unwrap();
                    assert!(h.verify(&pw, &stored).is_ok());
                    assert!(h.verify(&Password::new("other").unwrap(), &stored).is_err());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
