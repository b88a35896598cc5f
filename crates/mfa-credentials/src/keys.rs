//! Server-side keys with ids, so they can rotate.

use core::fmt;

use ring::hkdf;

use crate::{Error, Result, SecretBytes};

/// A ring of 256-bit server keys named by 32-bit ids: one current key that new values are
/// made with, and older keys kept to open or check values made before a rotation.
///
/// Each use derives its own subkey with HKDF-SHA256 (`info` names the purpose), so one master
/// key can serve sealing and recovery-code hashing without the two ever sharing a key.
///
/// ```
/// use mfa_credentials::{KeyRing, SecretBytes};
/// # fn main() -> Result<(), mfa_credentials::Error> {
/// let ring = KeyRing::new(2, SecretBytes::new(vec![0x42; 32]))?
///     .with_old_key(1, SecretBytes::new(vec![0x17; 32]))?;
/// assert_eq!(ring.current_id(), 2);
/// assert_eq!(format!("{ring:?}"), "KeyRing { current: 2, ids: [2, 1] }");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KeyRing {
    current: u32,
    keys: Vec<(u32, SecretBytes)>,
}

impl KeyRing {
    /// Key length in bytes.
    pub const KEY_LEN: usize = 32;

    /// A ring whose current key is `secret` (32 random bytes), named `id`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if the key is not 32 bytes.
    pub fn new(id: u32, secret: SecretBytes) -> Result<Self> {
        if secret.len() != Self::KEY_LEN {
            return Err(Error::InvalidKey);
        }
        Ok(Self { current: id, keys: vec![(id, secret)] })
    }

    /// Adds an older key, still usable to open and verify.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if the key is not 32 bytes or the id is taken.
    pub fn with_old_key(mut self, id: u32, secret: SecretBytes) -> Result<Self> {
        if secret.len() != Self::KEY_LEN || self.keys.iter().any(|(k, _)| *k == id) {
            return Err(Error::InvalidKey);
        }
        self.keys.push((id, secret));
        Ok(self)
    }

    /// The id of the key new values are made with.
    #[must_use]
    pub fn current_id(&self) -> u32 {
        self.current
    }

    /// Derives a 32-byte subkey for `purpose` from every key, keyed by id.
    pub(crate) fn derive(&self, purpose: &'static [u8]) -> Vec<(u32, [u8; 32])> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"mfa-credentials key ring v1");
        self.keys
            .iter()
            .map(|(id, key)| {
                let mut out = [0u8; 32];
                let info = [purpose];
                let ok = salt
                    .extract(key.expose_secret())
                    .expand(&info, Len32)
                    .and_then(|okm| okm.fill(&mut out));
                debug_assert!(ok.is_ok(), "HKDF of 32 bytes cannot fail");
                (*id, out)
            })
            .collect()
    }
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("KeyRing").field("current", &self.current).field("ids", &ids).finish()
    }
}
