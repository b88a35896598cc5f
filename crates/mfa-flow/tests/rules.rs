//! The policy traits: the default decides exactly as the structs did, a group table only
//! changes what it names, and every decision is monotonic in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_flow::{
    AccountFacts, EnrollmentGrace, EnrollmentRules, FactorKind, GroupRetirement, GroupRules,
    GroupTable, Label, Policy, RetirementReason, RetirementRules, RoleRules, StepUpRules,
    TableError, UsernameDecision, UsernamePolicy, UsernameRules,
};
use proptest::prelude::*;

fn t(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

const KINDS: [FactorKind; 9] = [
    FactorKind::SecurityKey,
    FactorKind::Passkey,
    FactorKind::BiometricKey,
    FactorKind::Push,
    FactorKind::Totp,
    FactorKind::EmailCode,
    FactorKind::RecoveryCodes,
    FactorKind::Sms,
    FactorKind::Voice,
];

const REASONS: [RetirementReason; 4] = [
    RetirementReason::SpecificationChange,
    RetirementReason::Insecure,
    RetirementReason::Withdrawn,
    RetirementReason::BelowAal2,
];

const GROUPS: [&str; 4] = ["acme", "globex", "pilot", "initech"];

fn instant() -> impl Strategy<Value = Option<SystemTime>> {
    proptest::option::of((0u64..1_000).prop_map(t))
}

/// Any policy of the structs: username dates, retirements, a grace, a step-up age.
fn policy() -> impl Strategy<Value = Policy> {
    (
        instant(),
        instant(),
        proptest::collection::vec((0..KINDS.len(), 0u64..1_000, 0..REASONS.len()), 0..6),
        prop_oneof![
            Just(EnrollmentGrace::None),
            (0u64..1_000).prop_map(|s| EnrollmentGrace::Until(t(s))),
            (0u64..1_000).prop_map(|s| EnrollmentGrace::AfterCreation(Duration::from_secs(s))),
        ],
        1u64..2_000,
    )
        .prop_map(|(warn, refuse, retired, grace, age)| {
            let mut p = Policy {
                usernames: UsernamePolicy { warn_from: warn, refuse_from: refuse },
                ..Policy::default()
            };
            for (k, from, r) in retired {
                p.retirement = p.retirement.retire(KINDS[k], t(from), REASONS[r]);
            }
            p.mfa.grace = grace;
            p.step_up.max_age = Duration::from_secs(age);
            p
        })
}

fn group_rules() -> impl Strategy<Value = GroupRules> {
    (
        instant(),
        instant(),
        proptest::collection::btree_map(
            (0..KINDS.len()).prop_map(|k| KINDS[k]),
            (0u64..1_000, proptest::option::of(0..REASONS.len())),
            0..3,
        ),
        proptest::collection::vec((0..KINDS.len()).prop_map(|k| KINDS[k]), 0..2),
        proptest::option::of(0u64..30),
        proptest::option::of(1u64..2_000),
    )
        .prop_map(|(warn, refuse, retire, allow, grace, age)| GroupRules {
            usernames_warn_from: warn,
            usernames_refused_from: refuse,
            retire: retire
                .into_iter()
                .map(|(k, (from, r))| {
                    (k, GroupRetirement { from: t(from), reason: r.map(|r| REASONS[r]) })
                })
                .collect(),
            allow,
            enrollment_grace_days: grace,
            step_up_max_age_seconds: age,
        })
}

fn table() -> impl Strategy<Value = GroupTable> {
    (
        policy(),
        proptest::collection::vec((0..GROUPS.len(), group_rules()), 0..4),
        proptest::option::of((1u64..2_000, any::<bool>())),
    )
        .prop_map(|(default, groups, admin)| {
            let mut table = GroupTable::new(default);
            for (g, rules) in groups {
                table = table.group(Label::new(GROUPS[g]).unwrap(), rules);
            }
            if let Some((age, no_grace)) = admin {
                let rules =
                    RoleRules { step_up_max_age_seconds: Some(age), no_enrollment_grace: no_grace };
                table = table.role(Label::new("admin").unwrap(), rules);
            }
            table
        })
}

/// Any account's facts: a group named in tables or not, a role or not.
fn facts() -> impl Strategy<Value = AccountFacts> {
    (
        0u64..1_000,
        proptest::option::of(prop_oneof![
            (0..GROUPS.len()).prop_map(|g| GROUPS[g].to_owned()),
            Just("unlisted".to_owned()),
        ]),
        proptest::option::of(prop_oneof![Just("admin"), Just("staff")]),
        any::<bool>(),
    )
        .prop_map(|(created, group, role, imported)| AccountFacts {
            created: t(created),
            group: group.map(|g| Label::new(&g).unwrap()),
            role: role.map(|r| Label::new(r).unwrap()),
            imported,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// For any account and time, the trait-based default (the `Policy` itself, and a group
    /// table without groups) decides exactly as the structs' own methods.
    #[test]
    fn the_default_decides_as_the_structs(p in policy(), a in facts(), now in 0u64..1_100) {
        let now = t(now);
        let empty = GroupTable::new(p.clone());
        for rules in [&p as &dyn mfa_flow::AccountPolicy, &empty] {
            prop_assert_eq!(rules.decide(&a, now), p.usernames.decide(now));
            prop_assert_eq!(rules.phases(&a), p.usernames.clone());
            for k in KINDS {
                prop_assert_eq!(rules.retired(&a, k, now), p.retirement.retired(k, now));
                prop_assert_eq!(rules.allows(&a, k, now), p.retirement.allows(k, now));
            }
            prop_assert_eq!(rules.must_enroll(&a, now), p.mfa.must_enroll(a.created, now));
            prop_assert_eq!(rules.deadline(&a), p.mfa.deadline(a.created));
            prop_assert_eq!(rules.max_age(&a), p.step_up.max_age);
        }
    }

    /// A table never makes a factor usable that the default retired, unless the account's
    /// group says so explicitly (an `allow` entry, or a `retire` entry of its own for the
    /// kind); an account outside the table's groups is decided by the default alone.
    #[test]
    fn a_table_changes_only_what_it_names(table in table(), a in facts(), now in 0u64..1_100) {
        let now = t(now);
        let default = table.default_policy().clone();
        let named = a.group.as_ref().and_then(|g| {
            table.groups().find(|(label, _)| *label == g).map(|(_, rules)| rules.clone())
        });
        for k in KINDS {
            let explicit = named
                .as_ref()
                .is_some_and(|g| g.allow.contains(&k) || g.retire.contains_key(&k));
            if !explicit {
                prop_assert_eq!(table.retired(&a, k, now), default.retirement.retired(k, now));
            }
            // Only an `allow` entry gives back a kind the default retired (a group's own
            // retirement date can only come earlier).
            let allowed = named.as_ref().is_some_and(|g| g.allow.contains(&k));
            if !default.retirement.allows(k, now) && table.allows(&a, k, now) {
                prop_assert!(allowed, "{k:?} came back without the table allowing it");
            }
        }
        if named.is_none() {
            prop_assert_eq!(table.decide(&a, now), default.usernames.decide(now));
        }
        // A role only tightens the step-up.
        let group_age = named
            .as_ref()
            .and_then(|g| g.step_up_max_age_seconds)
            .map_or(default.step_up.max_age, Duration::from_secs);
        prop_assert!(table.max_age(&a) <= group_age);
    }

    /// Once refused or retired, never accepted again later under the same table; once an
    /// account must enroll, it always must.
    #[test]
    fn decisions_are_monotonic_in_time(
        table in table(),
        a in facts(),
        t1 in 0u64..1_100,
        later in 0u64..1_100,
    ) {
        let (t1, t2) = (t(t1), t(t1 + later));
        if table.decide(&a, t1) == UsernameDecision::Refuse {
            prop_assert_eq!(table.decide(&a, t2), UsernameDecision::Refuse);
        }
        for k in KINDS {
            if !table.allows(&a, k, t1) {
                prop_assert!(!table.allows(&a, k, t2), "{k:?} retired, then back");
            }
        }
        if table.must_enroll(&a, t1) {
            prop_assert!(table.must_enroll(&a, t2));
        }
    }

    /// Any text given as a table is read or refused with a message, never a panic.
    #[test]
    fn any_text_is_read_or_refused(text in "\\PC{0,200}") {
        let _ = GroupTable::from_json(Policy::default(), &text);
    }
}

#[test]
fn a_table_reads_dates_in_three_forms() {
    let table = GroupTable::from_json(
        Policy::default(),
        r#"{"groups": {
              "a": {"usernames_refused_from": "2027-04-01"},
              "b": {"usernames_refused_from": "2027-04-01T09:00:00+09:00"},
              "c": {"usernames_refused_from": 1806537600}
            }}"#,
    )
    .unwrap();
    let refuse = |g: &str| {
        let mut a = AccountFacts::unknown();
        a.group = Label::new(g).ok();
        table.phases(&a).refuse_from.unwrap()
    };
    assert_eq!(refuse("a"), t(1_806_537_600), "midnight UTC");
    assert_eq!(refuse("b"), t(1_806_537_600), "09:00 in Tokyo is midnight UTC");
    assert_eq!(refuse("c"), t(1_806_537_600));
}

#[test]
fn a_malformed_table_is_refused_with_its_reason() {
    let refused = |json: &str| GroupTable::from_json(Policy::default(), json).unwrap_err();
    let format = |json: &str| match refused(json) {
        TableError::Format(m) => m,
        other => panic!("{json}: {other:?}"),
    };
    assert!(
        format(r#"{"groups": {"a": {"usernames_refuse_from": "2027-04-01"}}}"#)
            .contains("unknown field")
    );
    assert!(format(r#"{"groups": {"Not a label!": {}}}"#).contains("a-z"));
    assert!(
        format(r#"{"groups": {"a": {"usernames_refused_from": "April"}}}"#).contains("no date")
    );
    assert!(format(r#"{"groups": {"a": {"retire": {"fax": {"from": 0}}}}}"#).contains("fax"));
    assert!(format(r#"{"roles": {"admin": {"step_up_max_age_seconds": -1}}}"#).contains("-1"));
    assert!(
        format(r#"{"groups": {"a": {"usernames_refused_from": 18446744073709551615}}}"#)
            .contains("9999")
    );
    assert!(
        format(r#"{"groups": {"a": {"enrollment_grace_days": 18446744073709551615}}}"#)
            .contains("at most")
    );
    assert!(format(r#"{"roles": {"admin": {"step_up_max_age_seconds": 0}}}"#).contains("from 1"));
    assert!(matches!(
        refused(
            r#"{"groups": {"a": {"usernames_warn_from": "2027-05-01",
                                 "usernames_refused_from": "2027-04-01"}}}"#
        ),
        TableError::Order(l) if l.as_str() == "a"
    ));
}

#[test]
fn labels_are_bounded() {
    assert_eq!(Label::new("Acme-Corp.jp_2").unwrap().as_str(), "acme-corp.jp_2");
    assert!(Label::new("").is_err());
    assert!(Label::new(&"a".repeat(65)).is_err());
    assert!(Label::new(&"a".repeat(64)).is_ok());
    for bad in ["a b", "ａcme", "acme\n", "a/b", "ÄCME"] {
        assert!(Label::new(bad).is_err(), "{bad:?}");
    }
}

/// A group's later date for a kind the default retired never gives it back; `allow` does.
#[test]
fn a_later_group_date_never_brings_a_retired_kind_back() {
    let read = |json: &str| GroupTable::from_json(Policy::default(), json).unwrap();
    let mut a = AccountFacts::unknown();
    a.group = Label::new("late").ok();
    let now = t(1_800_000_000);
    let later = read(r#"{"groups": {"late": {"retire": {"sms": {"from": "2099-01-01"}}}}}"#);
    assert!(!later.allows(&a, FactorKind::Sms, now), "SMS stays retired");
    let allowed = read(
        r#"{"groups": {"late": {"allow": ["sms"], "retire": {"sms": {"from": "2099-01-01"}}}}}"#,
    );
    assert!(allowed.allows(&a, FactorKind::Sms, now), "explicitly allowed until 2099");
}
