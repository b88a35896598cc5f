//! Recovery codes: single-use second factors of last resort, so that a lost phone does not
//! lock a user out.
//!
//! A code is 15 characters of Crockford's base32 alphabet (`0-9a-z` without `i l o u`: no
//! look-alikes), shown in three groups as `3k7p3-x9m2q-d4fwz`. The first character names the
//! code's slot in its set (public: it only saves the verifier from trying every slot); the
//! other 14 are random: 70 bits. Input is forgiving: case, spaces and dashes are ignored, and
//! `o`, `i`, `l` are read as `0`, `1`, `1`.
//!
//! NIST SP 800-63B-4 (§3.1.2.2) asks for look-up secrets of fewer than 112 bits to be stored
//! with a salted password-hashing scheme, so a stolen database does not yield them. Each code
//! is first tagged with HMAC-SHA256 under a server key from a [`KeyRing`] (subkey info
//! `"mfa-credentials/recovery/v2"`: without the key a stolen row cannot even be attacked),
//! and the tag is then hashed with the password hasher (argon2id, its own salt per code).
//! The slot character makes consuming a code one hash, not one per code of the set: measure
//! it beside one argon2id hash (`benches`).
//!
//! Sets stored by earlier versions (`rc1$…`: 10-character codes, keyed tags only) still
//! verify, so nobody's codes stop working; new sets are always `rc2$…`.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand_core::CryptoRng;
use ring::hmac;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::{Error, KeyRing, Password, PasswordHasher, Result, SecretString};

/// The alphabet codes are drawn from (Crockford base32, lower case).
pub const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters per code (the slot character and 14 random ones).
pub const CODE_LEN: usize = 15;
/// Characters per code of the sets stored by earlier versions (`rc1$…`).
pub const LEGACY_CODE_LEN: usize = 10;
/// Codes per set by default.
pub const DEFAULT_COUNT: usize = 10;
/// Codes per set at most (one slot character each).
pub const MAX_COUNT: usize = 32;

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

/// A stored set of recovery codes: one hash per code, and which are used. Store it as
/// [`RecoveryCodeSet::to_stored`]; it holds no code in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodeSet {
    key_id: u32,
    kind: SetKind,
}

#[derive(Clone, PartialEq, Eq)]
enum SetKind {
    /// `rc1$`: keyed tags of 10-character codes, under one salt.
    Legacy { salt: [u8; 16], slots: Vec<([u8; 32], bool)> },
    /// `rc2$`: a password hash per slot (`None` once used).
    Hashed { slots: Vec<Option<String>> },
}

/// What it takes to check a code against a set: which slot it names, and, for a set of this
/// version, the one password hash to verify ([`RecoveryCodes::check`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Check {
    /// The code matched (a set of the earlier version, checked by its keyed tag).
    Matched {
        /// The slot.
        index: usize,
    },
    /// Verify `input` against `stored` with the password hasher (a pool); if it matches,
    /// [`RecoveryCodeSet::mark_used`] the slot.
    Verify {
        /// The slot the code names.
        index: usize,
        /// The code's keyed tag, as the hasher's input.
        input: Password,
        /// The slot's stored hash.
        stored: String,
    },
}

/// A new set whose codes still have to be hashed: hash each of [`PendingSet::inputs`] with
/// the password hasher (a pool: it is the expensive part), then
/// [`RecoveryCodeSet::from_hashes`].
pub struct PendingSet {
    key_id: u32,
    inputs: Vec<Password>,
}

impl fmt::Debug for PendingSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSet").field("codes", &self.inputs.len()).finish_non_exhaustive()
    }
}

impl PendingSet {
    /// The key the codes were tagged with.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The inputs to hash, in the order of the codes.
    #[must_use]
    pub fn into_inputs(self) -> Vec<Password> {
        self.inputs
    }
}

