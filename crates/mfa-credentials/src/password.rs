//! Password hashing with argon2id, verification of stored hashes, rehash decisions.

use core::fmt;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, KeyId, Params, Version};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, Zeroizing};

use crate::secret::SecretBytes;
use crate::{Error, HashFormatError, Result};

/// A password as the user typed it, with its NFKC form.
///
/// Passwords are normalized to Unicode NFKC before hashing (NIST SP 800-63B-4 §3.1.1.2), so
/// the same password typed on two keyboards that emit different code points verifies. Input
/// longer than [`Password::MAX_INPUT_BYTES`] is refused *before* normalization or hashing.
/// The text is zeroized on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct Password {
    raw: Zeroizing<String>,
    nfkc: Zeroizing<String>,
}

impl Password {
    /// The largest input accepted, in bytes (a policy maximum of 64 code points or more fits
    /// easily; this bound only stops abuse such as a 1 MiB "password").
    pub const MAX_INPUT_BYTES: usize = 1024;

    /// Takes a password as typed.
    ///
    /// # Errors
    /// [`Error::PasswordEmpty`] for an empty input, [`Error::PasswordTooLong`] past
    /// [`Password::MAX_INPUT_BYTES`].
    pub fn new(input: &str) -> Result<Self> {
        if input.is_empty() {
            return Err(Error::PasswordEmpty);
        }
        if input.len() > Self::MAX_INPUT_BYTES {
            return Err(Error::PasswordTooLong { max: Self::MAX_INPUT_BYTES });
        }
        let nfkc: String = input.nfkc().collect();
        Ok(Self { raw: Zeroizing::new(input.to_owned()), nfkc: Zeroizing::new(nfkc) })
    }

    /// The NFKC-normalized text: what is hashed and what the policy counts.
    #[must_use]
    pub fn expose_normalized(&self) -> &str {
        &self.nfkc
    }

    /// The text exactly as typed (used only to verify legacy hashes made elsewhere).
    #[must_use]
    pub fn expose_as_typed(&self) -> &str {
        &self.raw
    }

    /// Length in Unicode code points after normalization.
    #[must_use]
    pub fn char_count(&self) -> usize {
        self.nfkc.chars().count()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (m).
    pub m_kib: u32,
    /// Iterations (t).
    pub t: u32,
    /// Lanes (p). More lanes do not add logins per second on a busy server; keep 1.
    pub p: u32,
}

impl HashParams {
    /// OWASP's argon2id recommendation: m = 19456 KiB (19 MiB), t = 2, p = 1.
    pub const OWASP: Self = Self { m_kib: 19 * 1024, t: 2, p: 1 };

    /// ⚠️ Minimal parameters that make tests fast. Never use them for real passwords.
    pub const DANGER_TEST_MINIMUM: Self = Self { m_kib: 64, t: 1, p: 1 };

    fn to_argon2(self, keyid: Option<&[u8]>) -> Result<Params> {
        let mut b = argon2::ParamsBuilder::new();
        b.m_cost(self.m_kib).t_cost(self.t).p_cost(self.p).output_len(OUTPUT_LEN);
        if let Some(id) = keyid {
            b.keyid(KeyId::new(id).map_err(|_| Error::InvalidConfig)?);
        }
        b.build().map_err(|_| Error::InvalidConfig)
    }

