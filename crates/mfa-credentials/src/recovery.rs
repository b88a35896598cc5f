//! Recovery codes: single-use second factors of last resort, so that a lost phone does not
//! lock a user out.
//!
//! A code is 10 characters of Crockford's base32 alphabet (`0-9a-z` without `i l o u`: no
//! look-alikes), 50 bits of entropy, shown as `k7p3x-9m2qd`. Input is forgiving: case, spaces
//! and dashes are ignored, and `o`, `i`, `l` are read as `0`, `1`, `1`.
//!
//! Only HMAC-SHA256 tags of the codes are stored, keyed with a server key from a [`KeyRing`]
//! (subkey info `"mfa-credentials/recovery/v1"`) and a per-set salt. A keyed hash, not a
//! password hash: 50-bit codes under a fast unkeyed hash could be brute-forced from a stolen
//! database, while a keyed tag cannot be checked without the server key, and consuming a code
//! costs microseconds instead of ten argon2 runs.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand_core::CryptoRng;
use ring::hmac;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::{Error, KeyRing, Result, SecretString};

/// The alphabet codes are drawn from (Crockford base32, lower case).
pub const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters per code.
pub const CODE_LEN: usize = 10;
/// Codes per set by default.
pub const DEFAULT_COUNT: usize = 10;

/// A recovery code to show the user once. `Display` gives `k7p3x-9m2qd`; `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(SecretString);

impl RecoveryCode {
    /// The code as shown (`k7p3x-9m2qd`).
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([REDACTED])")
    }
}

/// A stored set of recovery codes: their tags and which are used. Store it as
/// [`RecoveryCodeSet::to_stored`]; it holds no code in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodeSet {
    key_id: u32,
    salt: [u8; 16],
    slots: Vec<([u8; 32], bool)>,
}

impl fmt::Debug for RecoveryCodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodeSet")
            .field("key_id", &self.key_id)
            .field("total", &self.slots.len())
            .field("remaining", &self.remaining())
            .finish_non_exhaustive()
    }
}

/// What consuming a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    /// Which code of the set (0-based, in the order shown at generation).
    pub index: usize,
    /// Unused codes left after this one.
    pub remaining: usize,
}

impl RecoveryCodeSet {
    /// Codes not used yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.slots.iter().filter(|(_, used)| !used).count()
    }

    /// Codes in the set.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the set has no codes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The id of the key the tags were made with.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The storage form: `rc1$<key id>$<salt>$<tag>,<tag>,…`, base64url tags, a used tag
    /// prefixed by `!`.
    #[must_use]
    pub fn to_stored(&self) -> String {
        let slots: Vec<String> = self
            .slots
            .iter()
            .map(|(tag, used)| format!("{}{}", if *used { "!" } else { "" }, B64.encode(tag)))
            .collect();
        format!("rc1${}${}${}", self.key_id, B64.encode(self.salt), slots.join(","))
    }

    /// Parses [`RecoveryCodeSet::to_stored`]'s form.
    ///
    /// # Errors
    /// [`Error::RecoveryCodeSetMalformed`] for anything else.
    pub fn from_stored(s: &str) -> Result<Self> {
        let bad = Error::RecoveryCodeSetMalformed;
        let mut parts = s.split('$');
        let (Some("rc1"), Some(id), Some(salt), Some(slots), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad);
        };
        if id.is_empty() || id.len() > 10 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad);
        }
        let key_id: u32 = id.parse().map_err(|_| bad.clone())?;
        let salt: [u8; 16] =
            B64.decode(salt).ok().and_then(|v| v.try_into().ok()).ok_or(bad.clone())?;
        let slots = slots
            .split(',')
            .take(MAX_CODES + 1)
            .map(|slot| {
                let (used, tag) = slot.strip_prefix('!').map_or((false, slot), |t| (true, t));
                let tag: [u8; 32] = B64.decode(tag).ok().and_then(|v| v.try_into().ok())?;
                Some((tag, used))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(bad.clone())?;
        if slots.is_empty() || slots.len() > MAX_CODES {
            return Err(bad);
        }
        Ok(Self { key_id, salt, slots })
    }
}

const MAX_CODES: usize = 64;

/// Generates and consumes recovery codes with keys from a [`KeyRing`].
///
/// ```
/// use mfa_credentials::{KeyRing, RecoveryCodes, SecretBytes};
/// # use rand_core::SeedableRng;
/// # fn main() -> Result<(), mfa_credentials::Error> {
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
/// let codes = RecoveryCodes::new(&KeyRing::new(1, SecretBytes::new(vec![9; 32]))?);
/// let (shown, mut set) = codes.generate(10, &mut rng);
/// let typed = shown[3].expose_secret().to_uppercase().replace('-', " ");
/// let used = codes.consume(&mut set, &typed)?;
/// assert_eq!((used.index, used.remaining), (3, 9));
/// assert!(codes.consume(&mut set, &typed).is_err(), "a code works once");
/// # Ok(()) }
/// ```
pub struct RecoveryCodes {
    current: u32,
    keys: Vec<(u32, hmac::Key)>,
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodes").field("current", &self.current).finish_non_exhaustive()
    }
}

