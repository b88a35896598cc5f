//! Algorithm, digits and period.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::ImportError;

/// The HMAC hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA-1: the only one every authenticator app supports.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name in an otpauth URI.
    #[must_use]
    pub const fn uri_name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    pub(crate) fn from_uri_name(s: &str) -> Result<Self, ImportError> {
        match s.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(ImportError::Algorithm),
        }
    }

    pub(crate) const fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

/// The longest time step accepted (seconds).
pub const MAX_PERIOD: u32 = 60;

/// Algorithm, number of digits and period of a TOTP credential.
///
/// [`Profile::DEFAULT`] (SHA-1, 6 digits, 30 s) is what Google Authenticator and Microsoft
/// Authenticator both accept; anything else is an explicit choice through [`Profile::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawProfile", into = "RawProfile")]
pub struct Profile {
    algorithm: Algorithm,
    digits: u8,
    period: u32,
}

#[derive(Serialize, Deserialize)]
struct RawProfile {
    algorithm: Algorithm,
    digits: u8,
    period: u32,
}

impl TryFrom<RawProfile> for Profile {
    type Error = ImportError;
    fn try_from(r: RawProfile) -> Result<Self, Self::Error> {
        Self::new(r.algorithm, r.digits, r.period)
    }
}

impl From<Profile> for RawProfile {
    fn from(p: Profile) -> Self {
        Self { algorithm: p.algorithm, digits: p.digits, period: p.period }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Profile {
    /// SHA-1, 6 digits, 30 seconds.
    pub const DEFAULT: Self = Self { algorithm: Algorithm::Sha1, digits: 6, period: 30 };

    /// Another profile, chosen explicitly: 6–8 digits, a period of 15–60 seconds (a longer
    /// time step leaves a stolen code usable for minutes).
    ///
    /// # Errors
    /// [`ImportError::Digits`] or [`ImportError::Period`].
    pub const fn new(algorithm: Algorithm, digits: u8, period: u32) -> Result<Self, ImportError> {
        if digits < 6 || digits > 8 {
            return Err(ImportError::Digits);
        }
        if period < 15 || period > MAX_PERIOD {
            return Err(ImportError::Period);
        }
        Ok(Self { algorithm, digits, period })
    }

    /// The HMAC hash.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Digits per code.
    #[must_use]
    pub const fn digits(&self) -> u8 {
        self.digits
    }

    /// Seconds per step.
    #[must_use]
    pub const fn period(&self) -> u32 {
        self.period
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}s", self.algorithm.uri_name(), self.digits, self.period)
    }
}
