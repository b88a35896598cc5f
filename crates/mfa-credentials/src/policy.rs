//! Password policy per NIST SP 800-63B-4: length, a blocklist, context words; no composition
//! rules.

use core::fmt;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

use crate::Password;

/// What the password is in the account's authentication (the minimum length depends on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRole {
    /// One factor of multi-factor authentication: at least 8 characters (SP 800-63B-4
    /// §3.1.1.2).
    MultiFactor,
    /// The only factor: at least 15 characters.
    SingleFactor,
}

/// A reason a new password is refused. Each is meant to be shown translated to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Shorter than the minimum (in code points after NFKC normalization).
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// Longer than the maximum.
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// On the list of common or compromised passwords.
    Common,
    /// Contains a word from the account's context (the service's name, the email address, the
    /// legacy username).
    ContainsContext(ContextWord),
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "password shorter than {min} characters"),
            Self::TooLong { max } => write!(f, "password longer than {max} characters"),
            Self::Common => f.write_str("password is too common"),
            Self::ContainsContext(w) => write!(f, "password contains the {w}"),
        }
    }
}

/// Which context word a password contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextWord {
    /// The service's name.
    ServiceName,
    /// The email address or its local part.
    Email,
    /// The legacy username.
    Username,
}

impl fmt::Display for ContextWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ServiceName => "service name",
            Self::Email => "email address",
            Self::Username => "username",
        })
    }
}

/// The account context a new password is checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    /// The product's name, e.g. "Elements Portal".
    pub service_name: Option<&'a str>,
    /// The account's email address.
    pub email: Option<&'a str>,
    /// The account's legacy username, if it has one.
    pub username: Option<&'a str>,
}

/// A list of passwords that must not be chosen. The crate ships [`CommonPasswords`]; plug a
/// larger list or a breach-corpus service (k-anonymity range queries) behind this trait.
pub trait Blocklist: Send + Sync + fmt::Debug {
    /// Whether the password is on the list. `normalized_lower` is NFKC-normalized and
    /// lower-cased.
    fn contains(&self, normalized_lower: &str) -> bool;

    /// Whether the password is on the list, given as typed (NFKC-normalized) and lower-cased:
    /// a list of exact passwords (a breach corpus) checks both. By default, the lower-case
    /// form only.
    fn contains_password(&self, normalized: &str, normalized_lower: &str) -> bool {
        let _ = normalized;
        self.contains(normalized_lower)
    }
}

impl<T: Blocklist + ?Sized> Blocklist for std::sync::Arc<T> {
    fn contains(&self, normalized_lower: &str) -> bool {
        (**self).contains(normalized_lower)
    }

    fn contains_password(&self, normalized: &str, normalized_lower: &str) -> bool {
        (**self).contains_password(normalized, normalized_lower)
    }
}

/// A password is listed when any of the lists has it (for example [`CommonPasswords`] and a
/// [`crate::BreachedPasswords`] corpus).
#[derive(Debug)]
pub struct AnyBlocklist(pub Vec<Box<dyn Blocklist>>);

impl Blocklist for AnyBlocklist {
    fn contains(&self, normalized_lower: &str) -> bool {
        self.0.iter().any(|b| b.contains(normalized_lower))
    }

    fn contains_password(&self, normalized: &str, normalized_lower: &str) -> bool {
        self.0.iter().any(|b| b.contains_password(normalized, normalized_lower))
    }
}

/// The 19,640 most common passwords (Django's list, compiled by Royce Williams; BSD-3-Clause),
/// front-coded in 91 KB. See `data/build-blocklist.py` for the source and format.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommonPasswords;

static BLOCKLIST: &[u8] = include_bytes!("../data/common-passwords.bin");
const MAGIC: &[u8] = b"MFABL1\0";
const RESTART: usize = 32;

/// Offsets of the restart entries (every 32nd), computed once.
fn restarts() -> &'static [usize] {
    static INDEX: OnceLock<Vec<usize>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut out = Vec::new();
        let mut pos = MAGIC.len() + 4;
        let mut i = 0usize;
        while let (Some(&_shared), Some(&len)) = (BLOCKLIST.get(pos), BLOCKLIST.get(pos + 1)) {
            if i.is_multiple_of(RESTART) {
                out.push(pos);
            }
            pos += 2 + usize::from(len);
            i += 1;
        }
        out
    })
}

/// Decodes entries from a restart offset, calling `f` until it returns `false`.
fn scan(mut pos: usize, mut f: impl FnMut(&[u8]) -> bool) {
    let mut cur: Vec<u8> = Vec::with_capacity(64);
    for _ in 0..RESTART {
        let (Some(&shared), Some(&len)) = (BLOCKLIST.get(pos), BLOCKLIST.get(pos + 1)) else {
            return;
        };
        let Some(suffix) = BLOCKLIST.get(pos + 2..pos + 2 + usize::from(len)) else { return };
        cur.truncate(usize::from(shared));
        cur.extend_from_slice(suffix);
        if !f(&cur) {
            return;
        }
        pos += 2 + usize::from(len);
    }
}

