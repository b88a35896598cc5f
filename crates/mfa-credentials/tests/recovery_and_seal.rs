//! Recovery codes and sealed secrets: single use, tampering, wrong owner, key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mfa_credentials::recovery::{ALPHABET, CODE_LEN, normalize, normalize_legacy};
use mfa_credentials::{
    Check, Error, HashParams, KeyRing, PasswordHasher, RecoveryCodeSet, RecoveryCodes, Sealer,
    SecretBytes,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn ring(id: u32, b: u8) -> KeyRing {
    KeyRing::new(id, SecretBytes::new(vec![b; 32])).unwrap()
}

fn hasher() -> PasswordHasher {
    PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build().unwrap()
}

#[test]
fn codes_have_the_promised_shape() {
    let codes = RecoveryCodes::new(&ring(1, 1));
    let (shown, set) =
        codes.generate_with(&hasher(), 10, &mut ChaCha20Rng::from_seed([1; 32])).unwrap();
    assert_eq!(shown.len(), 10);
    assert_eq!(set.remaining(), 10);
    for (i, c) in shown.iter().enumerate() {
        let s = c.expose_secret();
        assert_eq!(s.len(), 17, "{s}");
        assert_eq!((&s[5..6], &s[11..12]), ("-", "-"));
        assert!(s.bytes().filter(|b| *b != b'-').all(|b| ALPHABET.contains(&b)));
        assert!(!s.contains(['i', 'l', 'o', 'u']));
        assert_eq!(s.as_bytes()[0], ALPHABET[i], "the first character names the slot");
    }
    // 14 random symbols of a 32-letter alphabet: 70 bits (SP 800-63B-4 asks for 64).
    assert_eq!(ALPHABET.len(), 32);
    const { assert!((CODE_LEN - 1) * 5 >= 64) };
    // Stored as salted password hashes (argon2id), one per code: no code, no bare tag.
    let stored = set.to_stored();
    assert!(stored.starts_with("rc2$1$$argon2id$"), "{stored}");
    assert_eq!(stored.matches("$argon2id$").count(), 10);
    for c in &shown {
        assert!(!stored.contains(c.expose_secret()));
        assert!(!stored.contains(&c.expose_secret().replace('-', "")));
    }
    assert_eq!(format!("{:?}", shown[0]), "RecoveryCode([REDACTED])");
    assert!(!format!("{set:?}").contains(&shown[0].expose_secret()[..5]));
}

#[test]
fn input_is_forgiving_but_strict_about_length_and_alphabet() {
    assert_eq!(normalize("K7P3X-9M2QD-4FWZA"), normalize("k7p3x9m2qd4fwza"));
    assert_eq!(normalize(" k7p3x 9m2qd 4fwza "), normalize("k7p3x-9m2qd-4fwza"));
    assert_eq!(normalize("o1l00-00000-00000"), normalize("01100-00000-00000"), "o→0, l→1");
    assert_eq!(normalize("I0000-00000-00000"), normalize("10000-00000-00000"));
    for bad in [
        "",
        "k7p3x",
        "k7p3x-9m2qd",
        "k7p3x-9m2qd-4fwza-1",
        "k7p3x-9m2qd-4fwzu",
        "k7p3x_9m2qd_4fwza",
        "ｋ7p3x-9m2qd-4fwza",
        "k7p3x-9m2qd-4fwz\u{0}",
    ] {
        assert_eq!(normalize(bad), Err(Error::RecoveryCodeMalformed), "{bad:?}");
    }
    assert_eq!(normalize_legacy("K7P3X-9M2QD"), normalize_legacy("k7p3x9m2qd"));
    assert_eq!(normalize_legacy("k7p3x-9m2qd-4fwza"), Err(Error::RecoveryCodeMalformed));
}

#[test]
fn consume_returns_which_and_how_many_and_never_twice() {
    let codes = RecoveryCodes::new(&ring(1, 1));
    let h = hasher();
    let (shown, mut set) =
        codes.generate_with(&h, 10, &mut ChaCha20Rng::from_seed([2; 32])).unwrap();
    for (i, c) in shown.iter().enumerate().rev() {
        let got = codes.consume_with(&h, &mut set, c.expose_secret()).unwrap();
        assert_eq!(got.index, i);
        assert_eq!(got.remaining, i);
        assert_eq!(
            codes.consume_with(&h, &mut set, c.expose_secret()),
            Err(Error::RecoveryCodeUsed)
        );
    }
    assert_eq!(set.remaining(), 0);
    assert_eq!(
        codes.consume_with(&h, &mut set, "a0000-00000-00000"),
        Err(Error::RecoveryCodeInvalid)
    );
}

/// One verification is one hash: the slot character picks the hash; a wrong code in a live
/// slot costs that one hash and is refused; a code naming a used or absent slot costs none.
#[test]
fn a_code_is_checked_against_one_hash_only() {
    let codes = RecoveryCodes::new(&ring(1, 1));
    let h = hasher();
    let (shown, mut set) =
        codes.generate_with(&h, 10, &mut ChaCha20Rng::from_seed([8; 32])).unwrap();
    let stored = set.to_stored();
    let hashes: Vec<&str> = stored.splitn(3, '$').nth(2).unwrap().split(';').collect();
    match codes.check(&set, shown[6].expose_secret()).unwrap() {
        Check::Verify { index, stored, .. } => assert_eq!((index, stored.as_str()), (6, hashes[6])),
        other => panic!("{other:?}"),
    }
    // Another code's random part under slot 6's character: the one hash refuses it.
    let mut forged = shown[7].expose_secret().to_owned();
    forged.replace_range(0..1, "6");
    assert_eq!(codes.consume_with(&h, &mut set, &forged), Err(Error::RecoveryCodeInvalid));
    assert_eq!(set.remaining(), 10, "a refused code marks nothing");
    codes.consume_with(&h, &mut set, shown[6].expose_secret()).unwrap();
    assert!(matches!(codes.check(&set, shown[6].expose_secret()), Err(Error::RecoveryCodeUsed)));
    // Slot "z" (31) does not exist in a set of ten.
    assert_eq!(codes.check(&set, "z0000-00000-00000").err(), Some(Error::RecoveryCodeInvalid));
}

#[test]
fn stored_form_round_trips_and_keeps_used_marks() {
    let codes = RecoveryCodes::new(&ring(7, 1));
    let h = hasher();
    let (shown, mut set) =
        codes.generate_with(&h, 10, &mut ChaCha20Rng::from_seed([3; 32])).unwrap();
    codes.consume_with(&h, &mut set, shown[4].expose_secret()).unwrap();
    let mut back = RecoveryCodeSet::from_stored(&set.to_stored()).unwrap();
    assert_eq!(back, set);
    assert_eq!(back.key_id(), 7);
    assert!(!back.is_legacy());
    assert_eq!(
        codes.consume_with(&h, &mut back, shown[4].expose_secret()),
        Err(Error::RecoveryCodeUsed)
    );
    assert!(codes.consume_with(&h, &mut back, shown[5].expose_secret()).is_ok());
    for bad in [
        "",
        "rc1",
        "rc3$1$x",
        "rc2$1$",
        "rc2$1$;",
        "rc2$1$notahash",
        "rc2$x$!",
        "rc1$x$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
        "rc1$1$short$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "rc1$1$AAAAAAAAAAAAAAAAAAAAAA$",
        "rc1$99999999999$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "rc1$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$extra",
    ] {
        assert_eq!(
            RecoveryCodeSet::from_stored(bad),
            Err(Error::RecoveryCodeSetMalformed),
            "{bad:?}"
        );
    }
    let too_many = format!("rc2$1${}", vec!["!"; 33].join(";"));
    assert_eq!(RecoveryCodeSet::from_stored(&too_many), Err(Error::RecoveryCodeSetMalformed));
}

/// Sets stored by earlier versions (`rc1$`, 10-character codes) keep working.
#[test]
fn sets_of_the_earlier_version_still_verify() {
    let codes = RecoveryCodes::new(&ring(1, 1));
    let h = hasher();
    let (shown, set) = codes.generate_legacy(10, &mut ChaCha20Rng::from_seed([9; 32]));
    let mut set = RecoveryCodeSet::from_stored(&set.to_stored()).unwrap();
    assert!(set.is_legacy());
    assert_eq!(shown[0].expose_secret().len(), 11);
    assert_eq!(codes.consume_with(&h, &mut set, shown[2].expose_secret()).unwrap().index, 2);
    assert_eq!(
        codes.consume_with(&h, &mut set, shown[2].expose_secret()),
        Err(Error::RecoveryCodeUsed)
    );
    assert_eq!(codes.consume_with(&h, &mut set, "00000-00000"), Err(Error::RecoveryCodeInvalid));
    assert!(
        RecoveryCodeSet::from_stored(&set.to_stored()).unwrap().to_stored().starts_with("rc1$")
    );
}

#[test]
fn codes_need_the_server_key() {
    let h = hasher();
    let (shown, mut set) = RecoveryCodes::new(&ring(1, 1))
        .generate_with(&h, 3, &mut ChaCha20Rng::from_seed([4; 32]))
        .unwrap();
    let other = RecoveryCodes::new(&ring(1, 2));
    assert_eq!(
        other.consume_with(&h, &mut set, shown[0].expose_secret()),
        Err(Error::RecoveryCodeInvalid)
    );
    let missing = RecoveryCodes::new(&ring(2, 1));
    assert_eq!(
        missing.consume_with(&h, &mut set, shown[0].expose_secret()),
        Err(Error::UnknownKeyId)
    );
    // After rotation the old key still checks old sets.
    let rotated =
        RecoveryCodes::new(&ring(2, 9).with_old_key(1, SecretBytes::new(vec![1; 32])).unwrap());
    assert!(rotated.consume_with(&h, &mut set, shown[0].expose_secret()).is_ok());
}

#[test]
fn seal_binds_owner_purpose_and_key() {
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let s = Sealer::new(&ring(1, 1));
    let blob = s.seal(b"JBSWY3DPEHPK3PXP", b"acct-1", "totp", &mut rng).unwrap();
    assert_eq!(blob.len(), 1 + 4 + 12 + 16 + 16);
    assert_eq!(s.open(&blob, b"acct-1", "totp").unwrap().expose_secret(), b"JBSWY3DPEHPK3PXP");
    assert_eq!(s.open(&blob, b"acct-2", "totp").err(), Some(Error::SealOpenFailed));
    assert_eq!(s.open(&blob, b"acct-1", "push").err(), Some(Error::SealOpenFailed));
    // Two seals of one secret differ (fresh nonce).
    assert_ne!(blob, s.seal(b"JBSWY3DPEHPK3PXP", b"acct-1", "totp", &mut rng).unwrap());
    // Rotation: a new ring opens old blobs and reports them for re-sealing.
    let rotated = Sealer::new(&ring(2, 2).with_old_key(1, SecretBytes::new(vec![1; 32])).unwrap());
    assert_eq!(rotated.needs_reseal(&blob), Ok(true));
    assert!(rotated.open(&blob, b"acct-1", "totp").is_ok());
    let fresh = rotated.seal(b"x", b"acct-1", "totp", &mut rng).unwrap();
    assert_eq!(rotated.needs_reseal(&fresh), Ok(false));
    assert_eq!(s.open(&fresh, b"acct-1", "totp").err(), Some(Error::UnknownKeyId));
    // Malformed blobs.
    for bad in [&b""[..], &[1u8; 32][..], &[2u8; 64][..]] {
        assert_eq!(s.open(bad, b"acct-1", "totp").err(), Some(Error::SealedBlobMalformed));
    }
    assert!(!format!("{s:?}").contains("[1, 1"));
    assert!(KeyRing::new(1, SecretBytes::new(vec![0; 16])).is_err());
    assert!(ring(1, 1).with_old_key(1, SecretBytes::new(vec![0; 32])).is_err());
}

/// A key id rewritten to a key the ring holds still fails: the id is authenticated.
#[test]
fn key_id_is_authenticated() {
    let mut rng = ChaCha20Rng::from_seed([6; 32]);
    let both = Sealer::new(&ring(2, 1).with_old_key(1, SecretBytes::new(vec![1; 32])).unwrap());
    let mut blob = both.seal(b"secret", b"o", "p", &mut rng).unwrap();
    blob[4] = 1; // id 2 -> 1: same key bytes, different id
    assert_eq!(both.open(&blob, b"o", "p").err(), Some(Error::SealOpenFailed));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_bit_flip_fails_to_open(secret in proptest::collection::vec(any::<u8>(), 0..64), bit in any::<prop::sample::Index>(), seed: [u8; 32]) {
        let s = Sealer::new(&ring(1, 1));
        let blob = s.seal(&secret, b"owner", "purpose", &mut ChaCha20Rng::from_seed(seed)).unwrap();
        let i = bit.index(blob.len() * 8);
        let mut t = blob.clone();
        t[i / 8] ^= 1 << (i % 8);
        prop_assert!(s.open(&t, b"owner", "purpose").is_err());
        let opened = s.open(&blob, b"owner", "purpose").unwrap();
        prop_assert_eq!(opened.expose_secret(), &secret[..]);
    }

    #[test]
    fn a_recovery_code_is_consumed_once(seed: [u8; 32], pick in 0usize..10) {
        let codes = RecoveryCodes::new(&ring(1, 3));
        let h = hasher();
        let (shown, mut set) = codes.generate_with(&h, 10, &mut ChaCha20Rng::from_seed(seed)).unwrap();
        let c = shown[pick].expose_secret();
        prop_assert_eq!(codes.consume_with(&h, &mut set, c).map(|x| x.index), Ok(pick));
        prop_assert_eq!(codes.consume_with(&h, &mut set, c), Err(Error::RecoveryCodeUsed));
        prop_assert_eq!(set.remaining(), 9);
    }

    /// Any input is a typed refusal or a well-formed value; never a panic.
    #[test]
    fn recovery_parsers_never_panic(s in "\\PC{0,80}") {
        match normalize(&s) {
            Ok(code) => prop_assert!(code.iter().all(u8::is_ascii_alphanumeric), "{code:?}"),
            Err(e) => prop_assert_eq!(e, Error::RecoveryCodeMalformed),
        }
        for stored in [s.clone(), format!("rc1$1${s}"), format!("rc2$1${s}")] {
            match RecoveryCodeSet::from_stored(&stored) {
                // A set that parses stores back to what it was read from.
                Ok(set) => prop_assert_eq!(set.to_stored(), stored),
                Err(e) => prop_assert_eq!(e, Error::RecoveryCodeSetMalformed),
            }
        }
    }
}