impl RecoveryCodes {
    /// Derives the tagging keys from a key ring.
    #[must_use]
    pub fn new(ring: &KeyRing) -> Self {
        let keys = ring
            .derive(b"mfa-credentials/recovery/v1")
            .into_iter()
            .map(|(id, k)| (id, hmac::Key::new(hmac::HMAC_SHA256, &k)))
            .collect();
        Self { current: ring.current_id(), keys }
    }

    /// Generates `count` codes (1–64; [`DEFAULT_COUNT`] is 10): the codes to show once, and
    /// the set to store.
    pub fn generate<R: CryptoRng + ?Sized>(
        &self,
        count: usize,
        rng: &mut R,
    ) -> (Vec<RecoveryCode>, RecoveryCodeSet) {
        let count = count.clamp(1, MAX_CODES);
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let mut shown = Vec::with_capacity(count);
        let mut slots = Vec::with_capacity(count);
        for _ in 0..count {
            let mut raw = [0u8; CODE_LEN];
            rng.fill_bytes(&mut raw);
            // 256 is a multiple of 32: taking 5 bits of each byte is unbiased.
            let code: [u8; CODE_LEN] = raw.map(|b| ALPHABET[usize::from(b & 31)]);
            slots.push((self.tag(self.current, &salt, &code), false));
            let (a, b) = code.split_at(5);
            let text = format!("{}-{}", String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            shown.push(RecoveryCode(SecretString::new(text)));
            zeroize::Zeroize::zeroize(&mut raw);
        }
        (shown, RecoveryCodeSet { key_id: self.current, salt, slots })
    }

    fn tag(&self, key_id: u32, salt: &[u8; 16], code: &[u8; CODE_LEN]) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == key_id) {
            let mut ctx = hmac::Context::with_key(key);
            ctx.update(b"mfa-recovery\0");
            ctx.update(salt);
            ctx.update(code);
            out.copy_from_slice(ctx.sign().as_ref());
        }
        out
    }

    /// Consumes a code: marks it used in `set` and says which it was. Every slot is compared,
    /// in constant time, whatever matches. Persist the updated set atomically (compare-and-
    /// swap on the old stored form, see `mfa-flow`), so two requests cannot both use it.
    ///
    /// # Errors
    /// [`Error::RecoveryCodeMalformed`] (wrong length or characters),
    /// [`Error::RecoveryCodeUsed`], [`Error::RecoveryCodeInvalid`], or
    /// [`Error::UnknownKeyId`] if the set's key is not in the ring.
    pub fn consume(&self, set: &mut RecoveryCodeSet, input: &str) -> Result<Consumed> {
        let code = normalize(input)?;
        if !self.keys.iter().any(|(id, _)| *id == set.key_id) {
            return Err(Error::UnknownKeyId);
        }
        let tag = self.tag(set.key_id, &set.salt, &code);
        let mut found = Choice::from(0);
        let mut found_used = Choice::from(0);
        let mut index = 0u64;
        for (i, (stored, used)) in set.slots.iter().enumerate() {
            let hit = stored.ct_eq(&tag);
            let used = Choice::from(u8::from(*used));
            found |= hit & !used;
            found_used |= hit & used;
            index.conditional_assign(&(i as u64), hit & !used);
        }
        if bool::from(found) {
            let index = usize::try_from(index).map_err(|_| Error::RecoveryCodeInvalid)?;
            if let Some(slot) = set.slots.get_mut(index) {
                slot.1 = true;
            }
            return Ok(Consumed { index, remaining: set.remaining() });
        }
        Err(if bool::from(found_used) {
            Error::RecoveryCodeUsed
        } else {
            Error::RecoveryCodeInvalid
        })
    }
}

/// Normalizes typed input: drops spaces and dashes, lower-cases, reads `o`→`0`, `i`/`l`→`1`.
///
/// # Errors
/// [`Error::RecoveryCodeMalformed`] if the result is not 10 characters of the alphabet.
pub fn normalize(input: &str) -> Result<[u8; CODE_LEN]> {
    let mut out = [0u8; CODE_LEN];
    let mut n = 0;
    for c in input.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        let c = match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        };
        let Ok(b) = u8::try_from(c) else { return Err(Error::RecoveryCodeMalformed) };
        if !ALPHABET.contains(&b) || n == CODE_LEN {
            return Err(Error::RecoveryCodeMalformed);
        }
        out[n] = b;
        n += 1;
    }
    if n != CODE_LEN {
        return Err(Error::RecoveryCodeMalformed);
    }
    Ok(out)
}
