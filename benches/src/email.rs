//! `mfa-email-identity`: parse + canonicalize beside the least a server could do (trim, split
//! at `@`, lower-case), and beside the `email_address` crate's parser, on the same addresses.
//! One address per operation, taken in turn from a fixed list.

use std::hint::black_box;

use mfa_email_identity::{Canonicalizer, EmailAddress};

use crate::harness::{Op, Pair};

const ASCII: [&str; 12] = [
    "user@example.com",
    "Ryuko.Konaka+20231201@WithSecure.com",
    "first.last@sub.example.co.jp",
    "customer/department=shipping@example.com",
    "a@b.co",
    "USER@EXAMPLE.COM",
    "test.email+alex@leetcode.com",
    "x-y-z@x-y-z.com",
    "o'brien@example.ie",
    "  padded@example.org ",
    "billing.department@mail.example.net",
    "1234567890@example.com",
];

const IDN: [&str; 6] = [
    "user@münchen.de",
    "山田@例え.jp",
    "user@пример.рф",
    "José@bücher.example",
    "リュウコ+tag@日本語.jp",
    "user@ｅｘａｍｐｌｅ．ｃｏｍ",
];

/// An operation over `list`, one element per call, in turn.
fn each(list: &'static [&'static str], f: impl Fn(&str) + 'static) -> Op<'static> {
    let mut i = 0;
    Box::new(move || {
        f(list[i % list.len()]);
        i = i.wrapping_add(1);
    })
}

fn bare(s: &str) {
    let t = s.trim();
    black_box(t.split_once('@').map(|(l, d)| (l.to_lowercase(), d.to_lowercase())));
}

fn ours(s: &str) {
    let c = Canonicalizer::new();
    black_box(EmailAddress::parse(s).map(|a| c.canonical(&a)).ok());
}

pub(crate) fn pairs() -> Vec<Pair<'static>> {
    vec![
        Pair {
            name: "email: parse + canonicalize, ASCII",
            raw_name: "trim + split @ + lower-case",
            raw: each(&ASCII, bare),
            lib: each(&ASCII, ours),
            goal: Some(4.0),
        },
        Pair {
            name: "email: parse + canonicalize, IDN",
            raw_name: "trim + split @ + lower-case",
            raw: each(&IDN, bare),
            lib: each(&IDN, ours),
            goal: None,
        },
        Pair {
            name: "email: parse only, ASCII",
            raw_name: "email_address crate parse",
            raw: each(&ASCII, |s| {
                black_box(s.trim().parse::<email_address::EmailAddress>().ok());
            }),
            lib: each(&ASCII, |s| {
                black_box(EmailAddress::parse(s).ok());
            }),
            goal: None,
        },
    ]
}