    /// Whether `self` is at least as strong as `other` in every dimension that costs an
    /// attacker (memory and time; lanes do not).
    fn at_least(self, other: Self) -> bool {
        self.m_kib >= other.m_kib && self.t >= other.t
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Upper bounds on the parameters a *stored* hash may ask for. A hash beyond them is refused
/// with [`Error::ParamsOutOfBounds`] instead of allocating gigabytes or spinning for hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamLimits {
    /// Largest argon2 m (KiB). Default 256 MiB.
    pub max_m_kib: u32,
    /// Largest argon2 t. Default 16.
    pub max_t: u32,
    /// Largest argon2 p. Default 16.
    pub max_p: u32,
    /// Largest bcrypt cost. Default 14 (about 1 s).
    pub max_bcrypt_cost: u32,
}

impl Default for ParamLimits {
    fn default() -> Self {
        Self { max_m_kib: 256 * 1024, max_t: 16, max_p: 16, max_bcrypt_cost: 14 }
    }
}

/// Why a hash that verified should be replaced by a fresh one (hash the same password again
/// with [`PasswordHasher::hash`] and store it, on this successful login).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RehashReason {
    /// A legacy algorithm (bcrypt imported from another system).
    LegacyAlgorithm,
    /// argon2i or argon2d, or argon2 version 0x10.
    WeakerArgon2Variant,
    /// Cost parameters below the current ones.
    WeakerParams,
    /// Made with an older pepper, or without the pepper now configured.
    PepperRotated,
    /// Made with a pepper while none is configured now (recoverable only while the old pepper
    /// stays configured).
    PepperRemoved,
    /// A bcrypt hash verified an input longer than 72 bytes: bcrypt ignored everything after
    /// byte 72, so any input sharing those bytes verifies. Do **not** rehash what was typed
    /// (that would bless an unchecked suffix): ask the user for a new password instead.
    LegacyTruncated,
}

/// A successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a stored hash that needs an upgrade should be replaced on this login"]
pub struct Verified {
    /// `Some` when the stored hash should be replaced by a fresh one.
    pub rehash: Option<RehashReason>,
}

const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;
const ARGON2ID: &str = "argon2id";

/// A pepper: a server-side secret mixed into every argon2id hash (argon2's "secret" input),
/// named by a key id of 1–8 bytes that is written into the PHC string (`keyid=`), so peppers
/// can rotate: verify with the old one, rehash with the new one.
pub struct Pepper {
    id: Vec<u8>,
    secret: SecretBytes,
}

impl Pepper {
    /// A pepper with its id (1–8 bytes, e.g. `b"p2026"`). Use at least 32 random bytes.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if the id is empty or longer than 8 bytes, or the secret is
    /// shorter than 16 bytes.
    pub fn new(id: &[u8], secret: SecretBytes) -> Result<Self> {
        if id.is_empty() || id.len() > Params::MAX_KEYID_LEN || secret.len() < 16 {
            return Err(Error::InvalidKey);
        }
        Ok(Self { id: id.to_vec(), secret })
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Hashes and verifies passwords. Cheap to share (`&self` everywhere); build once.
///
/// ```
/// use mfa_credentials::{HashParams, Password, PasswordHasher};
/// # fn main() -> Result<(), mfa_credentials::Error> {
/// # let mut rng = rand_chacha::ChaCha20Rng::from_seed([7; 32]);
/// # use rand_core::SeedableRng;
/// let hasher = PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build()?;
/// let stored = hasher.hash(&Password::new("correct horse battery staple")?, &mut rng)?;
/// assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
/// let ok = hasher.verify(&Password::new("correct horse battery staple")?, &stored)?;
/// assert_eq!(ok.rehash, None);
/// assert!(hasher.verify(&Password::new("wrong")?, &stored).is_err());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PasswordHasher {
    params: HashParams,
    limits: ParamLimits,
    current_pepper: Option<usize>,
    peppers: Vec<Pepper>,
    /// One argon2 buffer, allocated at the first use and reused by whichever call finds it
    /// free (a call that finds it busy uses a temporary buffer): at most one buffer of the
    /// current parameters' size per hasher. It is wiped after every hash like any other.
    /// For concurrent hashing use the [`crate::HashingPool`], whose workers own theirs.
    spare: std::sync::Mutex<Option<Workspace>>,
    /// What the hasher has spent, for tests and metrics.
    runs: std::sync::atomic::AtomicU64,
    kib_passes: std::sync::atomic::AtomicU64,
}

/// What a [`PasswordHasher`] has spent so far: argon2 runs, and their memory-time cost (the
/// sum of memory in KiB × passes), so a test can compare two paths' work exactly instead of
/// timing them on a shared machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashWork {
    /// argon2 runs.
    pub runs: u64,
    /// Σ m (KiB) × t over those runs.
    pub kib_passes: u64,
}

impl core::ops::Sub for HashWork {
    type Output = Self;

