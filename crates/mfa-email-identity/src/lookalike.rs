//! Look-alike addresses (UTS #39): mixed scripts and confusables, reported as findings that
//! a policy can turn into a refusal.

use unicode_security::{RestrictionLevelDetection, confusable_detection::skeleton};

use crate::EmailAddress;
use crate::canonical::fold;

/// UTS #39 restriction levels, from the most to the least restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RestrictionLevel {
    /// ASCII only.
    AsciiOnly,
    /// One script (plus Common and Inherited characters).
    SingleScript,
    /// One script, or Latin with Han + Hiragana + Katakana, Han + Bopomofo, or Han + Hangul
    /// (so Japanese, Chinese and Korean text passes).
    HighlyRestrictive,
    /// Latin with one other recommended script, except Cyrillic and Greek.
    ModeratelyRestrictive,
    /// Any mix of recommended scripts.
    MinimallyRestrictive,
    /// Anything else.
    Unrestricted,
}

impl From<unicode_security::RestrictionLevel> for RestrictionLevel {
    fn from(l: unicode_security::RestrictionLevel) -> Self {
        use unicode_security::RestrictionLevel as U;
        match l {
            U::ASCIIOnly => Self::AsciiOnly,
            U::SingleScript => Self::SingleScript,
            U::HighlyRestrictive => Self::HighlyRestrictive,
            U::ModeratelyRestrictive => Self::ModeratelyRestrictive,
            U::MinimallyRestrictive => Self::MinimallyRestrictive,
            U::Unrestricted => Self::Unrestricted,
        }
    }
}

/// Which part of the address a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressPart {
    /// The local part.
    LocalPart,
    /// A domain label, counted from the left (`0` is `mail` in `mail.example.com`).
    DomainLabel(usize),
}

/// One reason an address may pose as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LookalikeFinding {
    /// The part mixes scripts beyond what [`RestrictionLevel::HighlyRestrictive`] allows,
    /// e.g. Latin with Cyrillic in `аpple` (the first letter Cyrillic).
    MixedScript {
        /// Where.
        part: AddressPart,
        /// The part's restriction level.
        level: RestrictionLevel,
    },
    /// The part is not ASCII but its confusable skeleton is: it can be read as an ASCII
    /// word (`аррӏе`, all Cyrillic, reads as `apple`).
    ConfusableWithAscii {
        /// Where.
        part: AddressPart,
    },
}

/// What [`assess`] found about one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookalikeReport {
    level: RestrictionLevel,
    findings: Vec<LookalikeFinding>,
    skeleton: String,
}

impl LookalikeReport {
    /// The least restrictive level among the local part and the domain labels.
    #[must_use]
    pub fn restriction_level(&self) -> RestrictionLevel {
        self.level
    }

    /// The findings; empty for an ordinary address.
    #[must_use]
    pub fn findings(&self) -> &[LookalikeFinding] {
        &self.findings
    }

    /// Whether anything was found.
    #[must_use]
    pub fn is_suspicious(&self) -> bool {
        !self.findings.is_empty()
    }

    /// The UTS #39 skeleton of the case-folded address: two addresses with the same skeleton
    /// look alike. Store it beside the canonical form and refuse (or flag) a new address
    /// whose skeleton belongs to another account. Not for display.
    #[must_use]
    pub fn skeleton(&self) -> &str {
        &self.skeleton
    }
}

/// Checks an address for mixed scripts and ASCII confusables, part by part, and computes its
/// skeleton.
#[must_use]
pub fn assess(address: &EmailAddress) -> LookalikeReport {
    let local = fold(address.local_part());
    let domain = address.domain_unicode();
    let mut findings = Vec::new();
    let mut level = RestrictionLevel::AsciiOnly;
    // The local part is judged as typed as well as folded: case folding turns `K` (the
    // Kelvin sign), `ß` or `ﬀ` into ASCII, which would hide them from the checks.
    let raw_local = address.local_part();
    if !raw_local.is_ascii() && local.is_ascii() {
        findings.push(LookalikeFinding::ConfusableWithAscii { part: AddressPart::LocalPart });
    }
    let parts = [(AddressPart::LocalPart, raw_local), (AddressPart::LocalPart, local.as_str())]
        .into_iter()
        .chain(domain.split('.').enumerate().map(|(i, l)| (AddressPart::DomainLabel(i), l)));
    for (part, text) in parts {
        // Scripts are judged per word: ASCII punctuation (`+`, `.`, `-`, `/` …) separates
        // words and is not itself a script.
        for word in text.split(|c: char| c.is_ascii_punctuation()).filter(|w| !w.is_empty()) {
            let l = RestrictionLevel::from(word.detect_restriction_level());
            level = level.max(l);
            let finding = if l > RestrictionLevel::HighlyRestrictive {
                Some(LookalikeFinding::MixedScript { part, level: l })
            } else if !word.is_ascii() && skeleton(word).all(|c| c.is_ascii()) {
                Some(LookalikeFinding::ConfusableWithAscii { part })
            } else {
                None
            };
            if let Some(f) = finding.filter(|f| !findings.contains(f)) {
                findings.push(f);
            }
        }
    }
    let skeleton =
        skeleton(&local).chain(core::iter::once('@')).chain(skeleton(&fold(domain))).collect();
    LookalikeReport { level, findings, skeleton }
}
