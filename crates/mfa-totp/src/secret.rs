//! The shared secret.

use core::fmt;

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::ImportError;

/// Bytes of a new secret: 160 bits, RFC 4226's recommended length and what both
/// Google and Microsoft Authenticator expect.
pub const NEW_SECRET_BYTES: usize = 20;
/// The shortest secret accepted from an import (80 bits: older systems issued these).
pub const MIN_IMPORT_BYTES: usize = 10;
/// Imported secrets shorter than this (112 bits, NIST SP 800-63B-4 §3.1.4.1) are accepted
/// for migration but weak: ask the user to set the app up again. New secrets are 160 bits.
pub const STRONG_SECRET_BYTES: usize = 14;
/// The longest secret accepted (a SHA-512 block).
pub const MAX_SECRET_BYTES: usize = 128;

/// A TOTP shared secret. `Debug` is redacted, the bytes are wiped on drop, equality is
/// constant time, and the type is not `Serialize`: seal it (`mfa-credentials`' `Sealer`)
/// before it is stored.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TotpSecret(Box<[u8]>);

impl TotpSecret {
    /// Draws a new 160-bit secret.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut b = vec![0u8; NEW_SECRET_BYTES];
        rng.fill_bytes(&mut b);
        Self(b.into_boxed_slice())
    }

    /// Wraps secret bytes (for instance, just unsealed).
    ///
    /// # Errors
    /// [`ImportError::SecretLength`] outside 10–128 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ImportError> {
        if !(MIN_IMPORT_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(ImportError::SecretLength { bytes: bytes.len() });
        }
        Ok(Self(bytes.into()))
    }

    /// Parses a base32 secret as people and other systems write it: any case, with or
    /// without `=` padding, with spaces or dashes between groups.
    ///
    /// # Errors
    /// [`ImportError::Base32`] for other characters or a length no encoder produces;
    /// [`ImportError::SecretLength`] for fewer than 80 or more than 1024 bits.
    pub fn from_base32(input: &str) -> Result<Self, ImportError> {
        if input.len() > 4 * MAX_SECRET_BYTES {
            return Err(ImportError::SecretLength { bytes: input.len() * 5 / 8 });
        }
        let cleaned: Zeroizing<String> = Zeroizing::new(
            input
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        let body = cleaned.trim_end_matches('=');
        // Padding, when present, must be the right amount; base32 of n bytes never has a
        // length ≡ 1, 3 or 6 (mod 8).
        let padded_ok = body.len() == cleaned.len() || cleaned.len().is_multiple_of(8);
        if !padded_ok || matches!(body.len() % 8, 1 | 3 | 6) {
            return Err(ImportError::Base32);
        }
        if !body.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)) {
            return Err(ImportError::Base32);
        }
        let bytes = Zeroizing::new(
            base32::decode(base32::Alphabet::Rfc4648 { padding: false }, body)
                .ok_or(ImportError::Base32)?,
        );
        Self::from_bytes(&bytes)
    }

    /// Unpadded upper-case base32: the form that goes into the otpauth URI and that a
    /// person types when they cannot scan.
    #[must_use]
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &self.0))
    }

    /// The secret bytes, to seal.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes (not secret).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a secret has at least 10 bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TotpSecret([REDACTED; {}])", self.0.len())
    }
}

impl PartialEq for TotpSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TotpSecret {}