    fn sub(self, rhs: Self) -> Self {
        Self {
            runs: self.runs.saturating_sub(rhs.runs),
            kib_passes: self.kib_passes.saturating_sub(rhs.kib_passes),
        }
    }
}

/// Builds a [`PasswordHasher`].
#[derive(Debug, Default)]
pub struct PasswordHasherBuilder {
    params: HashParams,
    limits: ParamLimits,
    current: Option<Pepper>,
    old: Vec<Pepper>,
}

impl PasswordHasherBuilder {
    /// Cost parameters for new hashes (default [`HashParams::OWASP`]).
    #[must_use]
    pub fn params(mut self, params: HashParams) -> Self {
        self.params = params;
        self
    }

    /// Limits on stored hashes' parameters (default [`ParamLimits::default`]).
    #[must_use]
    pub fn limits(mut self, limits: ParamLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The pepper for new hashes.
    #[must_use]
    pub fn pepper(mut self, pepper: Pepper) -> Self {
        self.current = Some(pepper);
        self
    }

    /// An older pepper, still accepted for verification (hashes made with it are flagged
    /// [`RehashReason::PepperRotated`]).
    #[must_use]
    pub fn old_pepper(mut self, pepper: Pepper) -> Self {
        self.old.push(pepper);
        self
    }

    /// Builds the hasher.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the parameters are invalid for argon2 or beyond the limits,
    /// [`Error::InvalidKey`] if two peppers share an id.
    pub fn build(self) -> Result<PasswordHasher> {
        let p = self.params;
        if p.m_kib > self.limits.max_m_kib || p.t > self.limits.max_t || p.p > self.limits.max_p {
            return Err(Error::InvalidConfig);
        }
        p.to_argon2(None)?;
        let mut peppers = self.old;
        let current_pepper = self.current.map(|c| {
            peppers.push(c);
            peppers.len() - 1
        });
        for (i, a) in peppers.iter().enumerate() {
            if peppers.iter().skip(i + 1).any(|b| b.id == a.id) {
                return Err(Error::InvalidKey);
            }
        }
        Ok(PasswordHasher {
            params: p,
            limits: self.limits,
            current_pepper,
            peppers,
            spare: std::sync::Mutex::new(None),
            runs: std::sync::atomic::AtomicU64::new(0),
            kib_passes: std::sync::atomic::AtomicU64::new(0),
        })
    }
}

/// A stored hash, parsed and checked against the limits.
enum Stored {
    Argon2 {
        hash: Box<PasswordHash>,
        algorithm: Algorithm,
        version: Version,
        params: Params,
    },
    #[cfg(feature = "legacy-bcrypt")]
    Bcrypt,
}

impl PasswordHasher {
    /// A builder with OWASP parameters and no pepper.
    #[must_use]
    pub fn builder() -> PasswordHasherBuilder {
        PasswordHasherBuilder::default()
    }

    /// The parameters new hashes are made with.
    #[must_use]
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// Number of argon2 memory blocks (1 KiB each) one hash at the current parameters uses.
    #[must_use]
    pub fn block_count(&self) -> usize {
        self.current_argon2_params().map_or(0, |p| p.block_count())
    }

    fn current_argon2_params(&self) -> Result<Params> {
        let keyid = self.current_pepper.and_then(|i| self.peppers.get(i)).map(|p| &p.id[..]);
        self.params.to_argon2(keyid)
    }

    fn current_secret(&self) -> Option<&[u8]> {
        self.current_pepper.and_then(|i| self.peppers.get(i)).map(|p| p.secret.expose_secret())
    }

    /// Runs argon2id v1.3 with the current parameters and pepper into `out`; returns the
    /// parameters used. The one way a new hash, and the unknown-account verification that
    /// must cost the same, are computed.
    fn count(&self, params: &Params) {
        use std::sync::atomic::Ordering::Relaxed;
        self.runs.fetch_add(1, Relaxed);
        self.kib_passes.fetch_add(u64::from(params.m_cost()) * u64::from(params.t_cost()), Relaxed);
    }

