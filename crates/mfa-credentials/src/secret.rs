//! Secret values: redacted `Debug`, zeroized on drop, compared in constant time.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes that must stay secret: a TOTP seed, a key, an opened sealed blob.
///
/// `Debug` prints `SecretBytes([REDACTED; n])`, the memory is wiped on drop, the type is not
/// `Serialize`, and equality is constant time ([`ConstantTimeEq`]). Read the bytes with
/// [`SecretBytes::expose_secret`], a name that is easy to find in review.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Box<[u8]>);

impl SecretBytes {
    /// Wraps bytes. The caller's copy, if any, is the caller's to wipe.
    #[must_use]
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Self {
        Self(bytes.into())
    }

    /// The secret bytes.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes (not secret).
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v.into_boxed_slice())
    }
}

impl ConstantTimeEq for SecretBytes {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

/// A string that must stay secret (a recovery code as shown to the user, a password).
///
/// Same guarantees as [`SecretBytes`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a string.
    #[must_use]
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The secret text.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl ConstantTimeEq for SecretString {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = SecretBytes::new(b"hunter2-hunter2".to_vec());
        let shown = format!("{s:?} {:?}", SecretString::new("hunter2".into()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("104"), "no byte values either: {shown}");
    }

    #[test]
    fn equality_is_by_value() {
        assert_eq!(SecretBytes::new(vec![1, 2, 3]), SecretBytes::new(vec![1, 2, 3]));
        assert_ne!(SecretBytes::new(vec![1, 2, 3]), SecretBytes::new(vec![1, 2, 4]));
        assert_ne!(SecretBytes::new(vec![1, 2]), SecretBytes::new(vec![1, 2, 3]));
        assert_eq!(SecretString::new("a".into()), SecretString::new("a".into()));
        assert_ne!(SecretString::new("a".into()), SecretString::new("b".into()));
    }
}
