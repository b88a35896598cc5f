//! A mailbox as a person types it: RFC 5321/5322 `addr-spec` in its dot-atom form, with the
//! UTF-8 local parts of RFC 6531 and internationalized domains (UTS #46).

use core::fmt;
use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// The longest local part, in UTF-8 octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_OCTETS: usize = 64;
/// The longest address, in octets, counting the domain in its A-label form (RFC 5321
/// §4.5.3.1.3 path limit minus the angle brackets).
pub const MAX_ADDRESS_OCTETS: usize = 254;
/// Input longer than this is refused before any Unicode work is done.
const MAX_INPUT_BYTES: usize = 1024;

/// Why a string is not an address we accept. Each reason is one thing a form can tell the
/// person who typed it; the typed input itself is never part of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing but whitespace.
    #[error("the email address is empty")]
    Empty,
    /// No `@`.
    #[error("the email address has no @")]
    MissingAt,
    /// More than one `@` (quoted local parts, the only place a second `@` is legal, are not
    /// accepted).
    #[error("the email address has more than one @")]
    MultipleAt,
    /// Nothing before the `@`.
    #[error("nothing before the @")]
    EmptyLocalPart,
    /// Nothing after the `@`.
    #[error("nothing after the @")]
    EmptyDomain,
    /// `"…"@example.com`: legal in RFC 5322, refused by policy (they hide anything).
    #[error("quoted local parts are not accepted")]
    QuotedLocalPart,
    /// `(comment)` in the address.
    #[error("comments are not accepted in an email address")]
    Comment,
    /// `user@[192.0.2.1]`.
    #[error("IP-address domains are not accepted")]
    IpLiteralDomain,
    /// `user@localhost`: refused unless [`ParseOptions::allow_dotless_domain`].
    #[error("the domain has no dot")]
    DomainWithoutDot,
    /// Whitespace or a control character inside the address.
    #[error("the email address contains a space or a control character")]
    Whitespace,
    /// A dot at the start or the end of the local part, or two dots in a row.
    #[error("a dot at the start or end of the local part, or two dots in a row")]
    LocalPartDots,
    /// A character the local part may not contain (ASCII specials such as `,;<>[]\`).
    #[error("the part before the @ contains a character that is not allowed ({0:?})")]
    InvalidLocalCharacter(char),
    /// An invisible character (zero-width space or joiner, a bidi control, a variation
    /// selector …) anywhere in the address: it would make the address look like another.
    #[error("the email address contains an invisible character ({0:?})")]
    InvisibleCharacter(char),
    /// The domain is not a valid internationalized domain name (UTS #46, STD3 rules): an
    /// empty or overlong label, a label that starts or ends with a hyphen, a forbidden
    /// character, a malformed `xn--` label, a trailing dot, more than 253 octets.
    #[error("the domain is not a valid domain name")]
    InvalidDomain,
    /// The last label is all digits (`user@1.2.3.4` is an IP address, not a domain).
    #[error("the top-level domain is numeric")]
    NumericTopLevelDomain,
    /// The local part is longer than [`MAX_LOCAL_OCTETS`]; the value is its length.
    #[error("the part before the @ is {0} bytes long; at most 64 are allowed")]
    LocalPartTooLong(usize),
    /// The address is longer than [`MAX_ADDRESS_OCTETS`]; the value is its length (input far
    /// too long to be an address reports its byte length without being parsed).
    #[error("the email address is {0} bytes long; at most 254 are allowed")]
    TooLong(usize),
}

/// What the parser accepts beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Accept a domain of one label (`user@localhost`, an intranet host). Off by default.
    pub allow_dotless_domain: bool,
}

impl ParseOptions {
    /// The defaults: a dot in the domain is required.
    #[must_use]
    pub const fn new() -> Self {
        Self { allow_dotless_domain: false }
    }

    /// Accepts domains without a dot.
    #[must_use]
    pub const fn allow_dotless_domain(mut self, allow: bool) -> Self {
        self.allow_dotless_domain = allow;
        self
    }
}

/// A syntactically valid email address, as typed and in its parts.
///
/// Equality compares the address *as typed*: `Alice@Example.com` and `alice@example.com` are
/// different values. For uniqueness and lookup compare the [`CanonicalEmail`]
/// (see [`crate::Canonicalizer`]).
///
/// `Display` and `Serialize` give the form as typed (trimmed); parsing it again gives the
/// same value.
///
/// [`CanonicalEmail`]: crate::CanonicalEmail
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress {
    /// The address as typed, followed — when it differs — by `local@domain_ascii` (local
    /// part NFC, domain A-label): one allocation for both.
    buf: String,
    /// Length of the typed form at the start of `buf`.
    typed_len: usize,
    /// Where the `@` is in the normalized form.
    at: usize,
    /// The U-label form of the domain, when it differs from the A-label form.
    domain_unicode: Option<String>,
}