    /// What this hasher has spent so far (argon2 runs and their memory-time cost).
    #[must_use]
    pub fn work(&self) -> HashWork {
        use std::sync::atomic::Ordering::Relaxed;
        HashWork { runs: self.runs.load(Relaxed), kib_passes: self.kib_passes.load(Relaxed) }
    }

    fn argon2_current(
        &self,
        password: &Password,
        salt: &[u8],
        out: &mut [u8],
        ws: &mut Workspace,
    ) -> Result<Params> {
        let params = self.current_argon2_params()?;
        self.count(&params);
        ws.argon2(
            Algorithm::Argon2id,
            Version::V0x13,
            &params,
            self.current_secret(),
            password.expose_normalized().as_bytes(),
            salt,
            out,
        )?;
        Ok(params)
    }

    /// Hashes a password with a fresh 128-bit salt from `rng`, as a PHC string
    /// (`$argon2id$v=19$m=19456,t=2,p=1[,keyid=..]$salt$hash`).
    ///
    /// # Errors
    /// Only on an internal argon2 failure ([`Error::InvalidConfig`]).
    pub fn hash<R: CryptoRng + ?Sized>(&self, password: &Password, rng: &mut R) -> Result<String> {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        self.with_spare(|ws| self.hash_with_salt(password, &salt, ws))
    }

    /// Runs `f` with the hasher's reusable buffer if it is free, else with a temporary one.
    fn with_spare<T>(&self, f: impl FnOnce(&mut Workspace) -> T) -> T {
        match self.spare.try_lock() {
            Ok(mut guard) => {
                let ws = guard.get_or_insert_with(|| Workspace::preallocated(self.block_count()));
                f(ws)
            }
            Err(_) => f(&mut Workspace::default()),
        }
    }

    /// Hashes with a given salt into caller-owned memory: the path the [`crate::HashingPool`]
    /// uses, and the one known-answer tests pin.
    pub(crate) fn hash_with_salt(
        &self,
        password: &Password,
        salt: &[u8; SALT_LEN],
        ws: &mut Workspace,
    ) -> Result<String> {
        let mut out = [0u8; OUTPUT_LEN];
        let params = self.argon2_current(password, salt, &mut out, ws)?;
        let phc = PasswordHash {
            algorithm: ARGON2ID.try_into().map_err(|_| Error::InvalidConfig)?,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|_| Error::InvalidConfig)?,
            salt: Some(Salt::new(salt).map_err(|_| Error::InvalidConfig)?),
            hash: Some(Output::new(&out).map_err(|_| Error::InvalidConfig)?),
        };
        Ok(phc.to_string())
    }

    /// Verifies a password against a stored hash (argon2id/i/d PHC strings; bcrypt `$2a$`,
    /// `$2b$`, `$2y$` with the `legacy-bcrypt` feature) and says whether to rehash.
    ///
    /// # Errors
    /// [`Error::PasswordMismatch`] for a wrong password; [`Error::MalformedHash`],
    /// [`Error::UnsupportedAlgorithm`], [`Error::ParamsOutOfBounds`] or
    /// [`Error::UnknownPepper`] for a stored string this hasher cannot check.
    pub fn verify(&self, password: &Password, stored: &str) -> Result<Verified> {
        self.with_spare(|ws| self.verify_in(password, stored, ws))
    }

