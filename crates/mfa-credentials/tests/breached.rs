//! The breach-corpus blocklist: lookups in a sorted `SHA1HEX:COUNT` file without loading it,
//! checked against the set the file was written from; malformed files are typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use mfa_credentials::{
    AnyBlocklist, Blocklist, BreachFileError, BreachedPasswords, CommonPasswords, Password,
    PasswordContext, PasswordPolicy, PasswordRole, PolicyViolation,
};
use proptest::prelude::*;

static N: AtomicU32 = AtomicU32::new(0);

fn sha1_hex(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, s.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

/// A corpus file of `passwords` (with their counts), sorted by hash, lines ended by `eol`.
fn corpus(passwords: &[(&str, u64)], eol: &str) -> PathBuf {
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for (p, c) in passwords {
        lines.insert(sha1_hex(p), *c);
    }
    let text: String = lines.iter().map(|(h, c)| format!("{h}:{c}{eol}")).collect();
    write(&text)
}

fn write(text: &str) -> PathBuf {
    let n = N.fetch_add(1, Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("breach-{}-{n}.txt", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn listed_passwords_are_found_and_others_are_not() {
    let listed = [("hunter2", 17_043), ("Password1", 5), ("correcthorse", 1), ("zzz", 2)];
    for eol in ["\r\n", "\n"] {
        let path = corpus(&listed, eol);
        let list = BreachedPasswords::open(&path).unwrap();
        for (p, _) in listed {
            assert!(list.contains_password(p, &p.to_lowercase()), "{p:?} ({eol:?})");
        }
        // The exact form is checked as typed: "Password1" is listed, so is its own form.
        assert!(list.contains_password("Password1", "password1"));
        assert!(!list.contains("password1"), "only the listed spelling");
        for p in ["hunter3", "", "glacier tulip 42 orbit", "PASSWORD1"] {
            assert!(!list.contains_password(p, p), "{p:?}");
        }
        // A threshold of breaches.
        let strict = list.clone().min_count(10);
        assert!(strict.contains_password("hunter2", "hunter2"));
        assert!(!strict.contains_password("Password1", "password1"));
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn the_policy_refuses_a_breached_password_next_to_the_common_ones() {
    let path = corpus(&[("tangerine velvet 1987", 3)], "\r\n");
    let policy = PasswordPolicy {
        blocklist: Box::new(AnyBlocklist(vec![
            Box::new(CommonPasswords),
            Box::new(BreachedPasswords::open(&path).unwrap()),
        ])),
        ..PasswordPolicy::new(PasswordRole::MultiFactor)
    };
    let ctx = PasswordContext::default();
    let check = |p: &str| policy.check(&Password::new(p).unwrap(), &ctx);
    assert_eq!(check("tangerine velvet 1987"), Err(PolicyViolation::Common));
    assert_eq!(check("tangerine  velvet 1987\u{200B}"), Err(PolicyViolation::Common));
    assert_eq!(check("password1"), Err(PolicyViolation::Common), "the built-in list still holds");
    assert!(check("tangerine velvet 1988").is_ok());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn malformed_files_are_typed_errors() {
    let missing = std::env::temp_dir().join("no-such-breach-file.txt");
    assert!(matches!(BreachedPasswords::open(&missing), Err(BreachFileError::Io { .. })));
    let good = format!("{}:1\n", sha1_hex("a"));
    for bad in [
        String::new(),
        "not a corpus\n".to_owned(),
        format!("{good}garbage\n"),
        format!("{}:x\n", sha1_hex("a")),
        format!("{}\n", sha1_hex("a")),
        // Descending: the first hash is larger than the last.
        format!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:1\n{good}"),
    ] {
        let path = write(&bad);
        assert!(
            matches!(BreachedPasswords::open(&path), Err(BreachFileError::Format { .. })),
            "{bad:?}"
        );
        std::fs::remove_file(&path).unwrap();
    }
    assert!(!format!("{:?}", BreachFileError::Io { path: missing, reason: "x".into() }).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// For any set of passwords written to a file, exactly those are found.
    #[test]
    fn lookups_agree_with_the_set(
        listed in proptest::collection::btree_set("[a-zA-Z0-9 ]{1,12}", 1..200),
        probes in proptest::collection::vec("[a-zA-Z0-9 ]{1,12}", 0..50),
        crlf: bool,
    ) {
        let pairs: Vec<(&str, u64)> = listed.iter().map(|p| (p.as_str(), 1)).collect();
        let path = corpus(&pairs, if crlf { "\r\n" } else { "\n" });
        let list = BreachedPasswords::open(&path).unwrap();
        for p in listed.iter().chain(probes.iter()) {
            prop_assert_eq!(list.contains_password(p, p), listed.contains(p), "{:?}", p);
        }
        std::fs::remove_file(&path).unwrap();
    }
}