impl CommonPasswords {
    /// Number of entries in the list.
    #[must_use]
    pub fn len(&self) -> usize {
        BLOCKLIST
            .get(MAGIC.len()..MAGIC.len() + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b: [u8; 4]| u32::from_be_bytes(b) as usize)
    }

    /// Whether the list is empty (it is not).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Blocklist for CommonPasswords {
    fn contains(&self, normalized_lower: &str) -> bool {
        let key = normalized_lower.as_bytes();
        let starts = restarts();
        // Last restart block whose first entry is <= key.
        let block = starts.partition_point(|&pos| {
            let mut first_le = false;
            scan(pos, |e| {
                first_le = e <= key;
                false
            });
            first_le
        });
        let Some(&pos) = block.checked_sub(1).and_then(|b| starts.get(b)) else { return false };
        let mut found = false;
        scan(pos, |e| {
            found = e == key;
            !found && e < key
        });
        found
    }
}

/// The password policy. Build with [`PasswordPolicy::new`]; adjust the public fields.
///
/// ```
/// use mfa_credentials::{Password, PasswordContext, PasswordPolicy, PasswordRole, PolicyViolation};
/// # fn main() -> Result<(), mfa_credentials::Error> {
/// let policy = PasswordPolicy::new(PasswordRole::MultiFactor);
/// let ctx = PasswordContext { service_name: Some("Elements Portal"), ..Default::default() };
/// assert_eq!(policy.check(&Password::new("short")?, &ctx), Err(PolicyViolation::TooShort { min: 8 }));
/// assert_eq!(policy.check(&Password::new("password1")?, &ctx), Err(PolicyViolation::Common));
/// assert!(policy.check(&Password::new("glacier tulip 42 orbit")?, &ctx).is_ok());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PasswordPolicy {
    /// Minimum length in code points.
    pub min_chars: usize,
    /// Maximum length in code points (at least 64 per SP 800-63B-4).
    pub max_chars: usize,
    /// The blocklist.
    pub blocklist: Box<dyn Blocklist>,
}

impl PasswordPolicy {
    /// The policy for a role: minimum 8 (MFA) or 15 (single factor), maximum 128,
    /// [`CommonPasswords`].
    #[must_use]
    pub fn new(role: PasswordRole) -> Self {
        let min_chars = match role {
            PasswordRole::MultiFactor => 8,
            PasswordRole::SingleFactor => 15,
        };
        Self { min_chars, max_chars: 128, blocklist: Box::new(CommonPasswords) }
    }

    /// Checks a new password. Context words shorter than 4 characters are only refused as the
    /// whole password, so a one-letter username does not forbid every password with that
    /// letter.
    ///
    /// # Errors
    /// The first [`PolicyViolation`] found, in the order: length, blocklist, context.
    pub fn check(
        &self,
        password: &Password,
        ctx: &PasswordContext<'_>,
    ) -> Result<(), PolicyViolation> {
        let n = password.char_count();
        if n < self.min_chars {
            return Err(PolicyViolation::TooShort { min: self.min_chars });
        }
        if n > self.max_chars {
            return Err(PolicyViolation::TooLong { max: self.max_chars });
        }
        // Compared without what a person cannot see or would not count: default-ignorable
        // characters (zero-width spaces, joiners, soft hyphens …), leading and trailing
        // space, runs of spaces — and once more without any space at all, so that
        // " password", "pass word" and "password\u{200B}" meet the blocklist as "password".
        let exact = comparable(password.expose_normalized());
        let lower = comparable(&password.expose_normalized().to_lowercase());
        let squashed_pw: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
        if self.blocklist.contains_password(&exact, &lower) || self.blocklist.contains(&squashed_pw)
        {
            return Err(PolicyViolation::Common);
        }
        let email_local = ctx.email.map(|e| e.rsplit_once('@').map_or(e, |(l, _)| l));
        let untagged = email_local.and_then(|l| l.split_once('+').map(|(base, _)| base));
        let words = [
            (ctx.service_name, ContextWord::ServiceName),
            (ctx.email, ContextWord::Email),
            (email_local, ContextWord::Email),
            (untagged, ContextWord::Email),
            (ctx.username, ContextWord::Username),
        ];
        for (word, kind) in words {
            let Some(word) = word else { continue };
            let word = comparable(&word.nfkc().collect::<String>().to_lowercase());
            let squashed: String = word.chars().filter(|c| !c.is_whitespace()).collect();
            for w in [word.as_str(), squashed.as_str()] {
                let hit = if w.chars().count() >= 4 {
                    lower.contains(w) || squashed_pw.contains(w)
                } else {
                    lower == w || squashed_pw == w
                };
                if !w.is_empty() && hit {
                    return Err(PolicyViolation::ContainsContext(kind));
                }
            }
        }
        Ok(())
    }
}