impl fmt::Debug for RecoveryCodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodeSet")
            .field("key_id", &self.key_id)
            .field("version", &if self.is_legacy() { 1 } else { 2 })
            .field("total", &self.len())
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
        match &self.kind {
            SetKind::Legacy { slots, .. } => slots.iter().filter(|(_, used)| !used).count(),
            SetKind::Hashed { slots } => slots.iter().filter(|h| h.is_some()).count(),
        }
    }

    /// Codes in the set.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.kind {
            SetKind::Legacy { slots, .. } => slots.len(),
            SetKind::Hashed { slots } => slots.len(),
        }
    }

    /// Whether the set has no codes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the set is of the earlier version (`rc1$`: keyed tags only): suggest new codes.
    #[must_use]
    pub fn is_legacy(&self) -> bool {
        matches!(self.kind, SetKind::Legacy { .. })
    }

    /// A set of this version from the hashes of a [`PendingSet`]'s inputs, in order.
    ///
    /// # Errors
    /// [`Error::RecoveryCodeSetMalformed`] for no hashes, too many, or a hash that could not
    /// be stored (it holds the set's separator).
    pub fn from_hashes(key_id: u32, hashes: Vec<String>) -> Result<Self> {
        if hashes.is_empty()
            || hashes.len() > MAX_COUNT
            || hashes.iter().any(|h| h.is_empty() || h.contains([';', '!']))
        {
            return Err(Error::RecoveryCodeSetMalformed);
        }
        Ok(Self { key_id, kind: SetKind::Hashed { slots: hashes.into_iter().map(Some).collect() } })
    }

    /// Marks the slot used (after [`Check::Verify`] matched); says how many remain.
    ///
    /// # Errors
    /// [`Error::RecoveryCodeUsed`] if it was used meanwhile, [`Error::RecoveryCodeInvalid`]
    /// for no such slot.
    pub fn mark_used(&mut self, index: usize) -> Result<Consumed> {
        match &mut self.kind {
            SetKind::Legacy { slots, .. } => {
                let slot = slots.get_mut(index).ok_or(Error::RecoveryCodeInvalid)?;
                if slot.1 {
                    return Err(Error::RecoveryCodeUsed);
                }
                slot.1 = true;
            }
            SetKind::Hashed { slots } => {
                let slot = slots.get_mut(index).ok_or(Error::RecoveryCodeInvalid)?;
                if slot.take().is_none() {
                    return Err(Error::RecoveryCodeUsed);
                }
            }
        }
        Ok(Consumed { index, remaining: self.remaining() })
    }

    /// The id of the key the tags were made with.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The storage form: `rc2$<key id>$<hash>;<hash>;…` (a used slot is `!`), or for a set of
    /// the earlier version `rc1$<key id>$<salt>$<tag>,<tag>,…` (base64url tags, a used tag
    /// prefixed by `!`).
    #[must_use]
    pub fn to_stored(&self) -> String {
        match &self.kind {
            SetKind::Legacy { salt, slots } => {
                let slots: Vec<String> = slots
                    .iter()
                    .map(|(tag, used)| {
                        format!("{}{}", if *used { "!" } else { "" }, B64.encode(tag))
                    })
                    .collect();
                format!("rc1${}${}${}", self.key_id, B64.encode(salt), slots.join(","))
            }
            SetKind::Hashed { slots } => {
                let slots: Vec<&str> = slots.iter().map(|h| h.as_deref().unwrap_or("!")).collect();
                format!("rc2${}${}", self.key_id, slots.join(";"))
            }
        }
    }

    /// Parses [`RecoveryCodeSet::to_stored`]'s forms.
    ///
    /// # Errors
    /// [`Error::RecoveryCodeSetMalformed`] for anything else.
    pub fn from_stored(s: &str) -> Result<Self> {
        let bad = Error::RecoveryCodeSetMalformed;
        let mut parts = s.splitn(3, '$');
        let (Some(version), Some(id), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad);
        };
        if id.is_empty() || id.len() > 10 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad);
        }
        let key_id: u32 = id.parse().map_err(|_| bad.clone())?;
        match version {
            "rc1" => Self::legacy_from_stored(key_id, rest),
            "rc2" => {
                let slots: Vec<Option<String>> = rest
                    .split(';')
                    .take(MAX_COUNT + 1)
                    .map(|h| match h {
                        "!" => Ok(None),
                        h if h.starts_with("$argon2") && h.len() <= 512 && !h.contains('!') => {
                            Ok(Some(h.to_owned()))
                        }
                        _ => Err(bad.clone()),
                    })
                    .collect::<Result<_>>()?;
                if slots.is_empty() || slots.len() > MAX_COUNT {
                    return Err(bad);
                }
                Ok(Self { key_id, kind: SetKind::Hashed { slots } })
            }
            _ => Err(bad),
        }
    }

    fn legacy_from_stored(key_id: u32, rest: &str) -> Result<Self> {
        let bad = Error::RecoveryCodeSetMalformed;
        let mut parts = rest.split('$');
        let (Some(salt), Some(slots), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad);
        };
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
        Ok(Self { key_id, kind: SetKind::Legacy { salt, slots } })
    }
}

