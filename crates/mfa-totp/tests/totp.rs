//! Known answers (RFC 6238 Appendix B, RFC 4226 Appendix D), the URI both ways, and the
//! attacks: replay, stale codes, malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_totp::{
    AcceptedStep, Algorithm, ImportError, Profile, TotpConfig, TotpCredential, TotpSecret,
    VerifyError, Window, import_uri,
};
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn rfc_credential(algorithm: Algorithm) -> TotpCredential {
    let seed: &[u8] = match algorithm {
        Algorithm::Sha1 => b"12345678901234567890",
        Algorithm::Sha256 => b"12345678901234567890123456789012",
        _ => b"1234567890123456789012345678901234567890123456789012345678901234",
    };
    TotpCredential::new(
        TotpSecret::from_bytes(seed).unwrap(),
        Profile::new(algorithm, 8, 30).unwrap(),
    )
}

#[test]
fn rfc6238_appendix_b() {
    // (time, SHA-1, SHA-256, SHA-512)
    let table = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ];
    for (t, sha1, sha256, sha512) in table {
        for (alg, want) in
            [(Algorithm::Sha1, sha1), (Algorithm::Sha256, sha256), (Algorithm::Sha512, sha512)]
        {
            let c = rfc_credential(alg);
            assert_eq!(c.code_at(at(t)).as_str(), want, "{alg:?} at {t}");
            assert_eq!(c.verify(want, at(t), Window::steps(0), None), Ok(AcceptedStep(t / 30)));
        }
    }
}

#[test]
fn rfc4226_appendix_d() {
    // HOTP counter c is the TOTP step c: time c × 30 with a 30-second period.
    let codes = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    let c = TotpCredential::new(
        TotpSecret::from_bytes(b"12345678901234567890").unwrap(),
        Profile::DEFAULT,
    );
    for (counter, want) in codes.iter().enumerate() {
        let t = at(counter as u64 * 30);
        assert_eq!(c.code_at(t).as_str(), *want, "counter {counter}");
        // The crate's own verification accepts it, at exactly that step, once.
        let step = c.verify(want, t, Window::DEFAULT, None).unwrap();
        assert_eq!(step.0, counter as u64, "counter {counter}");
        assert_eq!(c.verify(want, t, Window::DEFAULT, Some(step.0)), Err(VerifyError::Replayed));
    }
}

#[test]
fn uri_is_encoded_for_both_apps() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let config = TotpConfig::new("Elements Portal").unwrap();
    let pending =
        config.start_enrollment("ryuko.konaka+20231201@withsecure.com", &mut rng).unwrap();
    let b32 = pending.secret().to_base32();
    assert_eq!(b32.len(), 32, "160 bits");
    assert_eq!(
        pending.uri(),
        format!(
            "otpauth://totp/Elements%20Portal:ryuko.konaka%2B20231201%40withsecure.com?secret={}&issuer=Elements%20Portal&algorithm=SHA1&digits=6&period=30",
            b32.as_str()
        )
    );
    let ja = TotpConfig::new("製品 ポータル").unwrap();
    let p = ja.start_enrollment("山田:太郎@example.jp", &mut rng).unwrap();
    assert!(p.uri().starts_with(
        "otpauth://totp/%E8%A3%BD%E5%93%81%20%E3%83%9D%E3%83%BC%E3%82%BF%E3%83%AB:%E5%B1%B1%E7%94%B0%3A%E5%A4%AA%E9%83%8E%40example.jp?"
    ), "{}", p.uri());
    // Our URI imports back to the same values.
    let back = import_uri(p.uri()).unwrap();
    assert_eq!(back.secret, *p.secret());
    assert_eq!(back.issuer.as_deref(), Some("製品 ポータル"));
    assert_eq!(back.account, "山田:太郎@example.jp");
    assert_eq!(back.profile, Profile::DEFAULT);
    assert!(TotpConfig::new("A:B").is_err());
    assert!(TotpConfig::new(" ").is_err());
    assert_eq!(config.start_enrollment("", &mut rng).unwrap_err(), ImportError::Label);
}