/// `s` as compared with the blocklist and context words: default-ignorable code points
/// removed, whitespace trimmed and each run of it made one space.
fn comparable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(char::is_whitespace) {
        let word: String = word.chars().filter(|c| !default_ignorable(*c)).collect();
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt, Unicode 16): drawn as
/// nothing, so a password that differs from a listed one only by them is that password.
const fn default_ignorable(c: char) -> bool {
    matches!(
        c as u32,
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
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocklist_finds_every_entry_and_nothing_else() {
        let list = CommonPasswords;
        assert_eq!(list.len(), 19_640);
        let mut all = Vec::new();
        for &pos in restarts() {
            scan(pos, |e| {
                all.push(String::from_utf8(e.to_vec()).unwrap());
                true
            });
        }
        assert_eq!(all.len(), list.len());
        assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        for w in &all {
            assert!(list.contains(w), "{w}");
            let longer = format!("{w}\u{1}");
            assert!(!list.contains(&longer), "{longer:?}");
        }
        for w in ["", "\u{0}", "zzzzzzzzzzzzzzzzzzzz", "glacier tulip 42 orbit"] {
            assert!(!list.contains(w), "{w:?}");
        }
        for w in ["123456", "password", "qwerty", "iloveyou", "dragon", "1q2w3e4r5t"] {
            assert!(list.contains(w), "{w}");
        }
    }

    #[test]
    fn refusals_are_typed() {
        let p = PasswordPolicy::new(PasswordRole::MultiFactor);
        let ctx = PasswordContext {
            service_name: Some("Elements Portal"),
            email: Some("ryuko.konaka+20231130@example.com"),
            username: Some("Ryu20231130"),
        };
        let check = |s: &str| p.check(&Password::new(s).unwrap(), &ctx);
        assert_eq!(check("1234567"), Err(PolicyViolation::TooShort { min: 8 }));
        assert_eq!(check(&"x".repeat(129)), Err(PolicyViolation::TooLong { max: 128 }));
        assert!(check(&"x7".repeat(32)).is_ok(), "64 characters must be allowed");
        assert_eq!(check("PassWord1"), Err(PolicyViolation::Common), "case-insensitive");
        assert_eq!(check("ＰＡＳＳＷＯＲＤ"), Err(PolicyViolation::Common), "NFKC fullwidth");
        let ctxerr = |w| Err(PolicyViolation::ContainsContext(w));
        assert_eq!(check("my elementsportal pw"), ctxerr(ContextWord::ServiceName));
        assert_eq!(check("xx ryuko.konaka yy"), ctxerr(ContextWord::Email));
        assert_eq!(check("my ryu20231130 !!"), ctxerr(ContextWord::Username));
        assert!(check("glacier tulip 42 orbit").is_ok());
    }

    /// What a person cannot see, or would not count, does not hide a listed password or a
    /// context word: spaces around or inside, zero-width and other default-ignorable
    /// characters. A real passphrase with spaces stays fine.
    #[test]
    fn invisible_differences_do_not_hide_a_listed_password() {
        let p = PasswordPolicy::new(PasswordRole::MultiFactor);
        let ctx = PasswordContext {
            service_name: Some("Elements Portal"),
            email: Some("ryuko.konaka@example.com"),
            username: None,
        };
        let check = |s: &str| p.check(&Password::new(s).unwrap(), &ctx);
        for common in [
            " password",
            "password ",
            "pass word",
            "pass  word",
            "password\u{200B}",
            "pa\u{00AD}ssword",
            "\u{FEFF}password\u{2060}",
            "iloveyou\u{FE0F}",
            "1q2w 3e4r 5t",
        ] {
            assert_eq!(check(common), Err(PolicyViolation::Common), "{common:?}");
        }
        assert_eq!(
            check("my elements\u{200B}portal pw"),
            Err(PolicyViolation::ContainsContext(ContextWord::ServiceName))
        );
        assert_eq!(
            check("xx ryuko.\u{200D}konaka yy"),
            Err(PolicyViolation::ContainsContext(ContextWord::Email))
        );
        assert!(check("glacier  tulip 42 orbit ").is_ok());
        assert_eq!(comparable("  a \u{200B} b  "), "a b");
    }

    #[test]
    fn single_factor_needs_fifteen() {
        let p = PasswordPolicy::new(PasswordRole::SingleFactor);
        let ctx = PasswordContext::default();
        assert_eq!(
            p.check(&Password::new("glacier tulip4").unwrap(), &ctx),
            Err(PolicyViolation::TooShort { min: 15 })
        );
        assert!(p.check(&Password::new("glacier tulip 4").unwrap(), &ctx).is_ok());
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        let p = PasswordPolicy::new(PasswordRole::MultiFactor);
        // 8 Japanese characters: 24 bytes, 8 code points.
        assert!(
            p.check(&Password::new("秘密の合言葉です").unwrap(), &PasswordContext::default())
                .is_ok()
        );
        // "ﬃ" (1 code point) is "ffi" (3) after NFKC.
        assert_eq!(Password::new("ﬃ").unwrap().char_count(), 3);
    }
}