    pub(crate) fn verify_in(
        &self,
        password: &Password,
        stored: &str,
        ws: &mut Workspace,
    ) -> Result<Verified> {
        match self.parse(stored)? {
            Stored::Argon2 { hash, algorithm, version, params } => {
                let keyid = params.keyid();
                let secret = if keyid.is_empty() {
                    None
                } else {
                    let pepper = self.peppers.iter().find(|p| p.id == keyid);
                    Some(pepper.ok_or(Error::UnknownPepper)?.secret.expose_secret())
                };
                let salt = hash.salt.as_ref().ok_or(Error::MalformedHash(HashFormatError::Salt))?;
                let expected =
                    hash.hash.as_ref().ok_or(Error::MalformedHash(HashFormatError::Output))?;
                let mut out = Zeroizing::new(vec![0u8; expected.len()]);
                self.count(&params);
                ws.argon2(
                    algorithm,
                    version,
                    &params,
                    secret,
                    password.expose_normalized().as_bytes(),
                    salt,
                    &mut out,
                )?;
                if !bool::from(out.ct_eq(expected.as_bytes())) {
                    return Err(Error::PasswordMismatch);
                }
                Ok(Verified { rehash: self.rehash_reason(algorithm, version, &params) })
            }
            #[cfg(feature = "legacy-bcrypt")]
            Stored::Bcrypt => {
                // bcrypt hashes come from another system, made over the bytes as typed.
                let typed = password.expose_as_typed().as_bytes();
                match bcrypt::verify(typed, stored) {
                    Ok(true) if typed.len() > 72 => {
                        Ok(Verified { rehash: Some(RehashReason::LegacyTruncated) })
                    }
                    Ok(true) => Ok(Verified { rehash: Some(RehashReason::LegacyAlgorithm) }),
                    Ok(false) => Err(Error::PasswordMismatch),
                    Err(_) => Err(Error::MalformedHash(HashFormatError::Syntax)),
                }
            }
        }
    }

    /// The path for a login whose account does not exist: does the same work as verifying a
    /// hash made with the current parameters and pepper, then answers
    /// [`Error::PasswordMismatch`]. Unknown accounts and wrong passwords are then
    /// indistinguishable by answer and by time.
    ///
    /// # Errors
    /// Always [`Error::PasswordMismatch`] (or [`Error::InvalidConfig`] on an internal failure).
    pub fn verify_unknown_account(&self, password: &Password) -> Result<Verified> {
        self.with_spare(|ws| self.verify_unknown_account_in(password, ws))
    }

    pub(crate) fn verify_unknown_account_in(
        &self,
        password: &Password,
        ws: &mut Workspace,
    ) -> Result<Verified> {
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        self.argon2_current(password, &DUMMY_SALT, &mut *out, ws)?;
        // Compare as a real verify would, against an output no password produces on purpose.
        let _ = out.ct_eq(&DUMMY_OUTPUT);
        Err(Error::PasswordMismatch)
    }

    /// Whether a stored hash should be replaced, without verifying a password (for example to
    /// report how many accounts still carry legacy hashes).
    ///
    /// # Errors
    /// As [`PasswordHasher::verify`] for a stored string this hasher cannot check.
    pub fn needs_rehash(&self, stored: &str) -> Result<Option<RehashReason>> {
        Ok(match self.parse(stored)? {
            Stored::Argon2 { algorithm, version, params, .. } => {
                self.rehash_reason(algorithm, version, &params)
            }
            #[cfg(feature = "legacy-bcrypt")]
            Stored::Bcrypt => Some(RehashReason::LegacyAlgorithm),
        })
    }

    fn rehash_reason(
        &self,
        algorithm: Algorithm,
        version: Version,
        params: &Params,
    ) -> Option<RehashReason> {
        if algorithm != Algorithm::Argon2id || version != Version::V0x13 {
            return Some(RehashReason::WeakerArgon2Variant);
        }
        let stored = HashParams { m_kib: params.m_cost(), t: params.t_cost(), p: params.p_cost() };
        if !stored.at_least(self.params) {
            return Some(RehashReason::WeakerParams);
        }
        let current_id = self.current_pepper.and_then(|i| self.peppers.get(i)).map(|p| &p.id[..]);
        match (params.keyid(), current_id) {
            (b"", None) => None,
            (_, None) => Some(RehashReason::PepperRemoved),
            (stored_id, Some(cur)) if stored_id != cur => Some(RehashReason::PepperRotated),
            _ => None,
        }
    }