#[test]
fn qr_svg_is_an_svg() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let p = TotpConfig::new("P").unwrap().start_enrollment("a@b.c", &mut rng).unwrap();
    let svg = p.qr_svg();
    assert!(svg.contains("<svg") && svg.contains("</svg>"));
    assert!(!svg.contains(p.secret().to_base32().as_str()), "the SVG is an image, not text");
}

#[test]
fn enrollment_needs_a_correct_code() {
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let config = TotpConfig::new("P").unwrap();
    let pending = config.start_enrollment("a@b.c", &mut rng).unwrap();
    let app = TotpCredential::new(pending.secret().clone(), Profile::DEFAULT);
    let now = at(1_800_000_000);
    let wrong = if app.code_at(now).as_str() == "000000" { "111111" } else { "000000" };
    let (pending, err) = pending.confirm(wrong, now).unwrap_err();
    assert_eq!(err, VerifyError::Mismatch);
    // A code from ten minutes ago does not confirm either.
    let (pending, err) = pending.confirm(&app.code_at(at(1_800_000_000 - 600)), now).unwrap_err();
    assert_eq!(err, VerifyError::Mismatch);
    let (credential, step) = pending.confirm(&app.code_at(now), now).unwrap();
    assert_eq!(step, AcceptedStep(1_800_000_000 / 30));
    assert_eq!(credential.secret(), app.secret());
}

#[test]
fn replay_and_window() {
    let c = TotpCredential::new(TotpSecret::from_bytes(&[7; 20]).unwrap(), Profile::DEFAULT);
    let t = 1_800_000_015;
    let code = c.code_at(at(t));
    let step = c.verify(&code, at(t), Window::DEFAULT, None).unwrap();
    // The same code, again within its window: refused.
    assert_eq!(
        c.verify(&code, at(t + 20), Window::DEFAULT, Some(step.0)),
        Err(VerifyError::Replayed)
    );
    // The previous step's code after this one was used: refused (it is older).
    let prev = c.code_at(at(t - 30));
    assert_eq!(c.verify(&prev, at(t), Window::DEFAULT, Some(step.0)), Err(VerifyError::Replayed));
    // The next step's code: accepted.
    let next = c.code_at(at(t + 30));
    assert_eq!(
        c.verify(&next, at(t + 30), Window::DEFAULT, Some(step.0)),
        Ok(AcceptedStep(step.0 + 1))
    );
    // Outside the window.
    assert_eq!(c.verify(&code, at(t + 61), Window::DEFAULT, None), Err(VerifyError::Mismatch));
    assert!(c.verify(&code, at(t + 61), Window::steps(2), None).is_ok());
}

#[test]
fn malformed_codes_are_typed() {
    let c = TotpCredential::new(TotpSecret::from_bytes(&[7; 20]).unwrap(), Profile::DEFAULT);
    let now = at(1_800_000_000);
    let code = c.code_at(now);
    assert_eq!(c.verify("", now, Window::DEFAULT, None), Err(VerifyError::Empty));
    assert_eq!(c.verify("   ", now, Window::DEFAULT, None), Err(VerifyError::Empty));
    assert_eq!(
        c.verify("12345", now, Window::DEFAULT, None),
        Err(VerifyError::WrongLength { expected: 6 })
    );
    assert_eq!(
        c.verify("1234567", now, Window::DEFAULT, None),
        Err(VerifyError::WrongLength { expected: 6 })
    );
    assert_eq!(c.verify("12a456", now, Window::DEFAULT, None), Err(VerifyError::NotDigits));
    assert_eq!(c.verify("+12345", now, Window::DEFAULT, None), Err(VerifyError::NotDigits));
    assert_eq!(c.verify("١٢٣٤٥٦", now, Window::DEFAULT, None), Err(VerifyError::NotDigits));
    assert_eq!(
        c.verify(&"1".repeat(1 << 20), now, Window::DEFAULT, None),
        Err(VerifyError::WrongLength { expected: 6 })
    );
    // Spaces and full-width digits are the same code.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    assert!(c.verify(&spaced, now, Window::DEFAULT, None).is_ok());
    let wide: String =
        code.chars().map(|d| char::from_u32(u32::from(d) - 0x30 + 0xFF10).unwrap()).collect();
    assert!(c.verify(&wide, now, Window::DEFAULT, None).is_ok());
}