impl EmailAddress {
    /// Parses an address as a person types it, with the default [`ParseOptions`].
    ///
    /// # Errors
    /// The first [`AddressError`] found.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        Self::parse_with(input, ParseOptions::new())
    }

    /// Parses an address with explicit options.
    ///
    /// # Errors
    /// The first [`AddressError`] found.
    pub fn parse_with(input: &str, options: ParseOptions) -> Result<Self, AddressError> {
        if input.len() > MAX_INPUT_BYTES {
            return Err(AddressError::TooLong(input.len()));
        }
        let typed = input.trim();
        if typed.is_empty() {
            return Err(AddressError::Empty);
        }
        // One pass for the structural refusals, reported in a fixed order of precedence.
        let (mut quote, mut paren, mut space, mut invisible) = (false, false, false, None);
        if typed.is_ascii() {
            for &b in typed.as_bytes() {
                quote |= b == b'"';
                paren |= b == b'(' || b == b')';
                space |= b <= b' ' || b == 0x7f;
            }
        } else {
            for c in typed.chars() {
                match c {
                    '"' => quote = true,
                    '(' | ')' => paren = true,
                    c if c.is_whitespace() || c.is_control() => space = true,
                    c if is_invisible(c) => invisible = invisible.or(Some(c)),
                    _ => {}
                }
            }
        }
        if quote {
            return Err(AddressError::QuotedLocalPart);
        }
        if paren {
            return Err(AddressError::Comment);
        }
        if space {
            return Err(AddressError::Whitespace);
        }
        if let Some(c) = invisible {
            return Err(AddressError::InvisibleCharacter(c));
        }
        let (local, domain) = match typed.split_once('@') {
            None => return Err(AddressError::MissingAt),
            Some((_, d)) if d.contains('@') => return Err(AddressError::MultipleAt),
            Some(parts) => parts,
        };
        if local.is_empty() {
            return Err(AddressError::EmptyLocalPart);
        }
        if domain.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        let typed_local = local;
        let local: Cow<'_, str> =
            if local.is_ascii() { Cow::Borrowed(local) } else { Cow::Owned(local.nfc().collect()) };
        check_local(&local)?;
        let (domain_ascii, domain_unicode) = parse_domain(domain, options)?;
        // The longer of the address and its canonical (case-folded) form must fit.
        let local_len = if local.is_ascii() {
            local.len()
        } else {
            local.len().max(crate::canonical::fold(&local).len())
        };
        let total = local_len + 1 + domain_ascii.as_str().len();
        if total > MAX_ADDRESS_OCTETS {
            return Err(AddressError::TooLong(total));
        }
        let differs = local != typed_local || !matches!(domain_ascii, Domain::Plain(_));
        let mut buf = String::with_capacity(typed.len() + if differs { total } else { 0 });
        buf.push_str(typed);
        if differs {
            buf.push_str(&local);
            buf.push('@');
            domain_ascii.push_to(&mut buf);
        }
        Ok(Self { buf, typed_len: typed.len(), at: local.len(), domain_unicode })
    }

    fn normalized(&self) -> &str {
        match self.buf.get(self.typed_len..) {
            Some(norm) if !norm.is_empty() => norm,
            _ => self.as_typed(),
        }
    }

    /// The address as typed, without surrounding whitespace.
    #[must_use]
    pub fn as_typed(&self) -> &str {
        self.buf.get(..self.typed_len).unwrap_or_default()
    }

    /// The local part (before the `@`), NFC-normalized, case as typed.
    #[must_use]
    pub fn local_part(&self) -> &str {
        self.normalized().get(..self.at).unwrap_or_default()
    }

    /// The domain in its ASCII (A-label, lower-case) form: what DNS and SMTP use.
    #[must_use]
    pub fn domain_ascii(&self) -> &str {
        self.normalized().get(self.at + 1..).unwrap_or_default()
    }

    /// The domain in its Unicode (U-label) form, for display.
    #[must_use]
    pub fn domain_unicode(&self) -> &str {
        self.domain_unicode.as_deref().unwrap_or_else(|| self.domain_ascii())
    }

    /// `local@domain` with the domain in A-labels: the form to hand to an SMTP server
    /// (which still needs SMTPUTF8 when the local part is not ASCII).
    #[must_use]
    pub fn to_ascii_domain_form(&self) -> String {
        self.normalized().to_owned()
    }

    /// Whether the local part is all ASCII (so the address can be sent without SMTPUTF8).
    #[must_use]
    pub fn local_is_ascii(&self) -> bool {
        self.local_part().is_ascii()
    }

    /// A hint that shows which address is meant without spelling it out, for a notice sent
    /// to someone else: `r•••@example.com` (first character of the local part, domain in
    /// full).
    #[must_use]
    pub fn masked(&self) -> String {
        let first: String = self.local_part().chars().take(1).collect();
        format!("{first}•••@{}", self.domain_unicode())
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_typed())
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.as_typed()).finish()
    }
}

impl core::str::FromStr for EmailAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = AddressError;
    /// Parses a stored address. Dotless domains are accepted here: a value stored by a
    /// server that allowed them must load again.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_with(&s, ParseOptions::new().allow_dotless_domain(true))
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> Self {
        let mut s = a.buf;
        s.truncate(a.typed_len);
        s
    }
}

