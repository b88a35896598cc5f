//! The canonical form of an address: the key for uniqueness and lookup.

use core::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::EmailAddress;

/// How the local part is compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalPartCase {
    /// Unicode full case folding (`Ryu@…` = `ryu@…`, `STRASSE` = `straße`). What every
    /// large mail provider does, and the default.
    #[default]
    Fold,
    /// Compare the local part exactly as typed (after NFC), as RFC 5321 permits a server to.
    Sensitive,
}

/// Folding rules particular to one mail provider, applied on top of case folding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderFolding {
    /// None: two addresses are one account only if they are the same address. The default.
    #[default]
    None,
    /// Gmail ignores dots in the local part and treats `googlemail.com` as `gmail.com`: fold
    /// them, so one mailbox cannot hold several accounts. `+tags` are still kept.
    GmailDots,
}

/// Computes the [`CanonicalEmail`] of an address.
///
/// Domain: lower-case A-label. Local part: NFC, then case-folded (unless
/// [`LocalPartCase::Sensitive`]), `+tags` kept. The result is a fixed point:
/// canonicalizing the canonical form again gives it back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Canonicalizer {
    case: LocalPartCase,
    provider: ProviderFolding,
}

impl Canonicalizer {
    /// The defaults: fold case, no provider folding.
    #[must_use]
    pub const fn new() -> Self {
        Self { case: LocalPartCase::Fold, provider: ProviderFolding::None }
    }

    /// Sets how the local part's case is treated.
    #[must_use]
    pub const fn local_part_case(mut self, case: LocalPartCase) -> Self {
        self.case = case;
        self
    }

    /// Sets provider-specific folding.
    #[must_use]
    pub const fn provider_folding(mut self, provider: ProviderFolding) -> Self {
        self.provider = provider;
        self
    }

    /// The canonical form of `address`.
    #[must_use]
    pub fn canonical(&self, address: &EmailAddress) -> CanonicalEmail {
        let mut local = match self.case {
            LocalPartCase::Fold if address.local_is_ascii() => {
                let local = address.local_part();
                if let Some(domain) = self.plain_domain(address) {
                    // The common case: one allocation, no Unicode work.
                    let mut out = String::with_capacity(local.len() + 1 + domain.len());
                    out.extend(local.chars().map(|c| c.to_ascii_lowercase()));
                    out.push('@');
                    out.push_str(domain);
                    return CanonicalEmail(out);
                }
                local.to_ascii_lowercase()
            }
            LocalPartCase::Fold => fold(address.local_part()),
            LocalPartCase::Sensitive => address.local_part().to_owned(),
        };
        let mut domain = address.domain_ascii();
        if self.provider == ProviderFolding::GmailDots
            && matches!(domain, "gmail.com" | "googlemail.com")
        {
            domain = "gmail.com";
            let (name, tag) = match local.split_once('+') {
                Some((name, tag)) => (name, Some(tag)),
                None => (local.as_str(), None),
            };
            let mut folded: String = name.chars().filter(|&c| c != '.').collect();
            if let Some(tag) = tag {
                folded.push('+');
                folded.push_str(tag);
            }
            local = folded;
        }
        let mut out = String::with_capacity(local.len() + 1 + domain.len());
        out.push_str(&local);
        out.push('@');
        out.push_str(domain);
        CanonicalEmail(out)
    }
}

impl Canonicalizer {
    /// The domain, when no provider rule applies to it.
    fn plain_domain<'a>(&self, address: &'a EmailAddress) -> Option<&'a str> {
        let domain = address.domain_ascii();
        let gmail = matches!(domain, "gmail.com" | "googlemail.com");
        (self.provider == ProviderFolding::None || !gmail).then_some(domain)
    }
}

/// Case folding to a fixed point: NFC, full case fold, NFC again, until nothing changes
/// (one round suffices for every string tested; the loop makes idempotence structural).
pub(crate) fn fold(s: &str) -> String {
    let mut current: String = s.nfc().collect();
    for _ in 0..4 {
        let next: String = caseless::default_case_fold_str(&current).nfc().collect();
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// The canonical form of an email address: store it with a unique index, look accounts up
/// by it. It is itself a valid address (`local@domain`), never shown to the user.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CanonicalEmail(String);

impl CanonicalEmail {
    /// The canonical string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CanonicalEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CanonicalEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CanonicalEmail").field(&self.0).finish()
    }
}

impl AsRef<str> for CanonicalEmail {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