#[test]
fn import_secrets_and_uris() {
    let want = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
    for s in [
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
        "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
        "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ",
    ] {
        assert_eq!(TotpSecret::from_base32(s).unwrap(), want, "{s}");
    }
    // 80-bit secrets from older systems, with and without padding.
    assert_eq!(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap().len(), 10);
    assert_eq!(TotpSecret::from_base32("MFRGGZDFMZTWQ2LKNM======").map(|s| s.len()), Ok(11));
    assert_eq!(TotpSecret::from_base32("mfrggzdfmztwq2lknm").map(|s| s.len()), Ok(11));
    assert_eq!(TotpSecret::from_base32("MFRGGZDFMZTWQ2LKNM==").unwrap_err(), ImportError::Base32);
    assert_eq!(
        TotpSecret::from_base32("JBSWY3DP").unwrap_err(),
        ImportError::SecretLength { bytes: 5 }
    );
    assert_eq!(TotpSecret::from_base32("JBSWY3D1EHPK3PXP").unwrap_err(), ImportError::Base32);
    assert_eq!(TotpSecret::from_base32("").unwrap_err(), ImportError::SecretLength { bytes: 0 });
    assert_eq!(TotpSecret::from_base32("A").unwrap_err(), ImportError::Base32);

    let g = import_uri(
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
    )
    .unwrap();
    assert_eq!((g.issuer.as_deref(), g.account.as_str()), (Some("Example"), "alice@google.com"));
    assert_eq!(g.profile, Profile::DEFAULT);
    let s = import_uri("OTPAUTH://TOTP/ACME%20Co:john.doe%40email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60&image=x").unwrap();
    assert_eq!(s.profile, Profile::new(Algorithm::Sha256, 8, 60).unwrap());
    assert_eq!(s.account, "john.doe@email.com");
    let no_issuer = import_uri("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP").unwrap();
    assert_eq!(no_issuer.issuer, None);
    for (uri, err) in [
        ("https://example.com", ImportError::NotTotpUri),
        ("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1", ImportError::Hotp),
        ("otpauth://totp/x", ImportError::MissingSecret),
        (
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&secret=JBSWY3DPEHPK3PXP",
            ImportError::DuplicateParameter,
        ),
        ("otpauth://totp/A:x?secret=JBSWY3DPEHPK3PXP&issuer=B", ImportError::IssuerMismatch),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", ImportError::Algorithm),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=10", ImportError::Digits),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=x", ImportError::Digits),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0", ImportError::Period),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=61", ImportError::Period),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=300", ImportError::Period),
        ("otpauth://totp/x%ZZ?secret=JBSWY3DPEHPK3PXP", ImportError::PercentEncoding),
        ("otpauth://totp/x%FF?secret=JBSWY3DPEHPK3PXP", ImportError::PercentEncoding),
        ("otpauth://totp/x%?secret=JBSWY3DPEHPK3PXP", ImportError::PercentEncoding),
        ("otpauth://totp/?secret=JBSWY3DPEHPK3PXP", ImportError::Label),
        ("otpauth://totp/x?secret=!!", ImportError::Base32),
    ] {
        assert_eq!(import_uri(uri).unwrap_err(), err, "{uri}");
    }
}

#[test]
fn secrets_stay_out_of_debug() {
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let p = TotpConfig::new("P").unwrap().start_enrollment("a@b.c", &mut rng).unwrap();
    let b32 = p.secret().to_base32();
    let dbg = format!("{p:?} {:?}", p.secret());
    assert!(!dbg.contains(b32.as_str()), "{dbg}");
    assert!(dbg.contains("REDACTED"));
    let imported = import_uri(p.uri()).unwrap();
    assert!(!format!("{imported:?}").contains(b32.as_str()));
}