/// Which ASCII bytes the local part may hold: RFC 5322 `atext` and the dot.
const LOCAL_ASCII: [bool; 128] = {
    let mut t = [false; 128];
    let mut b: u8 = 0;
    while b < 128 {
        t[b as usize] = b.is_ascii_alphanumeric();
        b += 1;
    }
    let specials = b"!#$%&'*+-/=?^_`{|}~.";
    let mut j = 0;
    while j < specials.len() {
        t[specials[j] as usize] = true;
        j += 1;
    }
    t
};

fn check_local(local: &str) -> Result<(), AddressError> {
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(AddressError::LocalPartDots);
    }
    if let Some(&b) = local.as_bytes().iter().find(|&&b| b < 128 && !LOCAL_ASCII[usize::from(b)]) {
        return Err(AddressError::InvalidLocalCharacter(char::from(b)));
    }
    if local.len() > MAX_LOCAL_OCTETS {
        return Err(AddressError::LocalPartTooLong(local.len()));
    }
    // Its canonical (case-folded) form must fit as well: folding can lengthen a character
    // (`Ⱦ`, 2 bytes, folds to `ⱦ`, 3), and a canonical form that is no address would break
    // the identity the store keys on.
    if !local.is_ascii() {
        let folded = crate::canonical::fold(local).len();
        if folded > MAX_LOCAL_OCTETS {
            return Err(AddressError::LocalPartTooLong(folded));
        }
    }
    Ok(())
}

/// Default-ignorable and bidi-control code points: they render as nothing, so an address
/// holding one looks like another address.
fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFFB
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// A domain in its A-label form, without copying when it can be avoided.
enum Domain<'a> {
    /// As typed: already lower-case ASCII.
    Plain(&'a str),
    /// As typed but with upper-case letters: lower-cased when copied.
    Upper(&'a str),
    /// Mapped by UTS #46.
    Mapped(String),
}

impl Domain<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Plain(s) | Self::Upper(s) => s,
            Self::Mapped(s) => s,
        }
    }

    fn push_to(&self, out: &mut String) {
        match self {
            Self::Plain(s) => out.push_str(s),
            Self::Upper(s) => out.extend(s.chars().map(|c| c.to_ascii_lowercase())),
            Self::Mapped(s) => out.push_str(s),
        }
    }
}

fn parse_domain(
    domain: &str,
    options: ParseOptions,
) -> Result<(Domain<'_>, Option<String>), AddressError> {
    if domain.starts_with('[') {
        return Err(AddressError::IpLiteralDomain);
    }
    let (ascii, unicode) = match ascii_fast_path(domain) {
        Some(false) => (Domain::Plain(domain), None),
        Some(true) => (Domain::Upper(domain), None),
        None => {
            let ascii =
                idna::domain_to_ascii_strict(domain).map_err(|_| AddressError::InvalidDomain)?;
            if ascii.is_empty() || ascii.split('.').any(str::is_empty) {
                return Err(AddressError::InvalidDomain);
            }
            let (unicode, result) = idna::domain_to_unicode(&ascii);
            if result.is_err() {
                return Err(AddressError::InvalidDomain);
            }
            let unicode = (unicode != ascii).then_some(unicode);
            (Domain::Mapped(ascii), unicode)
        }
    };
    let checked = ascii.as_str();
    if !checked.contains('.') && !options.allow_dotless_domain {
        return Err(AddressError::DomainWithoutDot);
    }
    let tld = checked.rsplit('.').next().unwrap_or_default();
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressError::NumericTopLevelDomain);
    }
    Ok((ascii, unicode))
}

/// A domain of plain letter-digit-hyphen labels, none of them `xn--`, maps to itself
/// lower-cased under UTS #46: skip the mapping for it. Anything else (including every
/// invalid domain, so that errors come from one place) returns `None` and goes through
/// `idna`.
fn ascii_fast_path(domain: &str) -> Option<bool> {
    if domain.len() > 253 {
        return None;
    }
    let mut upper = false;
    for label in domain.split('.') {
        let b = label.as_bytes();
        let ldh = b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
        if b.is_empty()
            || b.len() > 63
            || !ldh
            || b.first() == Some(&b'-')
            || b.last() == Some(&b'-')
            || b.get(2..4) == Some(b"--")
        {
            return None;
        }
        upper |= b.iter().any(u8::is_ascii_uppercase);
    }
    Some(upper)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::ascii_fast_path;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// The fast path agrees with UTS #46 wherever it answers.
        #[test]
        fn fast_path_agrees_with_idna(domain in "[a-zA-Z0-9.-]{1,20}|(xn--)?[a-z0-9-]{0,6}\\.[A-Za-z]{1,4}") {
            if ascii_fast_path(&domain).is_some() {
                let idna = idna::domain_to_ascii_strict(&domain);
                prop_assert_eq!(Some(domain.to_ascii_lowercase()), idna.ok());
            }
        }
    }
}
