//! Passwords, recovery codes and sealed secrets for servers that run a modern account policy.
//!
//! ```
//! use mfa_credentials::{
//!     HashParams, KeyRing, Password, PasswordContext, PasswordHasher, PasswordPolicy,
//!     PasswordRole, RecoveryCodes, SecretBytes, Sealer,
//! };
//! # use rand_core::SeedableRng;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut rng = rand_chacha::ChaCha20Rng::from_seed([0; 32]);
//! // Time and randomness are parameters: pass your CSPRNG (here a seeded one).
//! let hasher = PasswordHasher::builder().params(HashParams::DANGER_TEST_MINIMUM).build()?;
//!
//! // Sign-up: check the policy, then hash.
//! let password = Password::new("glacier tulip 42 orbit")?;
//! PasswordPolicy::new(PasswordRole::MultiFactor).check(&password, &PasswordContext::default())?;
//! let stored = hasher.hash(&password, &mut rng)?;
//!
//! // Login: verify; rehash when asked (an imported bcrypt hash, older parameters …).
//! let verified = hasher.verify(&password, &stored)?;
//! assert!(verified.rehash.is_none());
//!
//! // Recovery codes: show `shown` once, store `set.to_stored()` (each code hashed).
//! let keys = KeyRing::new(1, SecretBytes::new(vec![0x42; 32]))?;
//! let (shown, set) = RecoveryCodes::new(&keys).generate_with(&hasher, 10, &mut rng)?;
//! assert_eq!((shown.len(), set.remaining()), (10, 10));
//!
//! // Secrets at rest (a TOTP seed) are sealed to their owner and purpose.
//! let blob = Sealer::new(&keys).seal(b"seed", b"account-1", "totp", &mut rng)?;
//! assert_eq!(Sealer::new(&keys).open(&blob, b"account-1", "totp")?.expose_secret(), b"seed");
//! # Ok(()) }
//! ```
//!
//! # What is here
//! - [`PasswordHasher`]: argon2id (OWASP parameters by default) in PHC strings, optional
//!   [`Pepper`] with key ids, verification that says when to rehash ([`RehashReason`]),
//!   bcrypt imports (feature `legacy-bcrypt`, on by default), limits on stored parameters,
//!   and [`PasswordHasher::verify_unknown_account`] so unknown accounts cost the same time.
//! - [`HashingPool`]: N workers that each own one argon2 buffer; a request waits for one at
//!   most `max_wait` (else [`Error::Busy`]); a burst of logins cannot exhaust memory.
//! - [`PasswordPolicy`]: NIST SP 800-63B-4 rules (length in code points after NFKC, a
//!   [`Blocklist`] with the 19,640 most common passwords built in, context words).
//! - [`RecoveryCodes`]: single-use codes of 70 bits with a public slot character, stored
//!   as salted argon2id hashes of keyed tags (one hash per verification).
//! - [`Sealer`]: AEAD sealing bound to owner and purpose, with rotating [`KeyRing`] keys.
//! - [`SecretBytes`], [`SecretString`]: redacted `Debug`, zeroized on drop, constant-time `==`.
//!
//! # Features
//! - `legacy-bcrypt` (default): verify `$2a$`/`$2b$`/`$2y$` hashes, always flagged for upgrade.
//!
//! The crate does no I/O and reads neither the clock nor the OS random generator.
#![forbid(unsafe_code)]

mod breached;
mod error;
mod keys;
mod password;
mod policy;
mod pool;
pub mod recovery;
mod seal;
mod secret;

pub use breached::{BreachFileError, BreachedPasswords};
pub use error::{Error, HashFormatError, Result};
pub use keys::KeyRing;
pub use password::{
    HashParams, HashWork, ParamLimits, Password, PasswordHasher, PasswordHasherBuilder, Pepper,
    RehashReason, Verified,
};
pub use policy::{
    AnyBlocklist, Blocklist, CommonPasswords, ContextWord, PasswordContext, PasswordPolicy,
    PasswordRole, PolicyViolation,
};
pub use pool::{HashingPool, Pending, PoolConfig, PoolStats};
pub use recovery::{Check, Consumed, PendingSet, RecoveryCode, RecoveryCodeSet, RecoveryCodes};
pub use seal::Sealer;
pub use secret::{SecretBytes, SecretString};

impl From<PolicyViolation> for Box<dyn std::error::Error> {
    fn from(v: PolicyViolation) -> Self {
        Box::from(v.to_string())
    }
}