proptest! {
    /// A code made at t verifies at every time within the window and at none outside it
    /// (unless, by a 1-in-10^6 chance, another step in the window has the same code).
    #[test]
    fn window_holds(secret in prop::collection::vec(any::<u8>(), 10..64), t in 1_000_000u64..4_000_000_000, offset in -200i64..200) {
        let c = TotpCredential::new(TotpSecret::from_bytes(&secret).unwrap(), Profile::DEFAULT);
        let code = c.code_at(at(t));
        let then = t.saturating_add_signed(offset);
        let step_now = then / 30;
        let step_code = t / 30;
        let inside = step_now.abs_diff(step_code) <= 1;
        let result = c.verify(&code, at(then), Window::DEFAULT, None);
        if inside {
            prop_assert!(result.is_ok());
        } else {
            let collision = (step_now.saturating_sub(1)..=step_now + 1).any(|s| c.code_at(at(s * 30)) == code);
            prop_assert_eq!(result.is_ok(), collision);
        }
    }

    /// The same step never verifies twice.
    #[test]
    fn a_step_verifies_once(secret in prop::collection::vec(any::<u8>(), 10..64), t in 1_000_000u64..4_000_000_000, later in 0u64..30) {
        let c = TotpCredential::new(TotpSecret::from_bytes(&secret).unwrap(), Profile::DEFAULT);
        let code = c.code_at(at(t));
        let step = c.verify(&code, at(t), Window::DEFAULT, None).unwrap();
        prop_assert_eq!(c.verify(&code, at(t + later), Window::DEFAULT, Some(step.0)), Err(VerifyError::Replayed));
    }

    /// Arbitrary input is the typed error its shape calls for, or a success only for the
    /// right code; never a panic.
    #[test]
    fn arbitrary_input(input in any::<String>()) {
        let c = TotpCredential::new(TotpSecret::from_bytes(&[1; 20]).unwrap(), Profile::DEFAULT);
        let now = at(1_800_000_000);
        let digits: String = input.chars().filter(|ch| !ch.is_whitespace()).collect();
        match c.verify(&input, now, Window::DEFAULT, None) {
            Ok(step) => {
                let code = c.code_at(at(step.0 * 30));
                prop_assert_eq!(code.as_str(), digits.as_str());
            }
            Err(VerifyError::Empty) => prop_assert!(digits.is_empty()),
            Err(VerifyError::NotDigits) => prop_assert!(!digits.chars().all(|ch| ch.is_ascii_digit())),
            Err(VerifyError::WrongLength { expected }) => {
                prop_assert_eq!(expected, 6);
                prop_assert!(digits.chars().count() != 6 || !digits.is_ascii());
            }
            Err(VerifyError::Mismatch) => prop_assert_eq!(digits.len(), 6),
            Err(other) => prop_assert!(false, "{other:?}"),
        }
        // Parsers: a success is a usable value.
        if let Ok(imported) = import_uri(&input) {
            prop_assert!(input.starts_with("otpauth://"), "{imported:?}");
        }
        if let Ok(secret) = TotpSecret::from_base32(&input) {
            prop_assert_eq!(TotpSecret::from_base32(&secret.to_base32()).unwrap(), secret);
        }
    }

    /// base32 out and in.
    #[test]
    fn base32_round_trip(secret in prop::collection::vec(any::<u8>(), 10..128)) {
        let s = TotpSecret::from_bytes(&secret).unwrap();
        prop_assert_eq!(TotpSecret::from_base32(&s.to_base32()).unwrap(), s);
    }
}

/// Time steps up to 60 s are accepted (SP 800-63B-4 asks for short-lived codes); imported
/// secrets under 112 bits are accepted but fall under the strong length.
#[test]
fn sixty_second_steps_and_short_secrets_import_and_the_rest_is_typed() {
    let p = import_uri("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=60").unwrap();
    assert_eq!(p.profile.period(), mfa_totp::MAX_PERIOD);
    // 80 bits: the shortest import, below the strong length of 112.
    let short = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
    assert_eq!(short.len() * 8, 80);
    assert!(short.len() < mfa_totp::STRONG_SECRET_BYTES);
    const { assert!(mfa_totp::NEW_SECRET_BYTES >= mfa_totp::STRONG_SECRET_BYTES) };
}