    fn parse(&self, stored: &str) -> Result<Stored> {
        if let Some(rest) = stored.strip_prefix("$2") {
            return self.parse_bcrypt(rest);
        }
        // Name the scheme before parsing, so `$1$…`, `$6$…` or `$scrypt$…` (not all strict
        // PHC) are reported as what they are: another algorithm, not a corrupt string.
        let ident = stored.strip_prefix('$').and_then(|r| r.split('$').next()).unwrap_or("");
        let known_shape = !ident.is_empty()
            && ident.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if known_shape && !matches!(ident, "argon2id" | "argon2i" | "argon2d") {
            return Err(Error::UnsupportedAlgorithm);
        }
        let hash =
            PasswordHash::new(stored).map_err(|_| Error::MalformedHash(HashFormatError::Syntax))?;
        let algorithm = match hash.algorithm.as_str() {
            "argon2id" => Algorithm::Argon2id,
            "argon2i" => Algorithm::Argon2i,
            "argon2d" => Algorithm::Argon2d,
            _ => return Err(Error::UnsupportedAlgorithm),
        };
        let version = match hash.version {
            None | Some(0x13) => Version::V0x13,
            Some(0x10) => Version::V0x10,
            Some(_) => return Err(Error::MalformedHash(HashFormatError::Version)),
        };
        // Each parameter once, and only those argon2 knows: with a duplicate, a check of the
        // first occurrence would pass `m=64,…,m=4194304` while argon2 uses the last.
        let mut seen: Vec<&'static str> = Vec::with_capacity(4);
        for (name, _) in hash.params.iter() {
            let Some(name) =
                ["m", "t", "p", "keyid", "data"].into_iter().find(|n| *n == name.as_str())
            else {
                return Err(Error::MalformedHash(HashFormatError::Params));
            };
            if seen.contains(&name) {
                return Err(Error::MalformedHash(HashFormatError::Params));
            }
            seen.push(name);
        }
        if !["m", "t", "p"].iter().all(|n| seen.contains(n)) {
            return Err(Error::MalformedHash(HashFormatError::Params));
        }
        // The bounds are checked on the parameters argon2 will use (`Params::try_from` builds
        // them without allocating; it accepts m = 4 GiB).
        let params =
            Params::try_from(&hash).map_err(|_| Error::MalformedHash(HashFormatError::Params))?;
        if params.m_cost() > self.limits.max_m_kib
            || params.t_cost() > self.limits.max_t
            || params.p_cost() > self.limits.max_p
        {
            return Err(Error::ParamsOutOfBounds);
        }
        let salt_len = hash.salt.as_ref().map_or(0, |s| s.len());
        if !(argon2::MIN_SALT_LEN..=64).contains(&salt_len) {
            return Err(Error::MalformedHash(HashFormatError::Salt));
        }
        let out_len = hash.hash.as_ref().map_or(0, Output::len);
        if !(Params::MIN_OUTPUT_LEN..=64).contains(&out_len) {
            return Err(Error::MalformedHash(HashFormatError::Output));
        }
        Ok(Stored::Argon2 { hash: Box::new(hash), algorithm, version, params })
    }

    #[cfg(feature = "legacy-bcrypt")]
    fn parse_bcrypt(&self, rest: &str) -> Result<Stored> {
        // `$2a$`, `$2b$`, `$2y$`, two-digit cost, `$`, 53 characters of salt and hash.
        let b = rest.as_bytes();
        let syntax = Error::MalformedHash(HashFormatError::Syntax);
        if b.len() != 1 + 1 + 2 + 1 + 53 || !matches!(b[0], b'a' | b'b' | b'y') {
            return Err(if b.first() == Some(&b'x') {
                Error::UnsupportedAlgorithm
            } else {
                syntax
            });
        }
        if b[1] != b'$' || b[4] != b'$' || !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
            return Err(syntax);
        }
        let cost = u32::from(b[2] - b'0') * 10 + u32::from(b[3] - b'0');
        if !(4..=31).contains(&cost) {
            return Err(Error::MalformedHash(HashFormatError::Params));
        }
        if cost > self.limits.max_bcrypt_cost {
            return Err(Error::ParamsOutOfBounds);
        }
        let bcrypt64 = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'/');
        if !b[5..].iter().all(bcrypt64) {
            return Err(syntax);
        }
        Ok(Stored::Bcrypt)
    }

    #[cfg(not(feature = "legacy-bcrypt"))]
    fn parse_bcrypt(&self, _rest: &str) -> Result<Stored> {
        Err(Error::UnsupportedAlgorithm)
    }
}

