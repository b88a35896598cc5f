//! The address corpus (`tests/data/addresses.tsv`) and the properties of parsing and
//! canonical form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mfa_email_identity::{
    AddressError, Canonicalizer, EmailAddress, LocalPartCase, LookalikeFinding, ParseOptions,
    ProviderFolding, assess,
};
use proptest::prelude::*;

/// Expands `{text*N}` and the escapes `\u{X}`, `\t`, `\n`, `\r`, `\s`, `\\`.
fn decode(field: &str) -> String {
    let mut s = String::new();
    let mut rest = field;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let inner = &rest[open + 1..open + close];
        if let Some((text, n)) = inner.rsplit_once('*')
            && let Ok(n) = n.parse::<usize>()
        {
            s.push_str(&rest[..open]);
            s.push_str(&text.repeat(n));
        } else {
            s.push_str(&rest[..=open + close]);
        }
        rest = &rest[open + close + 1..];
    }
    s.push_str(rest);
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('u') => {
                assert_eq!(chars.next(), Some('{'));
                let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            other => panic!("bad escape {other:?} in {field}"),
        }
    }
    out
}

#[test]
fn corpus() {
    let data = include_str!("data/addresses.tsv");
    let canon = Canonicalizer::new();
    let (mut cases, mut valid, mut invalid, mut failures) = (0, 0, 0, Vec::new());
    for (n, line) in data.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() && !line.contains('\t') {
            continue;
        }
        let mut fields = line.split('\t');
        let input = decode(fields.next().unwrap());
        let expected = decode(fields.next().unwrap_or_else(|| panic!("line {}: no result", n + 1)));
        cases += 1;
        let got = match EmailAddress::parse(&input) {
            Ok(a) => {
                valid += 1;
                let c = canon.canonical(&a);
                let tag = if assess(&a).is_suspicious() { ":lookalike" } else { "" };
                format!("ok:{c}{tag}")
            }
            Err(e) => {
                invalid += 1;
                let d = format!("{e:?}");
                format!("err:{}", d.split('(').next().unwrap())
            }
        };
        if got != expected {
            failures.push(format!("line {}: {input:?}: expected {expected}, got {got}", n + 1));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(cases >= 150, "only {cases} cases");
    assert!(valid >= 60 && invalid >= 60, "{valid} valid, {invalid} invalid");
}

#[test]
fn options_and_folding() {
    let a =
        EmailAddress::parse_with("admin@intranet", ParseOptions::new().allow_dotless_domain(true))
            .unwrap();
    assert_eq!(a.domain_ascii(), "intranet");
    let e = EmailAddress::parse("Ryu@Example.com").unwrap();
    let sensitive = Canonicalizer::new().local_part_case(LocalPartCase::Sensitive);
    assert_eq!(sensitive.canonical(&e).as_str(), "Ryu@example.com");
    let gmail = Canonicalizer::new().provider_folding(ProviderFolding::GmailDots);
    let g = EmailAddress::parse("Ryu.Ko.Naka+x.y@GoogleMail.com").unwrap();
    assert_eq!(gmail.canonical(&g).as_str(), "ryukonaka+x.y@gmail.com");
    // Off by default: dots are part of the address.
    assert_eq!(Canonicalizer::new().canonical(&g).as_str(), "ryu.ko.naka+x.y@googlemail.com");
    // Not applied to other providers.
    let o = EmailAddress::parse("a.b@example.com").unwrap();
    assert_eq!(gmail.canonical(&o).as_str(), "a.b@example.com");
}

#[test]
fn lookalike_findings_name_the_part() {
    let a = EmailAddress::parse("billing@\u{430}pple.com").unwrap();
    let r = assess(&a);
    assert!(r.findings().iter().any(|f| matches!(
        f,
        LookalikeFinding::MixedScript { part: mfa_email_identity::AddressPart::DomainLabel(0), .. }
    )));
    // The skeleton collides with the real domain's.
    let real = EmailAddress::parse("billing@apple.com").unwrap();
    assert_eq!(r.skeleton(), assess(&real).skeleton());
    assert!(!assess(&real).is_suspicious());
    let ja = EmailAddress::parse("山田太郎@例え.jp").unwrap();
    assert!(!assess(&ja).is_suspicious(), "{:?}", assess(&ja));
}

#[test]
fn display_debug_and_serde() {
    let a = EmailAddress::parse(" Ryu@Example.com ").unwrap();
    assert_eq!(a.to_string(), "Ryu@Example.com");
    assert_eq!(format!("{a:?}"), "EmailAddress(\"Ryu@Example.com\")");
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(json, "\"Ryu@Example.com\"");
    assert_eq!(serde_json::from_str::<EmailAddress>(&json).unwrap(), a);
    assert!(serde_json::from_str::<EmailAddress>("\"not an address\"").is_err());
    assert_eq!(a.masked(), "R•••@example.com");
    assert_eq!("x@y".parse::<EmailAddress>(), Err(AddressError::DomainWithoutDot));
}

fn local_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::char::range('a', 'z'),
        prop::char::range('A', 'Z'),
        prop::char::range('0', '9'),
        prop::sample::select(vec![
            '+', '-', '_', '.', 'ß', 'é', 'Σ', 'ς', 'あ', '山', 'ǅ', 'İ', 'ﬀ'
        ]),
        any::<char>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Canonical form is a fixed point, for every folding setting.
    #[test]
    fn canonical_is_idempotent(
        local in prop::collection::vec(local_char(), 1..20),
        domain in prop::sample::select(vec!["example.com", "gmail.com", "googlemail.com", "例え.jp", "MÜNCHEN.de"]),
        sensitive in any::<bool>(),
        gmail in any::<bool>(),
    ) {
        let input = format!("{}@{domain}", local.iter().collect::<String>());
        if let Ok(a) = EmailAddress::parse(&input) {
            let mut c = Canonicalizer::new();
            if sensitive { c = c.local_part_case(LocalPartCase::Sensitive); }
            if gmail { c = c.provider_folding(ProviderFolding::GmailDots); }
            let once = c.canonical(&a);
            let again = EmailAddress::parse(once.as_str())
                .unwrap_or_else(|e| panic!("canonical {once} does not parse: {e}"));
            prop_assert_eq!(c.canonical(&again), once);
        }
    }

    /// What is displayed parses back to the same value.
    #[test]
    fn parse_display_round_trip(input in "\\PC{0,40}@?\\PC{0,30}") {
        if let Ok(a) = EmailAddress::parse(&input) {
            prop_assert_eq!(EmailAddress::parse(&a.to_string()), Ok(a));
        }
    }

    /// Arbitrary input gives a value or a typed error, never a panic; accepted values keep
    /// the length limits.
    #[test]
    fn never_panics_and_limits_hold(input in any::<String>()) {
        if let Ok(a) = EmailAddress::parse(&input) {
            prop_assert!(a.local_part().len() <= 64);
            prop_assert!(a.local_part().len() + 1 + a.domain_ascii().len() <= 254);
            prop_assert!(a.domain_ascii().is_ascii());
        }
    }
}

