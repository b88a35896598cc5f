//! Sealing secrets at rest: AES-256-GCM with a fresh random nonce, bound to an owner and a
//! purpose, under a rotating key ring.
//!
//! # Format (version 1)
//!
//! ```text
//! offset  size  field
//! 0       1     format version = 0x01
//! 1       4     key id, big-endian u32
//! 5       12    nonce (random, from the caller's CryptoRng)
//! 17      n     ciphertext (same length as the plaintext)
//! 17+n    16    GCM tag
//! ```
//!
//! The associated data (authenticated, not stored) is
//! `"mfa-seal\0" ‖ 0x01 ‖ key id (4) ‖ len(owner) (u32 BE) ‖ owner ‖ len(purpose) (u32 BE) ‖
//! purpose`, so a blob copied to another account's row (another owner) or used for another
//! purpose fails to open. The AES key is HKDF-SHA256 of the ring's key with info
//! `"mfa-credentials/seal/v1"`. A random 96-bit nonce bounds one key to about 2^32 seals;
//! rotate keys (new current id) long before that.

use core::fmt;

use rand_core::CryptoRng;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::{Error, KeyRing, Result, SecretBytes};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 4 + NONCE_LEN;
const TAG: usize = 16;

/// Seals and opens secrets with a [`KeyRing`].
///
/// ```
/// use mfa_credentials::{KeyRing, SecretBytes, Sealer};
/// # use rand_core::SeedableRng;
/// # fn main() -> Result<(), mfa_credentials::Error> {
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
/// let sealer = Sealer::new(&KeyRing::new(1, SecretBytes::new(vec![7; 32]))?);
/// let blob = sealer.seal(b"totp seed", b"account-42", "totp", &mut rng)?;
/// assert_eq!(sealer.open(&blob, b"account-42", "totp")?.expose_secret(), b"totp seed");
/// assert!(sealer.open(&blob, b"account-43", "totp").is_err());
/// # Ok(()) }
/// ```
pub struct Sealer {
    current: u32,
    keys: Vec<(u32, LessSafeKey)>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("Sealer").field("current", &self.current).field("ids", &ids).finish()
    }
}

impl Sealer {
    /// Derives the sealing keys from a key ring.
    #[must_use]
    pub fn new(ring: &KeyRing) -> Self {
        let keys = ring
            .derive(b"mfa-credentials/seal/v1")
            .into_iter()
            .filter_map(|(id, k)| {
                UnboundKey::new(&AES_256_GCM, &k).ok().map(|u| (id, LessSafeKey::new(u)))
            })
            .collect();
        Self { current: ring.current_id(), keys }
    }

    fn key(&self, id: u32) -> Result<&LessSafeKey> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, k)| k).ok_or(Error::UnknownKeyId)
    }

    /// Seals `plaintext` for `owner` (e.g. the account id) and `purpose` (e.g. `"totp"`) under
    /// the current key, with a nonce from `rng`.
    ///
    /// # Errors
    /// [`Error::SealOpenFailed`] only if the AEAD refuses (input beyond its limits).
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        plaintext: &[u8],
        owner: &[u8],
        purpose: &str,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        let key = self.key(self.current)?;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(HEADER + plaintext.len() + TAG);
        out.push(VERSION);
        out.extend_from_slice(&self.current.to_be_bytes());
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        let aad = aad(self.current, owner, purpose);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad[..]),
            &mut body,
        )
        .map_err(|_| Error::SealOpenFailed)?;
        out.extend_from_slice(&body);
        zeroize::Zeroize::zeroize(&mut body);
        Ok(out)
    }

    /// Opens a blob sealed for `owner` and `purpose`, with whichever key of the ring it names.
    ///
    /// # Errors
    /// [`Error::SealedBlobMalformed`] (too short, unknown version), [`Error::UnknownKeyId`],
    /// [`Error::SealOpenFailed`] (tampered, other owner or purpose).
    pub fn open(&self, blob: &[u8], owner: &[u8], purpose: &str) -> Result<SecretBytes> {
        let (id, nonce, body) = parse(blob)?;
        let key = self.key(id)?;
        let mut buf = body.to_vec();
        let aad = aad(id, owner, purpose);
        let plain_len = key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(&aad[..]), &mut buf)
            .map_err(|_| Error::SealOpenFailed)?
            .len();
        buf.truncate(plain_len);
        Ok(SecretBytes::from(buf))
    }

    /// Whether a blob was sealed with another key than the current one (re-seal it: open,
    /// then seal, after a key rotation).
    ///
    /// # Errors
    /// [`Error::SealedBlobMalformed`] if the blob does not parse.
    pub fn needs_reseal(&self, blob: &[u8]) -> Result<bool> {
        Ok(parse(blob)?.0 != self.current)
    }
}

fn parse(blob: &[u8]) -> Result<(u32, [u8; NONCE_LEN], &[u8])> {
    if blob.len() < HEADER + TAG || blob.first() != Some(&VERSION) {
        return Err(Error::SealedBlobMalformed);
    }
    let id = blob.get(1..5).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
    let nonce = blob.get(5..HEADER).and_then(|b| b.try_into().ok());
    match (id, nonce, blob.get(HEADER..)) {
        (Some(id), Some(nonce), Some(body)) => Ok((id, nonce, body)),
        _ => Err(Error::SealedBlobMalformed),
    }
}

fn aad(id: u32, owner: &[u8], purpose: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(9 + 1 + 4 + 8 + owner.len() + purpose.len());
    a.extend_from_slice(b"mfa-seal\0");
    a.push(VERSION);
    a.extend_from_slice(&id.to_be_bytes());
    for part in [owner, purpose.as_bytes()] {
        // Lengths beyond u32 cannot reach here in practice; saturate rather than wrap.
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        a.extend_from_slice(&len.to_be_bytes());
        a.extend_from_slice(part);
    }
    a
}