const DUMMY_SALT: [u8; SALT_LEN] = *b"mfa-no-such-user";
const DUMMY_OUTPUT: [u8; OUTPUT_LEN] = [0x5a; OUTPUT_LEN];

/// argon2 working memory that can be kept between hashes (one per pool worker), so a burst of
/// logins reuses the same pages instead of asking the allocator for 19 MiB each time.
#[derive(Default)]
pub(crate) struct Workspace {
    blocks: Vec<Block>,
    /// Whether `blocks` is an owned, preallocated buffer to keep (a pool worker's), or a
    /// temporary to release after each hash.
    keep: bool,
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workspace").field("blocks", &self.blocks.len()).finish()
    }
}

impl Workspace {
    /// A buffer of `blocks` argon2 blocks, allocated now and kept.
    pub(crate) fn preallocated(blocks: usize) -> Self {
        Self { blocks: vec![Block::default(); blocks], keep: true }
    }

    #[allow(clippy::too_many_arguments)]
    fn argon2(
        &mut self,
        algorithm: Algorithm,
        version: Version,
        params: &Params,
        secret: Option<&[u8]>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let ctx = match secret {
            Some(s) => Argon2::new_with_secret(s, algorithm, version, params.clone())
                .map_err(|_| Error::InvalidConfig)?,
            None => Argon2::new(algorithm, version, params.clone()),
        };
        let need = params.block_count();
        // The first blocks of each lane are a cheap function of the password (one BLAKE2b):
        // whoever could read them could test guesses without the memory-hard work. argon2
        // does not wipe its memory, so every buffer is wiped here after use.
        let result = if need <= self.blocks.len() {
            let blocks = &mut self.blocks[..need];
            let r = ctx.hash_password_into_with_memory(password, salt, out, &mut *blocks);
            blocks.iter_mut().for_each(Zeroize::zeroize);
            r
        } else {
            // A stored hash with more memory than this buffer: allocate for this hash only,
            // so an owned buffer never grows past what the pool was sized for.
            let mut temp = vec![Block::default(); need];
            let r = ctx.hash_password_into_with_memory(password, salt, out, &mut temp[..]);
            temp.iter_mut().for_each(Zeroize::zeroize);
            r
        };
        if !self.keep {
            self.blocks = Vec::new();
        }
        result.map_err(|_| Error::InvalidConfig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9106 §5.3, the argon2id test vector, through the same memory path the hasher and
    /// the pool use: a temporary buffer, then an owned one reused twice.
    #[test]
    fn rfc9106_argon2id_vector() {
        const TAG: [u8; 32] = [
            0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c, 0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b,
            0x53, 0xc9, 0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e, 0xb5, 0x25, 0x20, 0xe9,
            0x6b, 0x01, 0xe6, 0x59,
        ];
        let mut b = argon2::ParamsBuilder::new();
        b.m_cost(32).t_cost(3).p_cost(4).output_len(32);
        b.data(argon2::AssociatedData::new(&[4; 12]).unwrap());
        let params = b.build().unwrap();
        let run = |ws: &mut Workspace| {
            let mut out = [0u8; 32];
            ws.argon2(
                Algorithm::Argon2id,
                Version::V0x13,
                &params,
                Some(&[3; 8]),
                &[1; 32],
                &[2; 16],
                &mut out,
            )
            .unwrap();
            out
        };
        assert_eq!(run(&mut Workspace::default()), TAG);
        let mut owned = Workspace::preallocated(64);
        assert_eq!(run(&mut owned), TAG);
        assert_eq!(run(&mut owned), TAG, "a reused (wiped) buffer gives the same answer");
        let mut flipped = TAG;
        flipped[0] ^= 1;
        assert_ne!(run(&mut owned), flipped);
    }

    #[test]
    fn owned_buffer_is_wiped_after_each_hash() {
        let hasher =
            PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build().unwrap();
        let mut ws = Workspace::preallocated(hasher.block_count());
        hasher.hash_with_salt(&Password::new("secret pw").unwrap(), &[1; 16], &mut ws).unwrap();
        assert!(ws.blocks.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)));
        assert_eq!(ws.blocks.len(), 64, "kept");
    }
}