/// Look-alikes that case folding would hide: `ß` and the `ﬀ` ligature fold to ASCII, so the
/// address would read (and canonicalize) as another one. Flagged on the local part as typed;
/// plain non-ASCII local parts that stay non-ASCII are not. (The Kelvin sign is NFC's `K`
/// already: the parsed address *is* ASCII, nothing is hidden.)
#[test]
fn lookalikes_hidden_by_case_folding_are_flagged() {
    let kelvin = EmailAddress::parse("\u{212A}im@example.com").unwrap();
    assert_eq!(kelvin.local_part(), "Kim");
    for local in ["ma\u{DF}", "o\u{FB00}ice", "Stra\u{DF}e"] {
        let a = EmailAddress::parse(&format!("{local}@example.com")).unwrap();
        let r = assess(&a);
        assert!(r.is_suspicious(), "{local}: {r:?}");
        assert!(
            r.findings().iter().any(|f| matches!(
                f,
                LookalikeFinding::ConfusableWithAscii {
                    part: mfa_email_identity::AddressPart::LocalPart
                }
            )),
            "{local}: {r:?}"
        );
    }
    for fine in ["kim", "josé", "山田", "straße.ü"] {
        let a = EmailAddress::parse(&format!("{fine}@example.com")).unwrap();
        assert!(!assess(&a).is_suspicious(), "{fine}: {:?}", assess(&a));
    }
}

/// An address whose case-folded form would be too long is refused, so that every canonical
/// form is an address again (found by the fuzzer: `Ⱦ` folds from 2 bytes to 3).
#[test]
fn a_local_part_that_folds_past_64_bytes_is_refused() {
    let local = format!("{}\u{23E}", "a".repeat(62));
    assert_eq!(local.len(), 64);
    assert_eq!(
        EmailAddress::parse(&format!("{local}@example.com")),
        Err(AddressError::LocalPartTooLong(65))
    );
    let fits = format!("{}\u{23E}", "a".repeat(61));
    let a = EmailAddress::parse(&format!("{fits}@example.com")).unwrap();
    let canonical = Canonicalizer::new().canonical(&a);
    assert!(EmailAddress::parse(canonical.as_str()).is_ok());
}
