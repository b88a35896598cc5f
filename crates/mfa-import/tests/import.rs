//! The importer on the memory store: the fixture, NDJSON, hostile files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use mfa_email_identity::ChangeMode;
use mfa_flow::AuthConfig;
use mfa_import::{ImportOptions, Outcome, Records, SplitError, import};
use mfa_testkit::{MemoryStore, at, seeded, test_auth};
use proptest::prelude::*;

#[tokio::test]
async fn the_fixture_imports_on_the_memory_store() {
    common::fixture_import(MemoryStore::default()).await;
}

#[tokio::test]
async fn one_object_per_line_imports_too() {
    let e = test_auth(AuthConfig::new("Example Portal"), ChangeMode::Immediate, 32);
    let lines = "{\"email\": \"a@example.com\", \"email_verified\": true}\n\n{\"email\": \"b@example.com\", \"email_verified\": true}\r\n";
    let r =
        import(&e.auth, lines.as_bytes(), &ImportOptions::default(), at(0), &mut seeded(1), |_| {})
            .await;
    assert_eq!((r.records, r.imported, r.stopped.as_deref()), (2, 2, None), "{r}");
}

#[tokio::test]
async fn a_broken_file_stops_where_it_breaks_and_a_huge_record_is_skipped() {
    let e = test_auth(AuthConfig::new("Example Portal"), ChangeMode::Immediate, 33);
    let huge =
        format!("{{\"email\": \"h@example.com\", \"given_name\": \"{}\"}}", "x".repeat(70_000));
    let file = format!(
        "[{{\"email\": \"a@example.com\"}}, {huge}, {{\"email\": \"b@example.com\"}} {{\"email\": \"c@example.com\"}}]"
    );
    let r =
        import(&e.auth, file.as_bytes(), &ImportOptions::default(), at(0), &mut seeded(2), |_| {})
            .await;
    assert_eq!(r.imported, 2, "{r}");
    assert!(
        matches!(&r.listed[0].outcome, Outcome::Refused(why) if why.contains("larger than")),
        "{r}"
    );
    assert!(r.stopped.as_deref().is_some_and(|s| s.contains("comma")), "{r}");
    for bad in ["[", "[{\"email\": \"a@example.com\"", "[{}]]", "{\"email\": \"a@\"", "[1,]"] {
        let r = import(
            &e.auth,
            bad.as_bytes(),
            &ImportOptions::default(),
            at(0),
            &mut seeded(3),
            |_| {},
        )
        .await;
        assert!(r.stopped.is_some() || r.refused > 0, "{bad:?}: {r}");
    }
    let r =
        import(&e.auth, &b"[]"[..], &ImportOptions::default(), at(0), &mut seeded(3), |_| {}).await;
    assert_eq!((r.records, r.stopped.as_deref()), (0, None));
}

/// A hash or a secret in the wrong place never reaches the report or a `Debug`.
#[tokio::test]
async fn misplaced_secrets_stay_out_of_the_report() {
    let e = test_auth(AuthConfig::new("Example Portal"), ChangeMode::Immediate, 34);
    let file = r#"[{"email": "a@example.com", "custom_password_hash": {"algorithm": "argon2", "hash": "$argon2id$SECRET-HASH"}},
                  {"email": "b@example.com", "mfa_factors": [{"totp": "SECRETTOTPSECRET"}]},
                  {"email": "c@example.com", "password_hash": ["$2b$SECRET"]}]"#;
    let r =
        import(&e.auth, file.as_bytes(), &ImportOptions::default(), at(0), &mut seeded(5), |_| {})
            .await;
    assert_eq!(r.refused, 3, "{r}");
    let text = format!("{r} {r:?}");
    assert!(!text.contains("SECRET"), "{text}");
    let record: mfa_import::UserRecord = serde_json::from_str(
        r#"{"email": "d@example.com", "password_hash": "$2b$SECRET", "custom_password_hash": {"algorithm": "argon2", "hash": {"value": "$argon2id$SECRET"}}, "mfa_factors": [{"totp": {"secret": "SECRET"}}]}"#,
    )
    .unwrap();
    assert!(!format!("{record:?}").contains("SECRET"), "{record:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes: records or a typed error, never a panic; the records of a well-formed
    /// array of objects are exactly its elements, whatever the strings inside hold.
    #[test]
    fn the_splitter_never_panics_and_finds_every_record(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        names in proptest::collection::vec("[a-z\\]\\[{},\"\\\\ ]{0,12}", 0..8),
    ) {
        for r in Records::new(&bytes[..], 64) {
            if let Err(e) = r {
                let typed = matches!(e, SplitError::Syntax(_) | SplitError::TooLarge { .. });
                prop_assert!(typed, "{:?}", e);
            }
        }
        let values: Vec<String> = names.iter().map(|n| serde_json::json!({"email": n}).to_string()).collect();
        let file = format!("[{}]", values.join(",\n "));
        let got: Vec<Vec<u8>> = Records::new(file.as_bytes(), 1 << 16).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got, values.iter().map(|v| v.as_bytes().to_vec()).collect::<Vec<_>>());
    }
}
