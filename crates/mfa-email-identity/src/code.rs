//! One-time codes sent by email (the email second factor): short, single use, stored as a
//! keyed hash.

use core::fmt;
use std::time::{Duration, SystemTime};

use rand_core::CryptoRng;
use ring::hmac;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::time::{deadline, from_unix, unix};

/// Why an issuer configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailCodeConfigError {
    /// The key is shorter than 32 bytes.
    #[error("the code key must be at least 32 bytes")]
    KeyTooShort,
    /// Digits outside 6–8.
    #[error("codes have 6 to 8 digits")]
    Digits,
    /// A lifetime of zero or over one hour.
    #[error("a code lives between 1 second and 1 hour")]
    Ttl,
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmailCodeError {
    /// Not the configured number of digits (after removing spaces and dashes).
    #[error("the code must be {digits} digits")]
    Malformed {
        /// The configured number of digits.
        digits: u8,
    },
    /// Wrong code. The caller counts these (throttling in `mfa-flow`).
    #[error("the code is not correct")]
    Mismatch,
    /// The code's time ran out.
    #[error("the code has expired")]
    Expired,
    /// The code was used already.
    #[error("the code has already been used")]
    AlreadyUsed,
}

/// The code to put in the email. `Debug` is redacted; wiped on drop.
#[derive(Clone)]
pub struct EmailCode(Zeroizing<String>);

impl EmailCode {
    /// The digits.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailCode([REDACTED])")
    }
}

/// What to store until the code is used: a keyed hash, its salt, expiry and use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEmailCode {
    salt: [u8; 16],
    tag: [u8; 32],
    expires: u64,
    digits: u8,
    used: bool,
}

impl PendingEmailCode {
    /// When the code stops working.
    #[must_use]
    pub fn expires(&self) -> SystemTime {
        from_unix(self.expires)
    }

    /// Whether the code was used.
    #[must_use]
    pub fn is_used(&self) -> bool {
        self.used
    }
}

/// Issues and checks email codes.
///
/// The stored form is an HMAC-SHA-256 under the issuer's key, not a bare hash: a code has
/// only 20–27 bits, so a hash without a key would fall to a brute force the moment a row
/// leaked. Keep the key out of the database (derive it from the key ring that seals
/// secrets).
pub struct EmailCodeIssuer {
    key: hmac::Key,
    digits: u8,
    ttl: Duration,
}

impl fmt::Debug for EmailCodeIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailCodeIssuer")
            .field("digits", &self.digits)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl EmailCodeIssuer {
    /// An issuer of 6-digit codes that live 10 minutes.
    ///
    /// # Errors
    /// [`EmailCodeConfigError::KeyTooShort`] below 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, EmailCodeConfigError> {
        if key.len() < 32 {
            return Err(EmailCodeConfigError::KeyTooShort);
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            digits: 6,
            ttl: Duration::from_secs(600),
        })
    }

    /// Sets the number of digits (6–8).
    ///
    /// # Errors
    /// [`EmailCodeConfigError::Digits`].
    pub fn digits(mut self, digits: u8) -> Result<Self, EmailCodeConfigError> {
        if !(6..=8).contains(&digits) {
            return Err(EmailCodeConfigError::Digits);
        }
        self.digits = digits;
        Ok(self)
    }

    /// Sets the lifetime (1 s – 1 h).
    ///
    /// # Errors
    /// [`EmailCodeConfigError::Ttl`].
    pub fn ttl(mut self, ttl: Duration) -> Result<Self, EmailCodeConfigError> {
        if ttl.as_secs() == 0 || ttl > Duration::from_secs(3600) {
            return Err(EmailCodeConfigError::Ttl);
        }
        self.ttl = ttl;
        Ok(self)
    }

    /// Draws a code for `account` (uniformly: rejection sampling, no modulo bias).
    pub fn issue<R: CryptoRng + ?Sized>(
        &self,
        account: &str,
        now: SystemTime,
        rng: &mut R,
    ) -> (EmailCode, PendingEmailCode) {
        let modulus = 10u32.pow(u32::from(self.digits));
        let limit = u32::MAX - u32::MAX % modulus;
        let value = loop {
            let mut b = [0u8; 4];
            rng.fill_bytes(&mut b);
            let v = u32::from_le_bytes(b);
            if v < limit {
                break v % modulus;
            }
        };
        let code = Zeroizing::new(format!("{value:0width$}", width = usize::from(self.digits)));
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let tag = self.tag(&salt, account, &code);
        let pending = PendingEmailCode {
            salt,
            tag,
            expires: deadline(now, self.ttl),
            digits: self.digits,
            used: false,
        };
        (EmailCode(code), pending)
    }

    /// Checks a typed code (spaces and dashes ignored, full-width digits accepted) and marks
    /// the pending code used on success. Store the updated value with a compare-and-swap.
    ///
    /// # Errors
    /// [`EmailCodeError`]: used, expired, malformed or wrong.
    pub fn verify(
        &self,
        account: &str,
        pending: &mut PendingEmailCode,
        input: &str,
        now: SystemTime,
    ) -> Result<(), EmailCodeError> {
        if pending.used {
            return Err(EmailCodeError::AlreadyUsed);
        }
        if unix(now) >= pending.expires {
            return Err(EmailCodeError::Expired);
        }
        let digits = pending.digits;
        let code: Zeroizing<String> = Zeroizing::new(
            input.chars().take(64).nfkc().filter(|c| !c.is_whitespace() && *c != '-').collect(),
        );
        if input.len() > 256
            || code.len() != usize::from(digits)
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(EmailCodeError::Malformed { digits });
        }
        let tag = self.tag(&pending.salt, account, &code);
        if !bool::from(tag.ct_eq(&pending.tag)) {
            return Err(EmailCodeError::Mismatch);
        }
        pending.used = true;
        Ok(())
    }

    fn tag(&self, salt: &[u8; 16], account: &str, code: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"mfa-email-code/v1\0");
        ctx.update(salt);
        ctx.update(&u32::try_from(account.len()).unwrap_or(u32::MAX).to_be_bytes());
        ctx.update(account.as_bytes());
        ctx.update(code.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}