/// Codes per set of the earlier version at most.
const MAX_CODES: usize = 64;

/// Generates and checks recovery codes with keys from a [`KeyRing`] and a
/// [`PasswordHasher`] (or a pool of them: see [`RecoveryCodes::check`]).
///
/// ```
/// use mfa_credentials::{HashParams, KeyRing, PasswordHasher, RecoveryCodes, SecretBytes};
/// # use rand_core::SeedableRng;
/// # fn main() -> Result<(), mfa_credentials::Error> {
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
/// let codes = RecoveryCodes::new(&KeyRing::new(1, SecretBytes::new(vec![9; 32]))?);
/// let hasher = PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build()?;
/// let (shown, mut set) = codes.generate_with(&hasher, 10, &mut rng)?;
/// let typed = shown[3].expose_secret().to_uppercase().replace('-', " ");
/// let used = codes.consume_with(&hasher, &mut set, &typed)?;
/// assert_eq!((used.index, used.remaining), (3, 9));
/// assert!(codes.consume_with(&hasher, &mut set, &typed).is_err(), "a code works once");
/// # Ok(()) }
/// ```
pub struct RecoveryCodes {
    current: u32,
    keys: Vec<(u32, hmac::Key)>,
    legacy: Vec<(u32, hmac::Key)>,
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
        let derive = |info: &'static [u8]| -> Vec<(u32, hmac::Key)> {
            ring.derive(info)
                .into_iter()
                .map(|(id, k)| (id, hmac::Key::new(hmac::HMAC_SHA256, &k)))
                .collect()
        };
        Self {
            current: ring.current_id(),
            keys: derive(b"mfa-credentials/recovery/v2"),
            legacy: derive(b"mfa-credentials/recovery/v1"),
        }
    }

    /// Draws `count` codes (1–32; [`DEFAULT_COUNT`] is 10): the codes to show once, and what
    /// to hash before the set can be stored.
    ///
    /// # Errors
    /// None in practice (the hasher's inputs are short ASCII strings, always passwords).
    pub fn generate<R: CryptoRng + ?Sized>(
        &self,
        count: usize,
        rng: &mut R,
    ) -> Result<(Vec<RecoveryCode>, PendingSet)> {
        let count = count.clamp(1, MAX_COUNT);
        let mut shown = Vec::with_capacity(count);
        let mut inputs = Vec::with_capacity(count);
        for (slot, &name) in ALPHABET.iter().enumerate().take(count) {
            let mut raw = [0u8; CODE_LEN - 1];
            rng.fill_bytes(&mut raw);
            let mut code = [0u8; CODE_LEN];
            code[0] = name;
            // 256 is a multiple of 32: taking 5 bits of each byte is unbiased.
            for (c, b) in code[1..].iter_mut().zip(raw) {
                *c = ALPHABET[usize::from(b & 31)];
            }
            inputs.push(self.input(self.current, &code)?);
            let text = format!(
                "{}-{}-{}",
                String::from_utf8_lossy(&code[..5]),
                String::from_utf8_lossy(&code[5..10]),
                String::from_utf8_lossy(&code[10..])
            );
            debug_assert_eq!(usize::from(code[0]), usize::from(ALPHABET[slot]));
            shown.push(RecoveryCode(SecretString::new(text)));
            zeroize::Zeroize::zeroize(&mut raw);
            zeroize::Zeroize::zeroize(&mut code);
        }
        Ok((shown, PendingSet { key_id: self.current, inputs }))
    }

    /// [`RecoveryCodes::generate`] and the hashing in one call, on this thread (a server
    /// hashes through its pool instead).
    ///
    /// # Errors
    /// The hasher's errors.
    pub fn generate_with<R: CryptoRng + ?Sized>(
        &self,
        hasher: &PasswordHasher,
        count: usize,
        rng: &mut R,
    ) -> Result<(Vec<RecoveryCode>, RecoveryCodeSet)> {
        let (shown, pending) = self.generate(count, rng)?;
        let key_id = pending.key_id;
        let hashes = pending
            .into_inputs()
            .iter()
            .map(|input| hasher.hash(input, rng))
            .collect::<Result<Vec<_>>>()?;
        Ok((shown, RecoveryCodeSet::from_hashes(key_id, hashes)?))
    }

    /// The hasher's input for a code: its keyed tag, so the stored hash cannot be attacked
    /// without the server key.
    fn input(&self, key_id: u32, code: &[u8; CODE_LEN]) -> Result<Password> {
        let mut out = [0u8; 32];
        if let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == key_id) {
            let mut ctx = hmac::Context::with_key(key);
            ctx.update(b"mfa-recovery/v2\0");
            ctx.update(code);
            out.copy_from_slice(ctx.sign().as_ref());
        }
        let input = Password::new(&B64.encode(out));
        zeroize::Zeroize::zeroize(&mut out);
        input
    }

    /// Checks the shape of a typed code and finds its slot: for a set of this version the
    /// result names the one hash to verify (through a pool); for a set of the earlier version
    /// the keyed tags are compared here, every slot in constant time.
    ///
    /// # Errors
    /// [`Error::RecoveryCodeMalformed`] (wrong length or characters),
    /// [`Error::RecoveryCodeUsed`], [`Error::RecoveryCodeInvalid`], or
    /// [`Error::UnknownKeyId`] if the set's key is not in the ring.
    pub fn check(&self, set: &RecoveryCodeSet, input: &str) -> Result<Check> {
        match &set.kind {
            SetKind::Hashed { slots } => {
                let code = normalize(input)?;
                if !self.keys.iter().any(|(id, _)| *id == set.key_id) {
                    return Err(Error::UnknownKeyId);
                }
                let index = ALPHABET
                    .iter()
                    .position(|&c| c == code[0])
                    .ok_or(Error::RecoveryCodeMalformed)?;
                match slots.get(index) {
                    None => Err(Error::RecoveryCodeInvalid),
                    Some(None) => Err(Error::RecoveryCodeUsed),
                    Some(Some(stored)) => Ok(Check::Verify {
                        index,
                        input: self.input(set.key_id, &code)?,
                        stored: stored.clone(),
                    }),
                }
            }
            SetKind::Legacy { salt, slots } => {
                let code = normalize_legacy(input)?;
                if !self.legacy.iter().any(|(id, _)| *id == set.key_id) {
                    return Err(Error::UnknownKeyId);
                }
                let tag = self.legacy_tag(set.key_id, salt, &code);
                let mut found = Choice::from(0);
                let mut found_used = Choice::from(0);
                let mut index = 0u64;
                for (i, (stored, used)) in slots.iter().enumerate() {
                    let hit = stored.ct_eq(&tag);
                    let used = Choice::from(u8::from(*used));
                    found |= hit & !used;
                    found_used |= hit & used;
                    index.conditional_assign(&(i as u64), hit & !used);
                }
                if bool::from(found) {
                    let index = usize::try_from(index).map_err(|_| Error::RecoveryCodeInvalid)?;
                    return Ok(Check::Matched { index });
                }
                Err(if bool::from(found_used) {
                    Error::RecoveryCodeUsed
                } else {
                    Error::RecoveryCodeInvalid
                })
            }
        }
    }

    /// Consumes a code on this thread: [`RecoveryCodes::check`], the one verification, and
    /// [`RecoveryCodeSet::mark_used`]. Persist the updated set atomically (compare-and-swap
    /// on the old stored form, see `mfa-flow`), so two requests cannot both use it.
    ///
    /// # Errors
    /// As [`RecoveryCodes::check`], and the hasher's errors other than a mismatch.
    pub fn consume_with(
        &self,
        hasher: &PasswordHasher,
        set: &mut RecoveryCodeSet,
        input: &str,
    ) -> Result<Consumed> {
        let index = match self.check(set, input)? {
            Check::Matched { index } => index,
            Check::Verify { index, input, stored } => match hasher.verify(&input, &stored) {
                Ok(_) => index,
                Err(Error::PasswordMismatch) => return Err(Error::RecoveryCodeInvalid),
                Err(e) => return Err(e),
            },
        };
        set.mark_used(index)
    }

    fn legacy_tag(&self, key_id: u32, salt: &[u8; 16], code: &[u8; LEGACY_CODE_LEN]) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Some((_, key)) = self.legacy.iter().find(|(id, _)| *id == key_id) {
            let mut ctx = hmac::Context::with_key(key);
            ctx.update(b"mfa-recovery\0");
            ctx.update(salt);
            ctx.update(code);
            out.copy_from_slice(ctx.sign().as_ref());
        }
        out
    }

    /// A set of the earlier version (`rc1$`), for tests of the upgrade path: the codes and
    /// the set as earlier versions stored them.
    #[doc(hidden)]
    pub fn generate_legacy<R: CryptoRng + ?Sized>(
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
            let mut raw = [0u8; LEGACY_CODE_LEN];
            rng.fill_bytes(&mut raw);
            let code: [u8; LEGACY_CODE_LEN] = raw.map(|b| ALPHABET[usize::from(b & 31)]);
            slots.push((self.legacy_tag(self.current, &salt, &code), false));
            let (a, b) = code.split_at(5);
            let text = format!("{}-{}", String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            shown.push(RecoveryCode(SecretString::new(text)));
        }
        (shown, RecoveryCodeSet { key_id: self.current, kind: SetKind::Legacy { salt, slots } })
    }
}

/// Normalizes typed input: drops spaces and dashes, lower-cases, reads `o`→`0`, `i`/`l`→`1`.
///
/// # Errors
/// [`Error::RecoveryCodeMalformed`] if the result is not 15 characters of the alphabet.
pub fn normalize(input: &str) -> Result<[u8; CODE_LEN]> {
    normalize_n(input)
}

/// [`normalize`] for the 10-character codes of sets stored by earlier versions.
///
/// # Errors
/// [`Error::RecoveryCodeMalformed`] if the result is not 10 characters of the alphabet.
pub fn normalize_legacy(input: &str) -> Result<[u8; LEGACY_CODE_LEN]> {
    normalize_n(input)
}

fn normalize_n<const N: usize>(input: &str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
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
        if !ALPHABET.contains(&b) || n == N {
            return Err(Error::RecoveryCodeMalformed);
        }
        out[n] = b;
        n += 1;
    }
    if n != N {
        return Err(Error::RecoveryCodeMalformed);
    }
    Ok(out)
}
